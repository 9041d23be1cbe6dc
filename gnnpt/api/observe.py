"""Per-request observation as plain ASGI middleware: one JSON access-log line, the request metrics, a request id.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which runs every request through an extra task and
memory streams: for one-molecule requests that wrapper cost about as much as the route itself.
"""

from __future__ import annotations

import logging
import time
import uuid

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gnnpt.api.metrics import Metrics

access_log = logging.getLogger("gnnpt.api.access")


class Observe:
    """Times each HTTP request, counts it by route template, method and status (errors by class), echoes or assigns
    ``x-request-id``, and logs one JSON line: id, method, path, route, status, ms, molecules, client."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = given.decode("latin-1")[:64] or uuid.uuid4().hex[:16]
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - start)

    def _record(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(route, scope["method"], str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        if status >= 400:
            self.metrics.errors.labels(f"http_{status}").inc()
        if access_log.isEnabledFor(logging.INFO):
            client = scope.get("client")
            access_log.info(orjson.dumps({
                "request_id": request_id, "method": scope["method"], "path": scope["path"], "route": route,
                "status": status, "ms": round(1000 * seconds, 2),
                "molecules": (scope.get("state") or {}).get("molecules"), "client": client[0] if client else None,
            }).decode())  # fmt: skip
