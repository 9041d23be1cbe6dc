"""Optional API keys: sent as ``X-API-Key`` (or ``Authorization: Bearer``), compared by their SHA-256 digest.

Surrounding spaces are not part of a key (HTTP does not keep them in header values either): ``" key "`` is ``key``.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gnnpt.api.settings import hash_key


def presented_key(request: Request) -> str | None:
    """The key a request carries, if any."""
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_key(request: Request, hashes: set[str]) -> str | None:
    """The digest of the request's accepted key (None when keys are off); 401 without a key, 403 for a wrong one."""
    if not hashes:
        return None
    key = presented_key(request)
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required: send it in the X-API-Key header",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    digest = hash_key(key)
    if not any(hmac.compare_digest(digest, h) for h in hashes):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this API key is not accepted")
    return digest


class KeyGate:
    """ASGI middleware: with keys configured, a ``/v1`` request without an accepted key is answered 401/403 before
    anything reads its body (a malformed body from an unknown caller learns nothing; CORS preflights pass)."""

    def __init__(self, app: ASGIApp, hashes: set[str]):
        self.app, self.hashes = app, hashes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hashes and scope["type"] == "http" and scope["path"].startswith("/v1") and scope["method"] != "OPTIONS":
            try:
                check_key(Request(scope), self.hashes)
            except HTTPException as exc:
                await JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)
