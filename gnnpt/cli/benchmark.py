"""``gnnpt benchmark``: the Hu et al. (2020) transfer benchmark, the repeated-split evaluation and the learning
curves, written as CSV + Markdown + charts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
app = typer.Typer(help="Accuracy benchmarks.", no_args_is_help=True)


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


@app.command("moleculenet")
def moleculenet(
    datasets: Annotated[
        str | None, typer.Option(help="Comma-separated datasets (default: the 8 of Hu et al.).")
    ] = None,
    encoders: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated encoders: none[:gnn], names, saved encoder dirs, .pth files, hu2020:<name> "
            "(default: the protocol's; 'none' for full)."
        ),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="full: Hu et al.'s 8 sets x 10 seeds x 100 epochs (a GPU job); cpu: 5 sets x 3 seeds x "
            "5 epochs with the shipped encoders and peer rows, ~25 min per GIN row on 2 cores; repeated: 17 "
            "endpoints (MoleculeNet + TDC ADMET) x 5 scaffold splits x --methods, resumable (finetune/README.md)."
        ),
    ] = "full",
    seeds: Annotated[int | None, typer.Option(help="Seeds per encoder (default 10).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs per run (default 100).")] = None,
    limit: Annotated[int | None, typer.Option(help="Use a fixed random sample of N rows of each dataset.")] = None,
    quick: Annotated[bool, typer.Option(help="Smoke run: bbbp + bace, 300 rows, 2 seeds, 3 epochs.")] = False,
    baseline: Annotated[bool, typer.Option(help="Include the ECFP4 random forest row.")] = True,
    minimol: Annotated[
        bool | None, typer.Option(help="Include the MiniMol + head row (needs gnnpt[minimol]; on in --protocol cpu).")
    ] = None,
    chemprop: Annotated[bool, typer.Option(help="Include Chemprop v2 trained from scratch (needs chemprop).")] = False,
    auto: Annotated[
        bool, typer.Option(help="Include gnnpt's --model auto ensemble and each candidate it tried.")
    ] = False,
    auto_candidates: Annotated[
        str | None,
        typer.Option(help="Candidates of --auto (default trees, forest, minimol; also encoder, gnn, hybrid)."),
    ] = None,
    finetuned: Annotated[
        bool, typer.Option(help="Fine-tune each encoder (the protocol's rows); --no-finetuned --frozen: frozen only.")
    ] = True,
    frozen: Annotated[
        bool | None,
        typer.Option(
            help="Also score each encoder frozen: its features + a head chosen on valid, as the MiniMol row (on in "
            "--protocol cpu)."
        ),
    ] = None,
    methods: Annotated[
        str | None,
        typer.Option(
            help="--protocol repeated: comma-separated methods (default: forest, lightgbm, minimol, encoder, "
            "auto, gin, chemprop)."
        ),
    ] = None,
    splits: Annotated[int, typer.Option(help="--protocol repeated: scaffold splits per endpoint.")] = 5,
    engine: Annotated[
        str, typer.Option(help="--protocol repeated: local (one process) or ray (cells as Ray tasks; RAY_ADDRESS).")
    ] = "local",
    charts: Annotated[bool, typer.Option(help="Write one bar chart per dataset (needs matplotlib).")] = True,
    output_dir: Annotated[Path, typer.Option("--output", "-o", "--output-dir", help="Where results go.")] = Path(
        "finetune/results"
    ),
) -> None:
    """Fine-tune each encoder on each dataset (scaffold split, seeds) beside the ECFP4 baseline; write tables.
    ``--protocol repeated``: every method on five scaffold splits of every endpoint, resumable."""
    from dataclasses import replace

    if protocol == "repeated":
        _repeated(_names(datasets), _names(methods), splits, engine, charts, output_dir)
        return
    from gnnpt.finetune.benchmark import BenchmarkConfig, run_benchmark

    if protocol not in ("full", "cpu"):
        raise typer.BadParameter(f"unknown protocol {protocol!r}; choose full, cpu or repeated")
    cfg = BenchmarkConfig.quick() if quick else BenchmarkConfig.cpu() if protocol == "cpu" else BenchmarkConfig()
    overrides = {"datasets": _names(datasets), "encoders": _names(encoders), "seeds": seeds, "epochs": epochs,
                 "limit": limit, "baseline": baseline, "minimol": minimol, "chemprop": chemprop or None,
                 "auto": auto or None, "frozen": frozen, "finetuned": None if finetuned else False,
                 "auto_candidates": tuple(_names(auto_candidates)) if auto_candidates else None}  # fmt: skip
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        results = run_benchmark(cfg, progress=True, partial=output_dir / "results.partial.csv")
    except (ValueError, FileNotFoundError, KeyError, ImportError) as exc:
        raise typer.BadParameter(str(exc)) from None
    _write(results, output_dir, charts)


def _repeated(datasets: list[str] | None, methods: list[str] | None, splits: int, engine: str, charts: bool,
              output_dir: Path) -> None:  # fmt: skip
    import functools

    from gnnpt.finetune.repeated import RepeatedConfig, run_repeated

    overrides = {k: v for k, v in (("datasets", datasets), ("methods", methods)) if v}
    try:
        cfg = RepeatedConfig(splits=splits, **overrides)
        log = functools.partial(console.print, highlight=False, soft_wrap=True)
        cells = run_repeated(cfg, output_dir, engine=engine, log=log)
    except (ValueError, KeyError, ImportError) as exc:
        raise typer.BadParameter(str(exc)) from None
    write_repeated(cells, output_dir, charts)


def write_repeated(cells, output_dir: Path, charts: bool) -> None:
    """tables.md (and chart.png) of a repeated-split run's cells."""
    from gnnpt.finetune.repeated_table import markdown, rank_chart

    if cells.empty:
        return
    text = markdown(cells)
    (output_dir / "tables.md").write_text(text)
    if charts:
        try:
            rank_chart(cells, output_dir / "chart.png")
        except ImportError:
            console.print("[yellow]matplotlib is not installed: no chart (pip install matplotlib)[/]")
        except ValueError as exc:  # no forest row to draw against
            console.print(f"[yellow]no chart: {exc}[/]")
    console.print(text, highlight=False)
    console.print(f"[bold green]results written to {output_dir}[/] (cells.csv, tables.md)")


