"""``gnnpt screen``: score a molecule file with a fine-tuned model into CSV or Parquet (see gnnpt.screening)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gnnpt.cli.errors import fail, missing_extra

console = Console()


def screen(
    input: Annotated[Path, typer.Argument(help="CSV/TSV/SMI/SDF/Parquet file (plain or gzipped).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file: .csv, .csv.gz or .parquet.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="The model that scores: a shipped or stored name (gnnpt models list), name@v2, or a "
            "model directory (default: tox21-fast).",
        ),
    ] = None,
    smiles_col: Annotated[str | None, typer.Option(help="SMILES column (auto-detected if omitted).")] = None,
    keep_columns: Annotated[
        str,
        typer.Option(
            help="Input columns to carry into the output: all, none, or names separated by commas "
            "(an SDF's title and properties count as columns)."
        ),
    ] = "all",
    domain: Annotated[
        bool, typer.Option(help="Fill max_similarity / in_domain (the applicability domain); --no-domain is faster.")
    ] = True,
    chunk_size: Annotated[int, typer.Option(help="Molecules read, scored and committed at a time.")] = 10_000,
    workers: Annotated[
        int, typer.Option(help="Featurization processes (local) or scoring actors (ray); 0: one per core.")
    ] = 0,
    batch_size: Annotated[int, typer.Option(help="Molecules per model forward pass.")] = 1024,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run into the same output.")] = False,
    top_k: Annotated[int | None, typer.Option(help="Keep only the K best rows by --sort-by, best first.")] = None,
    sort_by: Annotated[str | None, typer.Option(help="Model output to rank by for --top-k.")] = None,
    filter: Annotated[
        list[str] | None,
        typer.Option("--filter", help="Keep rows where e.g. 'NR-AR>=0.5' (>=, <=, >, <); repeat to require several."),
    ] = None,
    engine: Annotated[
        str, typer.Option(help=r"local, or ray (needs pip install 'ray\[data]'; honours RAY_ADDRESS).")
    ] = "local",
    device: Annotated[str | None, typer.Option(help="Model device, local engine (default: cuda if any).")] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="auto (bf16 where the hardware computes it natively), bf16 or fp32 (exact) "
            "[default: auto, as every gnnpt scoring interface]."
        ),
    ] = None,
) -> None:
    """Score every molecule of INPUT; invalid rows are kept with their error (or listed in OUT.errors.csv when
    --filter/--top-k select rows). Interrupted? Run again with --resume."""
    from gnnpt.screening import screen as run  # waiting threads sleep (import gnnpt): the model shares the cores

    try:
        summary = run(
            input, model, output, smiles_col=smiles_col, keep_columns=_keep(keep_columns), domain=domain,
            chunk_size=chunk_size, workers=workers, batch_size=batch_size, resume=resume, top_k=top_k,
            sort_by=sort_by, filters=filter, engine=engine, device=device,
            **({"precision": precision} if precision else {}),
        )  # fmt: skip
    except ImportError as exc:  # an optional package the model needs: not a mistyped option
        missing_extra(exc)
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # click would print only "Aborted." for an EOFError
        fail(f"{input} is a damaged gzip file ({exc or 'it ends too early'}); the rows before the damage are in "
              f"{output}. Download or compress it again, then run again without --resume")  # fmt: skip
    except ConnectionError as exc:  # --engine ray: no Ray cluster where RAY_ADDRESS points
        fail(f"{exc}. Start one (ray start --head) or unset RAY_ADDRESS to start a local one, then run again")
    except OSError as exc:  # a read-only folder, a full disk: the progress file stays consistent
        fail(f"cannot write {exc.filename or output}: {exc.strerror or exc}. Free space or choose a writable -o, "
              "then run the same command with --resume to continue")  # fmt: skip
    table = Table(title=f"screened {input.name}", show_header=False)
    table.add_row(
        "rows", f"{summary.rows:,}" + (f" ({summary.resumed_rows:,} resumed)" if summary.resumed_rows else "")
    )
    table.add_row("scored / invalid", f"{summary.scored:,} / {summary.invalid:,}")
    table.add_row("written", f"{summary.written:,} rows to {summary.output}")
    if summary.errors_file is not None:
        table.add_row("invalid rows", str(summary.errors_file))
    table.add_row("rate", f"{summary.rate:,.0f} molecules/s ({summary.engine} engine)")
    console.print(table)


def _keep(text: str) -> list[str] | None:
    """``--keep-columns``: None for all, [] for none, else the names."""
    if text.strip().lower() == "all":
        return None
    return [] if text.strip().lower() == "none" else [name.strip() for name in text.split(",") if name.strip()]
