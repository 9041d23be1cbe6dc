"""``/v1/adaptations``: submit, follow, list and cancel domain-adaptation jobs; each job's result page."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from fastapi.responses import HTMLResponse

from gnnpt.adaptation.jobs import Job, JobStore
from gnnpt.adaptation.report import report_html
from gnnpt.adaptation.runner import LOG_FILE
from gnnpt.adaptation.spec import JOB_CANDIDATES, MAX_ADAPT_MINUTES, AdaptationSpec
from gnnpt.adaptation.submit import UploadTooLarge, check_unpacked, submit_job, upload_suffix
from gnnpt.featurization.contained import ParseLimits
from gnnpt.models.defaults import DEFAULT_ENCODER

# Encoders a request may name: none, a published checkpoint, or a model-store name; never a path on the server.
_ENCODER = re.compile(r"none(:[a-z]+)?|hu2020:[A-Za-z0-9_.-]+|[A-Za-z0-9][A-Za-z0-9._-]*(@v\d+)?")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # what AdaptationSpec accepts, stated in the schema
UPDATE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@v\d+)?$"
NAME_HELP = ("Name the adapted model is registered (and served) under: 1-64 letters, digits, '.', '_' or '-', "
             "starting with a letter or digit.")  # fmt: skip
LOG_TAIL = 20
RETRY_AFTER_S = 2
BUSY_TIMEOUT_S = 5.0  # how long a request waits for the job store's write lock before it is answered 503
T = TypeVar("T")


def job_view(job: Job, store: JobStore, problems: int = 50) -> dict[str, Any]:
    """What GET returns for a job: status, stage (with its fraction done), progress of the whole job and an estimate of
    the seconds left, metrics (the report), the upload report (first problems) and the log tail."""
    report = dict(job.report or {})
    if "problems" in report:
        report["problems_total"] = len(report["problems"])
        report["problems"] = report["problems"][:problems]
    return {"id": job.id, "name": job.name, "status": job.status, "stage": job.stage,
            "stage_fraction": job.stage_fraction, "progress": job.progress, "eta_s": job.eta_s,
            "spec": job.spec, "report": report, "metrics": job.metrics, "error": job.error, "attempts": job.attempts,
            "created": job.created, "started": job.started, "finished": job.finished,
            "logs_tail": log_tail(store, job), "result_page": f"/v1/adaptations/{job.id}/report"}  # fmt: skip


def log_tail(store: JobStore, job: Job, lines: int = LOG_TAIL) -> list[str]:
    path = store.folder(job.id) / LOG_FILE
    return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:] if path.exists() else []


def without_paths(message: str, names: dict[Path, str]) -> str:
    """``message`` with each upload's path on the server replaced by the name the caller gave the file."""
    for path, name in names.items():
        message = message.replace(str(path), PurePath(name).name or "the upload")
    return message


