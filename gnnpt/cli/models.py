"""``gnnpt models``: list, show, import, export and remove models in the local model store (``$GNNPT_MODEL_DIR``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Named, versioned models and encoders in the local store ($GNNPT_MODEL_DIR).", no_args_is_help=True
)
console = Console()


@contextmanager
def _user_errors() -> Iterator[None]:
    """A refused or unknown model ends the command with its message and exit code 1, not a traceback."""
    try:
        yield
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("list")
def list_cmd() -> None:
    """List every model version in the store, and the models shipped with gnnpt."""
    from gnnpt.models.store import list_models, store_dir

    with _user_errors():
        entries = list_models()
    table = Table(title=f"models ({store_dir()})")
    for col in ("name", "version", "kind", "tasks", "architecture", "created"):
        table.add_column(col, no_wrap=col in ("name", "version", "kind"))
    for e in entries:
        version = "shipped" if e.shipped else f"{e.version}{' (latest)' if e.latest else ''}"
        tasks = ", ".join(e.tasks) if len(e.tasks) <= 3 else f"{len(e.tasks)} ({e.tasks[0]}, ...)"
        created = e.created.replace("T", " ").removesuffix("Z")[:16] if e.created else "-"
        table.add_row(e.name, version, e.kind, tasks or "-", e.architecture, created)
    console.print(table)


@app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="A model name, or name@v2 for one version.")],
    version: Annotated[str | None, typer.Option(help="The version (default: the newest).")] = None,
) -> None:
    """Print a model's card as JSON."""
    from gnnpt.models.store import show

    with _user_errors():
        card = show(name, version)
    typer.echo(json.dumps(card, indent=2, sort_keys=True))


@app.command("import")
def import_cmd(
    source: Annotated[str, typer.Argument(help="A saved gnnpt model/encoder directory, a .pth file, hu2020:<name>.")],
    name: Annotated[str | None, typer.Option(help="The name in the store (default: the card's name).")] = None,
    gnn_type: Annotated[str | None, typer.Option(help="gcn or graphsage, for a .pth whose name does not say.")] = None,
) -> None:
    """Check a model (no pickles; its card must match its weights) and add it as the next version of its name."""
    from gnnpt.models.store import import_model

    with _user_errors():
        entry = import_model(source, name=name, gnn_type=gnn_type)
    typer.echo(f"imported {source} as {entry.ref} ({entry.kind}, {entry.architecture}) into {entry.path}")


@app.command("export")
def export_cmd(
    name: Annotated[str, typer.Argument(help="A model name, or name@v2 for one version.")],
    dest: Annotated[Path, typer.Argument(help="A new (or empty) directory; with --format pth, a new .pth file.")],
    version: Annotated[str | None, typer.Option(help="The version (default: the newest).")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="gnnpt (safetensors + card) or pth (a Hu et al. encoder, upstream's file).")
    ] = "gnnpt",
) -> None:
    """Copy a model's weights and card out of the store, or write an encoder in the published pretrain-gnns layout."""
    from gnnpt.models.store import export_model

    with _user_errors():
        path = export_model(name, dest, version, fmt=fmt)
    typer.echo(f"exported {name}{f'@{version}' if version else ''} to {path}")


@app.command("rm")
def rm_cmd(
    name: Annotated[str, typer.Argument(help="A model name (all its versions), or name@v2 for one version.")],
    version: Annotated[str | None, typer.Option(help="Remove only this version.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete (otherwise only list what would go).")] = False,
) -> None:
    """Remove a model version, or all versions of a model, from the store."""
    from gnnpt.models.store import remove

    with _user_errors():
        paths = remove(name, version, dry_run=not yes)
    listed = ", ".join(str(p) for p in paths)
    typer.echo(f"removed {listed}" if yes else f"would remove {listed}; nothing removed, pass --yes to delete")
