"""The baselines of `cloudgreet bench startup`: the least a Python web process can be.

    uvicorn benchmarks.hello_app:asgi_hello            a bare ASGI app
    uvicorn benchmarks.hello_app:fastapi_hello --factory   FastAPI with one route

FastAPI is imported in the factory, so the bare ASGI app pays for uvicorn alone.
"""

from __future__ import annotations

from typing import Any


async def asgi_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def fastapi_hello() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app
