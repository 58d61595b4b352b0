"""A TCP proxy in front of a server, which a test cuts: a database that hangs rather than refuses.

Cut, the proxy still accepts connections and reads what is sent, but passes nothing on in either
direction, as a network that swallows packets does: a client waits for its own timeouts. Mended,
it drops the connections that lived through the cut (their clients see them reset) and passes
everything again.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

from tests.conftest import free_port


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._passing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._run(self._start()).result(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._run(self._stop()).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def cut(self) -> None:
        self._run(self._cut()).result(10)

    def mend(self) -> None:
        self._run(self._mend()).result(10)

    def _run(self, coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _start(self) -> None:
        self._passing = asyncio.Event()
        self._passing.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        serving = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)

    async def _cut(self) -> None:
        assert self._passing is not None
        self._passing.clear()

    async def _mend(self) -> None:
        assert self._passing is not None
        for writer in list(self._connections):
            writer.transport.abort()
        self._connections.clear()
        self._passing.set()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        assert self._passing is not None
        self._connections.add(client_writer)
        await self._passing.wait()  # a connection made while cut hangs before it reaches the server
        if client_writer.is_closing():
            return
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        self._connections.add(server_writer)
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer), return_exceptions=True
        )
        for writer in (client_writer, server_writer):
            self._connections.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._passing is not None
        while data := await reader.read(65536):
            await self._passing.wait()
            if writer.is_closing():
                return
            writer.write(data)
            await writer.drain()
        writer.close()
