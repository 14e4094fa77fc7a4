"""The benchmark's receiver: a bare ASGI app (run by uvicorn in its own process) that answers
200 at once and remembers when each delivery arrived; GET returns the log, DELETE clears it."""

from __future__ import annotations

import json
import time
from typing import Any

received: list[list[Any]] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "GET":
        data = json.dumps(received).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})
        return
    if scope["method"] == "DELETE":
        received.clear()
    else:
        headers = dict(scope["headers"])
        n = None
        if body[:1] == b"{":
            try:
                n = json.loads(body).get("n")
            except ValueError:
                n = None
        received.append([time.time(), headers.get(b"webhook-id", b"").decode(), n])
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})
