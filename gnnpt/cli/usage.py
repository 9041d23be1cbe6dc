"""The usage line of a command with arguments: ``gnnpt screen [OPTIONS] INPUT``, as click writes it (typer's braces,
``{input}``, read as a set to choose from)."""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand


class Command(TyperCommand):
    """A typer command whose usage line names each argument in capitals: ``INPUT``, ``[INPUT]`` when it may be left
    out, ``PARTS...`` when it takes several."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # typer's own copy of click.Context
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not isinstance(param, TyperArgument):
                pieces += param.get_usage_pieces(ctx)
                continue
            name = (param.metavar or param.name or "").upper()
            pieces.append((name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else ""))
        return pieces
