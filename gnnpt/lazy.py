"""Package attributes imported on first use, so ``import gnnpt`` (and the command line's ``--help``) stays fast."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_attributes(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a name to the module that defines it (a full
    dotted path, or a module of ``package`` by its short name)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = exports[name]
        return getattr(import_module(module if "." in module else f"{package}.{module}"), name)

    return __getattr__
