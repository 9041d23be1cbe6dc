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

app = typer.Typer(help="Domain adaptation jobs: auto's recipe on your labels with the encoder continued on your "
                       "molecules as one more candidate, a report of what adapting bought, register.",
                  no_args_is_help=True)  # fmt: skip
console = Console()
LOCAL_OWNER = "local"

Data = Annotated[Path, typer.Option(help="Labeled file: a SMILES column and the target column(s).")]
Targets = Annotated[list[str], typer.Option(help="Target column (repeat for several).")]
Name = Annotated[str | None, typer.Option(help="Name the model is registered under (an update keeps its name).")]
Unlabeled = Annotated[Path | None, typer.Option(help="Unlabeled molecules of your domain (the adapted encoder's).")]
Encoder = Annotated[str, typer.Option(help="The encoder to continue on your molecules and offer frozen: a shipped or "
                                           "model-store encoder, none, hu2020:<name>, or an encoder dir.")]  # fmt: skip
Candidates = Annotated[list[str] | None, typer.Option(help="auto candidate (repeat; default: auto's and encoder).")]
AdaptMinutes = Annotated[float, typer.Option(help="Minutes of continued pretraining (0: no adapted candidate).")]
Folds = Annotated[int, typer.Option(help="The report's scaffold cross-validation folds.")]
Repeats = Annotated[int, typer.Option(help="The report's cross-validation, repeated with other fold seeds.")]
SelectionFolds = Annotated[int, typer.Option(help="auto's scaffold folds that weigh the candidates (0: a validation "
                                                  "part).")]  # fmt: skip
Seeds = Annotated[int, typer.Option(help="How many seeds each candidate trains with (auto's seeds: that many members "
                                         "per candidate, averaged; more is steadier and slower).")]  # fmt: skip
UPDATE_HELP = "An earlier job's model (name or name@vN): train its next version from its labels plus these."
Update = Annotated[str | None, typer.Option(help=UPDATE_HELP)]
JobsDir = Annotated[Path | None, typer.Option(help="Job store (default $GNNPT_JOBS_DIR or the gnnpt cache).")]
SPEC_OPTIONS = ("encoder", "candidates", "adapt_minutes", "folds", "repeats", "selection_folds", "seeds", "update")


def _queue(jobs_dir: Path | None, data: Path, targets: list[str], name: str | None, unlabeled: Path | None,
           settings: dict):  # fmt: skip
    """Check the files and queue the job; a file that cannot train a model ends the command with the reason."""
    from gnnpt.adaptation.jobs import JobStore
    from gnnpt.adaptation.spec import JOB_CANDIDATES, AdaptationSpec
    from gnnpt.adaptation.submit import submit_job

    update = settings.get("update")
    if name is None and update is None:
        raise typer.BadParameter("give the model a --name (or --update an earlier one)")
    store = JobStore(jobs_dir)
    try:
        spec = AdaptationSpec(name=name or update.partition("@")[0], targets=targets,
                              **{**settings, "candidates": settings["candidates"] or list(JOB_CANDIDATES)})  # fmt: skip
        return store, submit_job(store, LOCAL_OWNER, spec, data, unlabeled)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _show(job, store) -> None:
    from gnnpt.adaptation.report import number
    from gnnpt.api.adaptations import job_view

    view = job_view(job, store)
    table = Table(title=f"adaptation {job.name} ({job.id})", show_header=False)
    stage = f"{view['stage']}" + (f" ({100 * view['stage_fraction']:.0f}%)" if view["stage_fraction"] is not None
                                  else "")  # fmt: skip
    eta = f"about {view['eta_s']:.0f} s left" if view["eta_s"] is not None and job.status == "running" else "—"
    for key, value in (("status", view["status"]), ("stage", stage), ("progress", f"{100 * view['progress']:.0f}%"),
                       ("estimate", eta), ("error", view["error"]), ("attempts", view["attempts"])):  # fmt: skip
        table.add_row(key, str(value))
    metrics = job.metrics or {}
    cv = metrics.get("cross_validation")
    if cv:
        for method in cv["methods"].values():
            table.add_row(f"{cv['metric']}: {method['label']}", f"{number(method['mean'])} ± {number(method['std'])}")
        table.add_row("did adaptation pay?", cv["comparison"]["verdict"])
    if metrics.get("domain"):
        table.add_row("library in the domain", number(metrics["domain"]["share"]))
    if "versions" in metrics:
        v = metrics["versions"]
        table.add_row(f"{v['previous']} on the new molecules", number(v["prospective"]["score"]))
        table.add_row("change by cross-validation", number(v["change"]))
    if "model" in metrics:
        table.add_row("model", metrics["model"])
    report = view["report"]
    table.add_row("labeled rows used", f"{report.get('usable')} of {report.get('rows')}")
    console.print(table)
    for note in metrics.get("notes", []):
        console.print(f"  note: {note}")
    for p in report.get("problems", [])[:10]:
        console.print(f"  row {p['row']}: {p['problem']} ({p['smiles']!r})")
    console.print("\n".join(view["logs_tail"][-5:]))


