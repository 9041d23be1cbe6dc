"""Submitting a job: check the uploads, keep their usable rows in the job folder, queue the job."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd

from gnnpt.adaptation.jobs import Job, JobStore
from gnnpt.adaptation.runner import LABELED_FILE, UNLABELED_FILE
from gnnpt.adaptation.spec import AdaptationSpec, check_labeled, check_unlabeled
from gnnpt.adaptation.versions import merge, previous
from gnnpt.featurization.contained import ParseLimits

UPLOAD_SUFFIXES = (".csv", ".tsv", ".smi", ".sdf", ".parquet", ".csv.gz", ".tsv.gz", ".smi.gz", ".sdf.gz")


def upload_suffix(filename: str | None) -> str:
    """The file type of an uploaded file's name (``.csv`` when it names none gnnpt reads)."""
    name = (filename or "").lower()
    return next((s for s in sorted(UPLOAD_SUFFIXES, key=len, reverse=True) if name.endswith(s)), ".csv")


class UploadTooLarge(ValueError):
    """An upload whose content is over the size limit once unpacked."""


def check_unpacked(path: Path, limit: int, name: str) -> None:
    """UploadTooLarge when the gzipped upload ``path`` unpacks to more than ``limit`` bytes, the most a plain upload
    may send (counted in 1 MiB steps, nothing kept: a gzip bomb costs a second, not the server's memory)."""
    with path.open("rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return
    size = 0
    try:
        with gzip.open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise UploadTooLarge(f"{name} unpacks to more than {limit:,} bytes, the limit of an upload's "
                                         "content; send fewer molecules, or split the job")  # fmt: skip
    except (OSError, EOFError) as exc:
        raise ValueError(f"{name} is not a readable gzip file ({exc}); compress it again") from None


def submit_job(
    store: JobStore,
    owner: str,
    spec: AdaptationSpec,
    labeled: Path,
    unlabeled: Path | None = None,
    job_id: str | None = None,
    limits: ParseLimits = ParseLimits(),
) -> Job:
    """Check ``labeled`` (and ``unlabeled``) row by row and queue the job; ValueError (nothing queued) when the
    labeled file cannot train a model. The uploads may already lie in the job's folder (``job_id``). Their molecules
    are parsed in a child process within ``limits``: one that crashes RDKit is that row's problem."""
    job_id = job_id or store.new_id()
    folder = store.folder(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        spec.check_resources()
        clean, report = check_labeled(labeled, spec, limits)
        if spec.update is not None:  # the model to update, its targets and its labels, with which these train
            spec.check_labels(merge(previous(spec, store)[2], clean)[0])
        else:
            spec.check_labels(clean)
        molecules = check_unlabeled(unlabeled, report, limits) if unlabeled is not None else None
    except ValueError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    clean.to_csv(folder / LABELED_FILE, index=False)
    if molecules:
        pd.DataFrame({"smiles": molecules}).to_csv(folder / UNLABELED_FILE, index=False)
    return store.submit(job_id, owner, spec.to_dict(), report.to_dict())