@app.command("learning-curves")
def learning_curves(
    datasets: Annotated[str | None, typer.Option(help="Comma-separated endpoints (default: the ten TDC sets).")] = None,
    methods: Annotated[
        str | None,
        typer.Option(help="Comma-separated methods (default: forest, minimol, encoder, auto, auto_adapted)."),
    ] = None,
    sizes: Annotated[
        str | None, typer.Option(help="Comma-separated label budgets (default: 32,64,128,256,512,all).")
    ] = None,
    repeats: Annotated[int, typer.Option(help="Scaffold splits (repeats) per endpoint and budget.")] = 5,
    first_split: Annotated[
        int, typer.Option(help="Seed of the first split: 0 for the reporting run, 100+ to develop on.")
    ] = 0,
    engine: Annotated[
        str, typer.Option(help="local (one process) or ray (cells as Ray tasks; RAY_ADDRESS).")
    ] = "local",
    charts: Annotated[bool, typer.Option(help="Write chart.png, the average curve (needs matplotlib).")] = True,
    output_dir: Annotated[Path, typer.Option("--output", "-o", "--output-dir", help="Where results go.")] = Path(
        "finetune/results/curves"
    ),
) -> None:
    """Learning curves: each method's scaffold-held-out test score at 32 .. all training labels, resumable
    (finetune/README.md); writes cells.csv, tables.md, curve.csv and chart.png."""
    import functools
    from importlib.util import find_spec

    from gnnpt.finetune.curves import CurvesConfig, run_curves
    from gnnpt.finetune.curves_table import write

    overrides = {k: v for k, v in (("datasets", _names(datasets)), ("methods", _names(methods)),
                                   ("sizes", _names(sizes))) if v}  # fmt: skip
    try:
        cfg = CurvesConfig(repeats=repeats, first_split=first_split, **overrides)
        log = functools.partial(console.print, highlight=False, soft_wrap=True)
        cells = run_curves(cfg, output_dir, engine=engine, log=log)
    except (ValueError, KeyError, ImportError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if cells.empty:
        return
    if charts and find_spec("matplotlib") is None:
        console.print("[yellow]matplotlib is not installed: no chart (pip install matplotlib)[/]")
        charts = False
    text = write(cells, output_dir, charts=charts)
    console.print(text, highlight=False)
    console.print(f"[bold green]results written to {output_dir}[/] (cells.csv, tables.md, curve.csv, chart.png)")


def _write(results, output_dir: Path, charts: bool) -> None:
    from gnnpt.finetune.report import bar_charts, markdown_report

    output_dir.mkdir(parents=True, exist_ok=True)
    results.to_csv(output_dir / "results.csv", index=False)
    (output_dir / "tables.md").write_text(markdown_report(results))
    if charts:
        try:
            bar_charts(results, output_dir / "figures")
        except ImportError:
            console.print("[yellow]matplotlib is not installed: no charts (pip install matplotlib)[/]")
    console.print(markdown_report(results))
    console.print(f"[bold green]results written to {output_dir}[/] (results.csv, tables.md)")


@app.command("report")
def report(
    parts: Annotated[list[Path], typer.Argument(help="results.csv files of benchmark runs to show in one table.")],
    output_dir: Annotated[Path, typer.Option("--output", "-o", "--output-dir", help="Where the merged results go.")],
    charts: Annotated[bool, typer.Option(help="Write one bar chart per dataset (needs matplotlib).")] = True,
) -> None:
    """Merge the rows of several runs (e.g. rows run side by side in separate processes) into one set of tables."""
    import pandas as pd

    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise typer.BadParameter(f"not found: {', '.join(missing)}")
    frames = [pd.read_csv(p) for p in parts]
    merged = pd.concat(frames, ignore_index=True).drop_duplicates(["dataset", "method", "protocol"], keep="last")
    _write(merged, output_dir, charts)