async def stored(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` on the job store, off the event loop (SQLite may wait for another connection's lock): while the
    store stays locked past its busy timeout the answer is 503 with ``Retry-After``, never a frozen server or a 500."""
    try:
        return await asyncio.to_thread(call, *args)
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the job store is busy; retry in a few seconds",
                            headers={"Retry-After": str(RETRY_AFTER_S)}) from None  # fmt: skip


def adaptation_router(store: JobStore, owner: Any, default_encoder: str = DEFAULT_ENCODER,
                      limits: ParseLimits = ParseLimits(), max_upload_bytes: int = 50_000_000
                      ) -> APIRouter:  # fmt: skip
    """The routes; ``owner`` is the dependency that gives the caller's identity (its API key digest)."""
    router = APIRouter(prefix="/v1/adaptations", tags=["adaptations"])
    caller = Depends(owner)

    async def mine(job_id: str, who: str) -> Job:
        job = await stored(store.get, job_id, who)
        if job is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no adaptation job {job_id!r} (of yours)")
        return job

    @router.post("", status_code=status.HTTP_202_ACCEPTED)
    async def submit(
        labeled: Annotated[UploadFile, File(description="CSV/TSV/SMI/SDF/Parquet: a SMILES column + target columns.")],
        name: Annotated[str, Form(pattern=NAME_PATTERN, description=NAME_HELP)],
        targets: Annotated[str, Form(pattern=r"[^,\s]", description="Target column(s), comma-separated.")],
        unlabeled: Annotated[UploadFile | None, File(description="Unlabeled molecules of your domain.")] = None,
        smiles_col: Annotated[str | None, Form()] = None,
        task_type: Annotated[str | None, Form(description="classification or regression (inferred).")] = None,
        encoder: Annotated[
            str | None,
            Form(
                description=f"A shipped or model-store encoder (default {DEFAULT_ENCODER}) to continue on your "
                "molecules and offer frozen, none or hu2020:<name>."
            ),
        ] = None,
        candidates: Annotated[
            str, Form(description=f"Comma-separated auto candidates (default {','.join(JOB_CANDIDATES)}).")
        ] = "",
        adapt_minutes: Annotated[
            float, Form(ge=0, le=MAX_ADAPT_MINUTES, description="Minutes of continued pretraining (0: none).")
        ] = 2.0,
        folds: Annotated[int, Form(ge=2, le=10, description="The report's scaffold cross-validation folds.")] = 5,
        repeats: Annotated[int, Form(ge=1, le=5, description="The report's cross-validation repeats.")] = 1,
        selection_folds: Annotated[int, Form(ge=0, le=10, description="auto's folds that weigh candidates.")] = 3,
        seeds: Annotated[int, Form(ge=1, le=10)] = 1,
        update: Annotated[
            str | None,
            Form(
                pattern=UPDATE_PATTERN,
                description="An earlier job's model (name or name@vN): train its next "
                "version from its labels plus these, with a prospective check of it on the new molecules.",
            ),
        ] = None,
        who: str = caller,
    ) -> dict[str, Any]:
        """Queue an adaptation: the encoder continued on ``unlabeled`` (and the labeled structures), auto's recipe on
        ``labeled`` with that encoder as one more candidate, a report of what adapting bought (scaffold
        cross-validation against the recipe without it and two peers), then registration as ``name`` (or the next
        version of ``update``). Rows with an invalid SMILES or a non-numeric label are left out and listed."""
        encoder = encoder or default_encoder
        if not _ENCODER.fullmatch(encoder):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"encoder {encoder!r}: name 'none', 'hu2020:<name>' or a model-store "
                                "encoder")  # fmt: skip
        try:
            spec = AdaptationSpec(name=name,
                                  targets=[t.strip() for t in targets.split(",") if t.strip()],
                                  smiles_col=smiles_col, task_type=task_type, encoder=encoder,
                                  candidates=[c.strip() for c in candidates.split(",") if c.strip()]
                                  or list(JOB_CANDIDATES), adapt_minutes=adapt_minutes, folds=folds,
                                  repeats=repeats, selection_folds=selection_folds, seeds=seeds,
                                  update=update)  # fmt: skip
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        job_id = store.new_id()
        folder = store.folder(job_id)
        folder.mkdir(parents=True)
        paths = {}
        for key, upload in (("labeled", labeled), ("unlabeled", unlabeled)):
            if upload is not None:
                paths[key] = folder / f"upload_{key}{upload_suffix(upload.filename)}"
                with paths[key].open("wb") as f:
                    await asyncio.to_thread(shutil.copyfileobj, upload.file, f)
        try:
            for key, path in paths.items():
                name = (labeled if key == "labeled" else unlabeled).filename or key
                await asyncio.to_thread(check_unpacked, path, max_upload_bytes, PurePath(name).name)
            job = await stored(submit_job, store, who, spec, paths["labeled"], paths.get("unlabeled"), job_id, limits)
        except UploadTooLarge as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
        except ValueError as exc:
            shutil.rmtree(folder, ignore_errors=True)  # nothing queued: the uploads go too
            uploads = {"labeled": labeled, "unlabeled": unlabeled}
            names = {path: uploads[key].filename or key for key, path in paths.items()}
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, without_paths(str(exc), names)) from None
        return await asyncio.to_thread(job_view, job, store)

    @router.get("")
    async def jobs(who: str = caller) -> list[dict[str, Any]]:
        """Your jobs, newest first."""
        return [{"id": j.id, "name": j.name, "status": j.status, "progress": j.progress, "created": j.created}
                for j in await stored(store.list, who)]  # fmt: skip

    @router.get("/{job_id}")
    async def job(job_id: str, who: str = caller) -> dict[str, Any]:
        """Status, stage, progress, metrics, the upload report and the last log lines."""
        return await asyncio.to_thread(job_view, await mine(job_id, who), store)

    @router.delete("/{job_id}")
    async def cancel(job_id: str, who: str = caller) -> dict[str, Any]:
        """Cancel: a queued job at once, a running one at its next epoch end."""
        await mine(job_id, who)
        return await asyncio.to_thread(job_view, await stored(store.cancel, job_id, who), store)

    @router.get("/{job_id}/report", response_class=HTMLResponse)
    async def report(job_id: str, who: str = caller) -> HTMLResponse:
        """The result page: did adaptation pay (cross-validation with and without it, beside two peers), calibration
        and coverage on held-out folds, the library's share in the model's domain, an update's prospective check."""
        found = await mine(job_id, who)
        return HTMLResponse(report_html(found, await asyncio.to_thread(log_tail, store, found, 40)))

    return router