@app.command("run")
def run(data: Data, targets: Targets, name: Name = None, unlabeled: Unlabeled = None,
        encoder: Encoder = DEFAULT_ENCODER, candidates: Candidates = None, adapt_minutes: AdaptMinutes = 2.0,
        folds: Folds = 5, repeats: Repeats = 1, selection_folds: SelectionFolds = 3, seeds: Seeds = 1,
        update: Update = None, jobs_dir: JobsDir = None) -> None:  # fmt: skip
    """Run an adaptation here and now (same stages and report as a service job), then register the model."""
    from gnnpt.adaptation.runner import run_job

    settings = {k: v for k, v in locals().items() if k in SPEC_OPTIONS}
    store, job = _queue(jobs_dir, data, targets, name, unlabeled, settings)
    claimed = store.claim(os.getpid(), job.id)
    if claimed is None:
        raise typer.BadParameter(f"job {job.id} was taken by a worker; follow it with gnnpt adapt show {job.id}")
    run_job(store, claimed)
    _show(store.get(job.id), store)
    if store.get(job.id).status != "succeeded":
        raise typer.Exit(1)


@app.command("submit")
def submit(data: Data, targets: Targets, name: Name = None, unlabeled: Unlabeled = None,
           encoder: Encoder = DEFAULT_ENCODER, candidates: Candidates = None, adapt_minutes: AdaptMinutes = 2.0,
           folds: Folds = 5, repeats: Repeats = 1, selection_folds: SelectionFolds = 3, seeds: Seeds = 1,
           update: Update = None, jobs_dir: JobsDir = None) -> None:  # fmt: skip
    """Queue an adaptation for the service's workers (or `gnnpt adapt worker`)."""
    settings = {k: v for k, v in locals().items() if k in SPEC_OPTIONS}
    _, job = _queue(jobs_dir, data, targets, name, unlabeled, settings)
    console.print(f"queued {job.id}: {job.report['usable']} of {job.report['rows']} labeled rows usable")


@app.command("list")
def list_jobs(
    jobs_dir: JobsDir = None, owner: Annotated[str | None, typer.Option(help="Only this owner's.")] = None
) -> None:
    """Jobs, newest first."""
    from gnnpt.adaptation.jobs import JobStore

    table = Table("id", "name", "status", "stage", "progress", "owner")
    for j in JobStore(jobs_dir).list(owner):
        table.add_row(j.id, j.name, j.status, j.stage or "—", f"{100 * j.progress:.0f}%", j.owner[:12])
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
    """Cancel a queued job, or stop a running one at its next progress report."""
    from gnnpt.adaptation.jobs import JobStore

    job = JobStore(jobs_dir).cancel(job_id)
    if job is None:
        raise typer.BadParameter(f"no job {job_id!r}")
    stopping = " (stopping at its next progress report)" if job.status == "running" else ""
    console.print(f"{job.id}: {job.status}{stopping}")


@app.command("worker")
def worker(jobs_dir: JobsDir = None, max_jobs: Annotated[int | None, typer.Option(help="Stop after N jobs.")] = None,
           threads: Annotated[int, typer.Option(help="torch threads (0: default).")] = 0) -> None:  # fmt: skip
    """Run queued jobs one at a time (what the service's worker processes do)."""
    from gnnpt.adaptation.worker import work

    ran = work(jobs_dir, max_jobs=max_jobs, threads=threads)
    console.print(f"ran {ran} job(s)")
