"""``gnnpt featurize``: a molecule file to a packed graph store on disk, with a summary of errors."""

from __future__ import annotations

import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def featurize(
    input: Annotated[
        Path | None, typer.Argument(help="CSV/TSV/SMI/SDF/Parquet file (plain or gzipped).", show_default=False)
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Directory for the packed store.")] = None,
    sample: Annotated[bool, typer.Option(help="Featurize the small drug sample shipped with gnnpt.")] = False,
    smiles_col: Annotated[str | None, typer.Option(help="SMILES column (auto-detected if omitted).")] = None,
    scheme: Annotated[str, typer.Option(help="Feature scheme: hu2020 or ogb.")] = "hu2020",
    standardize: Annotated[bool, typer.Option(help="Cleanup, keep largest fragment, uncharge.")] = False,
    canonical: Annotated[bool, typer.Option(help="Store RDKit canonical SMILES.")] = True,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    max_atoms: Annotated[int, typer.Option(help="Reject molecules with more heavy atoms.")] = 1000,
) -> None:
    """Featurize molecules into a packed graph store; bad rows are reported, never dropped."""
    from gnnpt.datasets.readers import read_molecules
    from gnnpt.featurization import featurize as run
    from gnnpt.store import save_packed

    if sample == (input is not None):
        raise typer.BadParameter("give either an INPUT file or --sample")
    source = Path(str(resources.files("gnnpt") / "data" / "sample.csv")) if sample else input
    frame = read_molecules(source, smiles_col=smiles_col)
    output = output or Path(f"{source.name.split('.')[0]}_graphs")
    start = time.perf_counter()
    store = run(
        frame["smiles"].tolist(),
        scheme=scheme,
        standardize=standardize,
        canonical=canonical,
        workers=workers,
        max_atoms=max_atoms,
        progress=True,
    )
    seconds = time.perf_counter() - start
    save_packed(store, output)
    _summary(source, output, store, seconds)


def _summary(source: Path, output: Path, store, seconds: float) -> None:
    table = Table(title=f"featurized {source.name} ({store.scheme})", show_header=False)
    n = len(store)
    table.add_row("molecules", f"{n:,}")
    table.add_row("graphs", f"{n - len(store.errors):,}")
    table.add_row("atoms / bonds", f"{store.num_nodes:,} / {store.num_edges // 2:,}")
    table.add_row("rate", f"{n / max(seconds, 1e-9):,.0f} molecules/s")
    table.add_row("store", str(output))
    for reason, count in sorted(Counter(str(e.reason) for e in store.errors).items()):
        table.add_row(f"errors: {reason}", f"{count:,}")
    console.print(table)
    if store.errors:
        errs = Table(title="rows with errors (kept in the store as empty graphs)")
        for col in ("row", "input", "reason", "message"):
            errs.add_column(col)
        for e in store.errors[:20]:
            errs.add_row(str(e.index), e.input[:40], str(e.reason), e.message)
        console.print(errs)
        if len(store.errors) > 20:
            console.print(f"... and {len(store.errors) - 20:,} more (see meta.json in the store)")
