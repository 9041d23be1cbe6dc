"""``gnnpt finetune``: fine-tune an encoder on a dataset or a labeled file and save the model with its card."""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from gnnpt.cli.errors import missing_extra
from gnnpt.models.defaults import DEFAULT_ENCODER

if TYPE_CHECKING:
    from gnnpt.finetune.auto import AutoResult
    from gnnpt.finetune.train import FinetuneResult

console = Console()


def parse_seeds(text: str) -> list[int]:
    """``3`` -> seeds 0, 1, 2; ``0,5,7`` (or ``7,`` for the one seed 7) -> those seeds."""
    parts = [p.strip() for p in text.split(",")]
    listed = "," in text
    values = [p for p in parts if p] if listed else parts
    if not values or not all(p.isdigit() for p in values) or (not listed and int(values[0]) < 1):
        raise ValueError(f"--seeds takes a count (3: seeds 0, 1, 2) or a comma-separated list of seeds (0,5,7; "
                         f"'7,' for the one seed 7), got {text!r}")  # fmt: skip
    seeds = [int(p) for p in values] if listed else list(range(int(values[0])))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds lists a seed twice: {text!r}")
    return seeds


def finetune(
    data: Annotated[str, typer.Option(help="A dataset name (tox21, bbbp, ...) or a CSV/TSV/SMI/SDF/Parquet file.")],
    targets: Annotated[list[str] | None, typer.Option(help="Label column(s) of --data (repeat the option).")] = None,
    smiles_col: Annotated[str | None, typer.Option(help="SMILES column of --data (found by name if omitted).")] = None,
    task_type: Annotated[
        str | None, typer.Option(help="classification, regression or multiclass (inferred if omitted).")
    ] = None,
    encoder: Annotated[
        str,
        typer.Option(
            help="A shipped or stored encoder name, none[:gin|gcn|graphsage|gat] (from scratch), a saved "
            "encoder dir, a .pth, hu2020:<name>, or minimol (MiniMol's published network, on its own graphs; "
            "use --pooling max, its readout)."
        ),
    ] = DEFAULT_ENCODER,
    strategy: Annotated[
        str, typer.Option(help="full, linear_probe, freeze:K, llrd:DECAY, lora:RANK or adapter:DIM.")
    ] = "full",
    split: Annotated[
        str, typer.Option(help="scaffold (Hu et al., deterministic), scaffold_balanced, random or stratified.")
    ] = "scaffold",
    split_seed: Annotated[int, typer.Option(help="Seed of a scaffold_balanced/random/stratified split.")] = 0,
    seeds: Annotated[
        str,
        typer.Option(
            help="Training seeds, one model each, averaged into an ensemble: a count (3: seeds 0, 1, 2) or a list "
            "like 0,3,7."
        ),
    ] = "1",
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 100,
    batch_size: Annotated[int, typer.Option(help="Graphs per batch.")] = 32,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    dropout: Annotated[float, typer.Option(help="Encoder dropout.")] = 0.5,
    pooling: Annotated[str, typer.Option(help="mean, sum, max or attention.")] = "mean",
    head: Annotated[str, typer.Option(help="linear or mlp.")] = "linear",
    descriptors: Annotated[
        str,
        typer.Option(
            help="Comma-separated molecule vectors fed into the head beside the graph vector (a descriptor "
            "hybrid): descriptors:fast, ecfp4, ecfp4_counts, minimol."
        ),
    ] = "",
    patience: Annotated[int | None, typer.Option(help="Early stopping after this many epochs without gain.")] = None,
    pos_weight: Annotated[bool, typer.Option(help="Weight positives by each task's negative/positive ratio.")] = False,
    half: Annotated[bool, typer.Option(help="Store the weights as float16 (half the size).")] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output", "-o", "--output-dir", help="Model directory to write (--output-dir: the old name)."),
    ] = None,
    register: Annotated[
        str | None, typer.Option(help="Also add the model to the model store under this name (gnnpt models list).")
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="The kind of model to train (to score with a trained model, give its name to gnnpt screen "
            "--model): gnn: fine-tune --encoder; auto: train every candidate kind (fingerprint trees, forest, "
            "MiniMol head, GNN from --encoder), weigh their ensemble without the test part, calibrate it."
        ),
    ] = "gnn",
    figures: Annotated[
        Path | None,
        typer.Option(
            help="With --model auto (classification): write <name>_reliability.png (test part, before and "
            "after calibration) into this folder."
        ),
    ] = None,
    candidates: Annotated[
        str,
        typer.Option(
            help="With --model auto: comma-separated candidates (trees, forest, minimol: an MLP on MiniMol, "
            "minimol_trees: LightGBM on MiniMol + RDKit descriptors, encoder: an MLP on the --encoder frozen, gnn, "
            "hybrid)."
        ),
    ] = "trees,forest,minimol,minimol_trees",
    folds: Annotated[
        int,
        typer.Option(
            help="With --model auto, no GNN candidate and a validation part under 500 molecules: cut the training "
            "and validation parts into this many scaffold folds and weigh the candidates on their refits' "
            "out-of-fold scores (0: the validation part alone, 6x cheaper; else 3 or more)."
        ),
    ] = 5,
    selection: Annotated[
        str,
        typer.Option(
            help="With --model auto: cv (weigh the candidates by cross-validation over the training and validation "
            "parts) or valid (on the validation part alone, no refits). Either way the weights move towards an "
            "equal blend when a bootstrap finds the rows cannot tell the candidates apart."
        ),
    ] = "cv",
) -> None:
    """Fine-tune; writes the model (safetensors + card.json with lineage, split, metrics) to --output (-o)."""
    from gnnpt.finetune.run import load_labeled, run_finetune
    from gnnpt.finetune.train import FinetuneConfig

    if model not in ("gnn", "auto"):
        raise typer.BadParameter(f"--model {model!r}: choose gnn or auto")
    try:
        labeled = load_labeled(data, smiles_col, targets, task_type)
        cfg = FinetuneConfig(
            encoder=encoder, strategy=strategy, seeds=parse_seeds(seeds), epochs=epochs, batch_size=batch_size, lr=lr,
            dropout=dropout, pooling=pooling, head=head, patience=patience, pos_weight=pos_weight, progress=True,
            descriptors=[d.strip() for d in descriptors.split(",") if d.strip()],
        )  # fmt: skip
        command = shlex.join(["gnnpt", *sys.argv[1:]])
        if model == "auto":
            from gnnpt.finetune.auto import AutoConfig, run_auto

            auto = AutoConfig(candidates=[c.strip() for c in candidates.split(",") if c.strip()],
                              seeds=cfg.seeds, gnn=replace(cfg, progress=False), folds=folds,
                              selection=selection)  # fmt: skip
            out = output_dir or Path("models") / f"{labeled.name}_auto"
            path, result = run_auto(labeled, auto, out, split, split_seed, half, {"command": command}, console.print)
            show_auto(result, f"{labeled.name}: auto ({split} split)", path, register)
            if figures is not None and "calibrated" in result.test:
                png = result.reliability_diagram(figures / f"{path.name}_reliability.png", f"{labeled.name}: auto")
                console.print(f"reliability diagram: {png}")
            return
        out = output_dir or Path("models") / f"{labeled.name}_{Path(encoder).name.replace(':', '_')}"
        path, result = run_finetune(labeled, cfg, out, split, split_seed, half=half, extra_card={"command": command})
    except ImportError as exc:  # an optional package a candidate or --descriptors needs: not a mistyped option
        missing_extra(exc)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise typer.BadParameter(str(exc)) from None
    show_result(result, f"{labeled.name}: {result.metric} ({split} split)", path, register)


