"""The REST scoring service: ``create_app(settings)`` builds the FastAPI app, ``gnnpt serve`` runs it.

Both names load on first use: the upload reading process imports :mod:`gnnpt.api.tables` without the web stack."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gnnpt.api.app import create_app
    from gnnpt.api.settings import Settings

__all__ = ["Settings", "create_app"]
_HOMES = {"create_app": "gnnpt.api.app", "Settings": "gnnpt.api.settings"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
