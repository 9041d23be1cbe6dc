"""How a command ends on a problem that is not a mistyped option: one line on stderr and exit code 1."""

from __future__ import annotations

from typing import NoReturn

import typer

EXTRAS = "gnnpt[ray] (--engine ray), gnnpt[plots] (figures), gnnpt[peers] (Chemprop)"


def fail(message: str) -> NoReturn:
    """One line on stderr and exit code 1: what happened and what to do, no traceback and no usage line (exit code
    2 with a usage line is click's answer to a mistyped command)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def missing_extra(exc: ImportError) -> NoReturn:
    """A missing optional package: gnnpt's own message says what to install; a bare import error gets the extras."""
    said = str(exc)
    fail(
        said
        if "pip install" in said
        else f"{said}: install the package, or the extra of gnnpt that brings it: pip install {EXTRAS}"
    )
