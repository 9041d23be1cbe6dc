"""Request body size limit, enforced before the body is parsed (declared length) and while it streams in."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """A request body over the limit (answered 413)."""


class BodyLimit:
    """ASGI middleware: 413 for a ``Content-Length`` over the limit; a streamed body that grows past it raises
    :class:`BodyTooLarge` where the app reads it (the app's handler answers 413). ``prefixes`` give paths starting
    with them another limit (uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int, prefixes: dict[str, int] | None = None):
        self.app, self.max_bytes, self.prefixes = app, max_bytes, prefixes or {}

    def _limit(self, path: str) -> int:
        return next((v for k, v in self.prefixes.items() if path.startswith(k)), self.max_bytes)

    def _message(self, size: str | int, limit: int) -> str:
        return f"the request body ({size} bytes) is over the limit of {limit} bytes; send less data per request"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            body = (f'{{"detail": "{self._message(int(declared), limit)}"}}').encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(self._message(f"over {received}", limit))
            return message

        await self.app(scope, counted, send)
