"""``gnnpt adapt``: the adaptation jobs of the service from the command line (run, submit, list, show, cancel, worker).

Jobs live in the same SQLite store the service uses (``$GNNPT_JOBS_DIR``), so a job submitted here is run by the
service's worker, and ``gnnpt adapt show`` follows one submitted over REST.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gnnpt.models.defaults import DEFAULT_ENCODER

app = typer.Typer(help="Domain adaptation jobs: pretrain on your molecules, fine-tune on your labels, register.",
                  no_args_is_help=True)  # fmt: skip
console = Console()
LOCAL_OWNER = "local"

Data = Annotated[Path, typer.Option(help="Labeled file: a SMILES column and the target column(s).")]
Targets = Annotated[list[str], typer.Option(help="Target column (repeat for several).")]
Name = Annotated[str, typer.Option(help="Name the adapted model is registered under.")]
Unlabeled = Annotated[Path | None, typer.Option(help="Unlabeled molecules of your domain (pretraining).")]
Encoder = Annotated[str, typer.Option(help="A shipped or model-store encoder, none (from scratch), hu2020:<name>, "
                                           "or an encoder dir.")]  # fmt: skip
JobsDir = Annotated[Path | None, typer.Option(help="Job store (default $GNNPT_JOBS_DIR or the gnnpt cache).")]


def _queue(jobs_dir: Path | None, data: Path, targets: list[str], name: str, unlabeled: Path | None, encoder: str,
           strategy: str, epochs: int, pretrain_epochs: int, seeds: int):  # fmt: skip
    """Check the files and queue the job; a file that cannot train a model ends the command with the reason."""
    from gnnpt.adaptation.jobs import JobStore
    from gnnpt.adaptation.spec import AdaptationSpec
    from gnnpt.adaptation.submit import submit_job

    store = JobStore(jobs_dir)
    try:
        spec = AdaptationSpec(name=name, targets=targets, encoder=encoder, strategy=strategy, epochs=epochs,
                              pretrain_epochs=pretrain_epochs, seeds=seeds)  # fmt: skip
        return store, submit_job(store, LOCAL_OWNER, spec, data, unlabeled)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _show(job, store) -> None:
    from gnnpt.api.adaptations import job_view

    view = job_view(job, store)
    table = Table(title=f"adaptation {job.name} ({job.id})", show_header=False)
    for key in ("status", "stage", "progress", "error", "attempts"):
        table.add_row(key, str(view[key]))
    metrics = job.metrics or {}
    for run in ("adapted", "from_scratch"):
        if run in metrics:
            m = metrics[run]
            table.add_row(f"test {m['metric']} ({run})", f"{m.get('test_' + m['metric'] + '_mean', float('nan')):.4f}")
    if "negative_transfer" in metrics:
        table.add_row("negative transfer", str(metrics["negative_transfer"]))
    if "model" in metrics:
        table.add_row("model", metrics["model"])
    report = view["report"]
    table.add_row("labeled rows used", f"{report.get('usable')} of {report.get('rows')}")
    console.print(table)
    for p in report.get("problems", [])[:10]:
        console.print(f"  row {p['row']}: {p['problem']} ({p['smiles']!r})")
    console.print("\n".join(view["logs_tail"][-5:]))


@app.command("run")
def run(data: Data, targets: Targets, name: Name, unlabeled: Unlabeled = None, encoder: Encoder = DEFAULT_ENCODER,
        strategy: str = "full", epochs: int = 30, pretrain_epochs: int = 3, seeds: int = 1,
        jobs_dir: JobsDir = None) -> None:  # fmt: skip
    """Run an adaptation here and now (same stages and record as a service job), then register the model."""
    from gnnpt.adaptation.runner import run_job

    store, job = _queue(jobs_dir, data, targets, name, unlabeled, encoder, strategy, epochs, pretrain_epochs, seeds)
    claimed = store.claim(os.getpid(), job.id)
    if claimed is None:
        raise typer.BadParameter(f"job {job.id} was taken by a worker; follow it with gnnpt adapt show {job.id}")
    run_job(store, claimed)
    _show(store.get(job.id), store)
    if store.get(job.id).status != "succeeded":
        raise typer.Exit(1)


@app.command("submit")
def submit(data: Data, targets: Targets, name: Name, unlabeled: Unlabeled = None, encoder: Encoder = DEFAULT_ENCODER,
           strategy: str = "full", epochs: int = 30, pretrain_epochs: int = 3, seeds: int = 1,
           jobs_dir: JobsDir = None) -> None:  # fmt: skip
    """Queue an adaptation for the service's workers (or `gnnpt adapt worker`)."""
    _, job = _queue(jobs_dir, data, targets, name, unlabeled, encoder, strategy, epochs, pretrain_epochs, seeds)
    console.print(f"queued {job.id}: {job.report['usable']} of {job.report['rows']} labeled rows usable")


@app.command("list")
def list_jobs(
    jobs_dir: JobsDir = None, owner: Annotated[str | None, typer.Option(help="Only this owner's.")] = None
) -> None:
    """Jobs, newest first."""
    from gnnpt.adaptation.jobs import JobStore

    table = Table("id", "name", "status", "progress", "owner")
    for j in JobStore(jobs_dir).list(owner):
        table.add_row(j.id, j.name, j.status, f"{100 * j.progress:.0f}%", j.owner[:12])
    console.print(table)


@app.command("show")
def show(job_id: str, jobs_dir: JobsDir = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A job's status, metrics, upload report and log tail."""
    from gnnpt.adaptation.jobs import JobStore

    store = JobStore(jobs_dir)
    job = store.get(job_id)
    if job is None:
        raise typer.BadParameter(f"no job {job_id!r} in {store.root}")
    if as_json:
        from gnnpt.api.adaptations import job_view

        typer.echo(json.dumps(job_view(job, store), indent=2))
    else:
        _show(job, store)


@app.command("cancel")
def cancel(job_id: str, jobs_dir: JobsDir = None) -> None:
    """Cancel a queued job, or stop a running one at its next epoch."""
    from gnnpt.adaptation.jobs import JobStore

    job = JobStore(jobs_dir).cancel(job_id)
    if job is None:
        raise typer.BadParameter(f"no job {job_id!r}")
    console.print(f"{job.id}: {job.status}{' (stopping at the next epoch)' if job.status == 'running' else ''}")


@app.command("worker")
def worker(jobs_dir: JobsDir = None, max_jobs: Annotated[int | None, typer.Option(help="Stop after N jobs.")] = None,
           threads: Annotated[int, typer.Option(help="torch threads (0: default).")] = 0) -> None:  # fmt: skip
    """Run queued jobs one at a time (what the service's worker processes do)."""
    from gnnpt.adaptation.worker import work

    ran = work(jobs_dir, max_jobs=max_jobs, threads=threads)
    console.print(f"ran {ran} job(s)")
