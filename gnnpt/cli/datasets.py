"""``gnnpt datasets``: list the named datasets and corpora, fetch (download + verify + cache) one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Named datasets (MoleculeNet, TDC ADMET) and unlabeled corpora.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_cmd() -> None:
    """List the registered datasets and corpora."""
    from gnnpt.datasets import CORPORA, DATASETS

    table = Table(title="datasets")
    for col in ("name", "type", "tasks", "description"):
        table.add_column(col)
    for spec in DATASETS.values():
        tasks = str(len(spec.tasks)) if spec.tasks else "all columns"
        table.add_row(spec.name, spec.task_type, tasks, spec.description)
    for spec in CORPORA.values():
        table.add_row(spec.name, "unlabeled corpus", "-", spec.description)
    console.print(table)


@app.command("fetch")
def fetch_cmd(
    name: Annotated[str, typer.Argument(help="A dataset or corpus name (see `gnnpt datasets list`).")],
    data_dir: Annotated[Path | None, typer.Option(help="A local mirror directory to read from.")] = None,
) -> None:
    """Download (or find in a mirror), verify sha256 and cache one dataset or corpus."""
    from gnnpt.datasets import CORPORA, corpus_path, load

    if name in CORPORA:
        console.print(f"{name}: verified at {corpus_path(name, data_dir)}")
        return
    try:
        ds = load(name, data_dir)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0])) from None
    console.print(f"{ds.name}: {len(ds):,} rows, {len(ds.task_names)} task(s), {ds.task_type}; verified")
