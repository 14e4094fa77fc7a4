"""A loopback HTTP receiver for delivery tests: an aiohttp server on its own thread whose
behaviour is chosen by the request path, recording every request it gets."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Paths: ``/ok``, ``/status/<n>``, ``/flaky/<name>`` (fails with 503 until ``recover(name)``),
    ``/retry-after/<s>`` (429 with Retry-After once, then 200), ``/redirect`` (301 to a private
    address), ``/huge`` (a 100 MB body), ``/hang-after-headers``, ``/reset`` (connection closed
    without an answer), ``/slow/<s>`` (sleeps, then 200)."""

    requests: list[Received] = field(default_factory=list)
    recovered: set[str] = field(default_factory=set)
    seen_once: set[str] = field(default_factory=set)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def recover(self, name: str) -> None:
        self.recovered.add(name)

    def hits(self, prefix: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.path
        with self._lock:
            self.requests.append(Received(path, dict(request.headers), body, time.time()))
        parts = path.strip("/").split("/")
        kind = parts[0]
        arg = parts[1] if len(parts) > 1 else ""
        if kind == "ok":
            return web.Response(status=200, text="thanks")
        if kind == "status":
            return web.Response(status=int(arg), text=f"status {arg}")
        if kind == "flaky":
            if arg in self.recovered:
                return web.Response(status=200, text="back")
            return web.Response(status=503, text="down")
        if kind == "retry-after":
            if path in self.seen_once:
                return web.Response(status=200)
            self.seen_once.add(path)
            return web.Response(status=429, headers={"Retry-After": arg})
        if kind == "redirect":
            raise web.HTTPMovedPermanently(location="http://10.0.0.1/internal")
        if kind == "huge":
            response = web.StreamResponse(status=200)
            response.content_length = 100 * 1024 * 1024
            await response.prepare(request)
            chunk = b"x" * 65536
            try:
                for _ in range(1600):
                    await response.write(chunk)
            except (ConnectionError, RuntimeError):
                pass
            return response
        if kind == "hang-after-headers":
            response = web.StreamResponse(status=200)
            response.content_length = 1000
            await response.prepare(request)
            await asyncio.sleep(30)
            return response
        if kind == "reset":
            transport = request.transport
            if transport is not None:
                transport.abort()
            await asyncio.sleep(0.1)
            return web.Response(status=200)
        if kind == "slow":
            await asyncio.sleep(float(arg))
            return web.Response(status=200)
        return web.Response(status=404)

    def start(self) -> Receiver:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(
                app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1
            )
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._runner = runner
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
