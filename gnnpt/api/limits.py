"""What a request may take: body size (enforced before the body is parsed, from its declared length, and while it
streams in), and time to send its head and body (uvicorn bounds neither)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gnnpt.api.settings import Settings


class BodyTooLarge(HTTPException):
    """A request body that grows past the limit while it streams in (chunked): 413, as for a declared length.

    An HTTPException so that FastAPI's body parsing passes it on rather than turning it into a 400."""

    def __init__(self, detail: str):
        super().__init__(413, detail)


class BodyTooSlow(HTTPException):
    """A request body still incomplete at its deadline: 408, and the connection is closed."""

    def __init__(self, timeout_s: float):
        super().__init__(408, f"the request body did not arrive within {timeout_s:g} s of its headers; send it at "
                              "once (a stalled or trickling upload is cut off)", {"Connection": "close"})  # fmt: skip


class BodyLimit:
    """ASGI middleware: 413 for a ``Content-Length`` over the limit; a streamed body that grows past it raises
    :class:`BodyTooLarge` where the app reads it. ``prefixes`` give paths starting with them another limit
    (uploads)."""

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


class BodyDeadline:
    """ASGI middleware: the body must arrive within ``timeout_s`` of the request's headers; past it, the app's read
    raises :class:`BodyTooSlow` (408). A stall or a trickle would otherwise hold the connection and its worker
    forever. Reads after the last body chunk (waiting for a disconnect) are not timed."""

    def __init__(self, app: ASGIApp, timeout_s: float):
        self.app, self.timeout_s = app, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        complete = False

        async def timed() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.timeout_s) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)


@functools.cache
def _deadlines() -> tuple[float, float]:
    """``(header_timeout_s, body_timeout_s)`` of this process's settings (read once: a protocol is made per
    connection)."""
    settings = Settings()
    return settings.header_timeout_s, settings.body_timeout_s


MAX_HEAD_BYTES = 64 * 1024  # a request's line and headers (httptools has no limit; nginx refuses lines over 8 KiB)


class HeadTooLarge(Exception):
    """A request head over :data:`MAX_HEAD_BYTES`: it stops the parser, and the protocol answers 431."""


def raw_answer(status: bytes, detail: str) -> bytes:
    """A JSON error answer written by the protocol itself (no app has seen the request), closing the connection."""
    body = b'{"detail": "%s"}' % detail.encode()
    return (b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s"
            % (status, len(body), body))  # fmt: skip


class TimedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and the head size limit uvicorn lacks (``gnnpt serve`` runs it).

    - A request's line and headers must arrive within ``header_timeout_s`` of the connection opening, or of their
      first byte on a kept-alive connection: past it the caller gets 408 (nothing, if it sent nothing) and the
      connection is closed. uvicorn has no such timeout, so a client that never finishes its headers (slowloris)
      held a connection forever.
    - A request's line and headers may hold at most :data:`MAX_HEAD_BYTES`: over it the caller gets 431 and the
      connection is closed (httptools would collect any amount within the deadline).
    - The rest of a body the app answered without reading (a 413 on its declared length, a 401) must arrive within
      ``body_timeout_s`` of the answer, or the connection is closed: uvicorn's keep-alive timer restarts on every byte
      received, so a trickle held the connection forever.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._head: asyncio.TimerHandle | None = None
        self._drain: asyncio.TimerHandle | None = None
        self._head_begun = False  # a byte of the current request's head has arrived
        self._head_bytes = 0  # of the current request's line and headers
        self._body_complete = True  # the last request's body has arrived

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._head = self.loop.call_later(_deadlines()[0], self._head_late)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head, self._drain):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun, self._head_bytes = True, 0
        if self._head is None:
            self._head = self.loop.call_later(_deadlines()[0], self._head_late)

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge  # httptools wraps it in the parser error on which uvicorn calls send_400_response

    def send_400_response(self, msg: str) -> None:
        if self._head_bytes <= MAX_HEAD_BYTES:
            super().send_400_response(msg)
            return
        detail = f"the request line and headers are over {MAX_HEAD_BYTES:,} bytes; send shorter headers and URLs"
        self.transport.write(raw_answer(b"431 Request Header Fields Too Large", detail))
        self.transport.close()

    def on_headers_complete(self) -> None:
        if self._head is not None:
            self._head.cancel()
            self._head = None
        self._head_begun, self._body_complete = False, False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_complete = True
        super().on_message_complete()
        if self._drain is not None:  # the answered request's body is in: the connection idles as after any answer
            self._drain.cancel()
            self._drain = None
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def on_response_complete(self) -> None:
        unread = not self.pipeline and not self._body_complete  # the answered request's body is still coming
        super().on_response_complete()
        if unread and not self.transport.is_closing() and self._drain is None:
            self._drain = self.loop.call_later(_deadlines()[1], self.transport.close)

    def _head_late(self) -> None:
        self._head = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:  # a pipelined head waits for the answer
            self._head = self.loop.call_later(_deadlines()[0], self._head_late)
            return
        if self._head_begun:
            detail = f"the request line and headers did not arrive within {_deadlines()[0]:g} s; send them at once"
            self.transport.write(raw_answer(b"408 Request Timeout", detail))
        self.transport.close()
