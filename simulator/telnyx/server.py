"""Putting the simulator on the network: in a background thread for tests, or in the foreground.

`TelnyxSimulatorServer` serves it on 127.0.0.1 beside a test (`simulator/serving.py`) and offers
thread-safe entry points to code on another event loop, such as a pytest-asyncio test: the
simulator itself must only be touched from its own loop. `run_simulator` serves it until
interrupted, for `cloudgreet simulator` and `cloudgreet dev`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import uvicorn

from simulator.call_script import CallScript
from simulator.serving import UvicornThread
from simulator.telnyx.app import create_simulator_app
from simulator.telnyx.records import SimulatedCall
from simulator.telnyx.signing import signing_key_from_b64
from simulator.telnyx.simulator import TelnyxSimulator
from simulator.telnyx.texts import ReceivedText

T = TypeVar("T")


class TelnyxSimulatorServer:
    """The simulator served on 127.0.0.1 in a background thread.

    Usable as `with` or `async with`. Code on another thread or event loop (tests) must go
    through `place_call` / `wait_ended` / `run`, which hop onto the server's loop.
    """

    def __init__(self, simulator: TelnyxSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self._runner = UvicornThread(create_simulator_app(simulator), host, port, name="telnyx-simulator")

    @property
    def control_url(self) -> str:
        return self._runner.url

    @property
    def base_url(self) -> str:
        return self._runner.url + "/v2"

    def start(self) -> TelnyxSimulatorServer:
        self._runner.start()
        self.simulator.public_url = self._runner.url
        return self

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> TelnyxSimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> TelnyxSimulatorServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine that must run on the simulator's loop."""
        return await asyncio.wrap_future(self._runner.submit(coro))

    def place_call(self, script: CallScript, timeout: float = 10.0) -> SimulatedCall:
        """Place a call from any thread (or event loop); returns once call.initiated is queued."""
        return self._runner.submit(self.simulator.place_call(script)).result(timeout)

    def expect_outbound_call(self, to_number: str, script: CallScript, timeout: float = 10.0) -> None:
        """From any thread: script who answers our app's next dial to `to_number`."""

        async def expect() -> None:
            self.simulator.expect_outbound_call(to_number, script)

        self._runner.submit(expect()).result(timeout)

    async def wait_for_outbound_call(self, to_number: str, timeout: float) -> SimulatedCall:
        """Await, from another event loop, the next not yet claimed call our app dialled to
        `to_number` (each call is handed out once)."""
        return await self.run(self.simulator.wait_for_outbound_call(to_number, timeout))

    async def receive_text(
        self, from_number: str, to_number: str, text: str, *, duplicate: bool = False
    ) -> ReceivedText:
        """Await, from another event loop, a person's text to our number, delivered to our API."""
        return await self.run(self.simulator.receive_text(from_number, to_number, text, duplicate=duplicate))

    async def wait_ended(self, call: SimulatedCall, timeout: float) -> SimulatedCall:
        """Await, from another event loop, the end of a call (webhooks delivered)."""
        return await self.run(call.wait_ended(timeout))

    async def wait_for(
        self,
        probe: Callable[[], Awaitable[T] | T],
        predicate: Callable[[T], bool],
        timeout: float = 30.0,
        interval: float = 0.05,
    ) -> T:
        """Poll `probe` on the caller's loop until `predicate` holds for its value.

        For watching the app under test mid-call (e.g. a workflow query), where the value
        lives outside the simulator. Errors of the probe count as "not yet".
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: object = None
        while True:
            try:
                value = probe()
                if inspect.isawaitable(value):
                    value = await value
                if predicate(value):
                    return value
                last = value
            except Exception as error:  # noqa: BLE001  (retried until the deadline)
                last = error
            if loop.time() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s; last probe gave {last!r}")
            await asyncio.sleep(interval)


def run_simulator(
    host: str,
    port: int,
    webhook_url: str,
    signing_key_b64: str,
    speech_seconds_per_char: float = 0.03,
    caller_pause_seconds: float = 0.4,
) -> None:
    """Serve the simulator until interrupted (used by `cloudgreet dev`)."""
    simulator = TelnyxSimulator(
        webhook_url,
        signing_key_from_b64(signing_key_b64),
        speech_seconds_per_char=speech_seconds_per_char,
        caller_pause_seconds=caller_pause_seconds,
    )
    simulator.public_url = f"http://{host}:{port}"
    uvicorn.run(create_simulator_app(simulator), host=host, port=port, log_level="info")
