"""Optional API keys: sent as ``X-API-Key`` (or ``Authorization: Bearer``), compared by their SHA-256 digest."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

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
