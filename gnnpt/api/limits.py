"""Request body size limit, enforced before the body is parsed (declared length) and while it streams in."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """A request body over the limit (answered 413)."""


class BodyLimit:
    """ASGI middleware: 413 for a ``Content-Length`` over ``max_bytes``; a streamed body that grows past it raises
    :class:`BodyTooLarge` where the app reads it (the app's handler answers 413)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _message(self, size: str | int) -> str:
        return f"the request body ({size} bytes) is over the limit of {self.max_bytes} bytes; send fewer molecules"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            body = (f'{{"detail": "{self._message(int(declared))}"}}').encode()
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
            if received > self.max_bytes:
                raise BodyTooLarge(self._message(f"over {received}"))
            return message

        await self.app(scope, counted, send)