def show_auto(result: AutoResult, title: str, path: Path, register: str | None) -> None:
    """Print every candidate's scores (on the selection rows with its bootstrap std, validation, test), the weights and
    how sure the bootstrap is of them, the calibration, the conformal sets' coverage per class and sizes, and the
    card's warnings."""
    from gnnpt.finetune.metrics import primary_metric

    metric, higher = primary_metric(result.model.task_type)
    sign = 1 if higher else -1  # auto's scores are signed so that higher is better; shown as the metric reads
    cv = any("cv" in row for row in result.candidates.values())
    chosen_on = "cv" if cv else "valid"
    table = Table(title=f"{title}: {metric}")
    for col in ("candidate", f"{chosen_on} ± std", *(("valid",) if cv else ()), "test", "weight", "seconds"):
        table.add_column(col)
    chosen = result.record["chosen"]
    for name, row in result.candidates.items():
        table.add_row(name, f"{sign * row[chosen_on]:.4f} ± {row[f'{chosen_on}_std']:.4f}",
                      *((f"{sign * row['valid']:.4f}",) if cv else ()), f"{sign * row['test']:.4f}",
                      f"{chosen.get(name, 0):.2f}", f"{row['wall_s']:.0f}")  # fmt: skip
    blend = result.record["blend"]
    score, std = blend["scores"]["blend"]
    table.add_row("[bold]ensemble[/]", f"{sign * score:.4f} ± {std:.4f}",
                  *((f"{sign * result.record['valid']:.4f}",) if cv else ()), f"{sign * result.record['test']:.4f}",
                  "", "")  # fmt: skip
    console.print(table)
    console.print(f"a greedy choice beat the equal blend ({', '.join(blend['equal'])}) in "
                  f"{blend['p_greedy_beats_equal']:.0%} of bootstrap draws: the weights are "
                  f"{blend['trust']:.0%} greedy, {1 - blend['trust']:.0%} equal")  # fmt: skip
    calibration = result.record.get("calibration")
    if calibration:
        console.print(f"test ECE {calibration['ece_before_test']:.3f} -> {calibration['ece_after_test']:.3f} "
                      f"after Platt scaling on {result.record['calibrated_on']}")  # fmt: skip
    conformal = result.record["conformal"]
    for level in sorted({k.rsplit("_", 1)[1] for k in conformal}):
        got = {k.removeprefix("test_").removesuffix(f"_{level}"): v for k, v in conformal.items() if k.endswith(level)}
        shown = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in got.items())
        console.print(f"conformal coverage on test at {float(level):.0%}: {shown}")
    for note in result.model.card.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    _written(path, register)


def show_result(result: FinetuneResult, title: str, path: Path, register: str | None) -> None:
    """Print each seed's scores and where the model went; add it to the model store under ``register``."""
    table = Table(title=title)
    for col in ("seed", "best epoch", "valid", "test (best valid)", "test (last epoch)"):
        table.add_column(col)
    for r in result.runs:
        table.add_row(str(r.seed), str(r.best_epoch), *(f"{d.get(result.metric, float('nan')):.4f}"
                                                        for d in (r.valid, r.test, r.test_last)))  # fmt: skip
    console.print(table)
    _written(path, register)


def _written(path: Path, register: str | None) -> None:
    console.print(f"[bold green]model written to {path}[/] (model.safetensors + card.json)")
    if register:
        from gnnpt.models.store import import_model

        entry = import_model(path, name=register)
        console.print(f"[bold green]registered as {entry.ref}[/]: gnnpt.load({entry.ref!r})")
