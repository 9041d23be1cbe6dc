"""Run one adaptation job, stage by stage, resumable: (an update's prospective check) -> the encoder continued on the
job's molecules -> the model built with auto's recipe -> the report's cross-validation -> register.

Each stage writes its output into the job folder and is skipped when that output exists, so a job interrupted by a
crash continues where it stopped (the continued pretraining also from its last Lightning checkpoint). Progress (the
stage, how far through it, an estimate of the time left) and the cancel flag are exchanged with the job store after
every fit and every second of pretraining.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnnpt.adaptation.evaluation import cross_validate, library_domain, rounded
from gnnpt.adaptation.jobs import Job, JobStore
from gnnpt.adaptation.progress import Cancelled, StageProgress
from gnnpt.adaptation.recipe import ADAPTED, BLEND_MIN, job_config, report_folds, training_parts
from gnnpt.adaptation.spec import AdaptationSpec
from gnnpt.adaptation.versions import CARD_KEY, TRAINING_LABELS, change, merge, previous, prospective
from gnnpt.featurization.cache import cached_featurize
from gnnpt.finetune.auto import AutoConfig, run_auto
from gnnpt.finetune.metrics import primary_metric
from gnnpt.finetune.run import LabeledData
from gnnpt.models.card import read_card, write_card
from gnnpt.pretraining.continued import continue_encoder

LABELED_FILE = "labeled.csv"  # the usable rows of the upload (smiles + targets), written at submission
UNLABELED_FILE = "unlabeled.csv"  # the parsable unlabeled SMILES (one column, "smiles")
LOG_FILE = "log.txt"
CV_FILE = "cross_validation.json"
CHECK_FILE = "prospective.json"
FIXED_S = {"prospective": 15.0, "register": 5.0}  # the plan's guesses for the short stages


def _job_logger(folder: Path) -> logging.Logger:
    log = logging.getLogger(f"gnnpt.adaptation.{folder.name}")
    if not log.handlers:
        handler = logging.FileHandler(folder / LOG_FILE)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def run_job(store: JobStore, job: Job) -> None:
    """Run ``job`` to its end: succeeded (model registered), cancelled, or failed with the reason."""
    folder = store.folder(job.id)
    log = _job_logger(folder)
    try:
        spec = AdaptationSpec.from_dict(job.spec)  # a spec this version cannot read fails its job, not the worker
        log.info("attempt %d (worker pid %d): %s", job.attempts, os.getpid(), spec.to_dict())
        metrics = _stages(store, job, spec, folder, log)
    except Cancelled:
        log.info("cancelled")
        store.finish(job.id, "cancelled", "cancelled by its owner")
        return
    except Exception as exc:
        log.info("failed:\n%s", traceback.format_exc())
        store.finish(job.id, "failed", f"{type(exc).__name__}: {exc}")
        return
    log.info("succeeded: %s", metrics.get("model"))
    store.finish(job.id, "succeeded", metrics=metrics)


def plan(spec: AdaptationSpec, labels: int, adapts: bool) -> dict[str, float]:
    """Each stage's expected seconds on two cores (the estimate of the time left corrects them as the job runs). The
    proportions are one measured job's (500 labels, 3,000 unlabeled): featurizing the corpus adds a third to the
    pretraining minutes, and a report fold costs a third of the build, whose featurization it reuses."""
    cfg, _ = job_config(spec, labels, "adapted" if adapts else None)
    per_fit = 0.5 + labels / 250
    build = len(cfg.candidates) * (1 + cfg.folds) * per_fit
    stages = {"prospective": FIXED_S["prospective"]} if spec.update else {}
    if adapts:
        stages["adapt"] = spec.adapt_minutes * 60 * 4 / 3
    folds, _ = report_folds(spec, labels)
    return {**stages, "build": build, "evaluate": build * folds * spec.repeats / 3, "register": FIXED_S["register"]}


def _stages(store: JobStore, job: Job, spec: AdaptationSpec, folder: Path, log: logging.Logger) -> dict[str, Any]:
    frame = pd.read_csv(folder / LABELED_FILE)
    unlabeled = folder / UNLABELED_FILE
    library = pd.read_csv(unlabeled)["smiles"].astype(str).tolist() if unlabeled.exists() else []
    notes: list[str] = []
    if spec.update:
        old_ref, old_card, old = previous(spec, store)
        frame, unseen = merge(old, frame)
        notes.append(f"an update of {old_ref}: {len(old)} earlier labels plus {len(unseen)} new molecules")
    frame.to_csv(folder / TRAINING_LABELS, index=False)
    data = spec.labeled_data(frame)
    adapts = spec.adapts and len(data.smiles) >= BLEND_MIN  # fewer labels: a forest alone (job_config's note)
    progress = StageProgress(store, job.id, plan(spec, len(data.smiles), adapts))
    metric, higher = primary_metric(data.task_type)
    metrics: dict[str, Any] = {"task_type": data.task_type, "metric": metric, "higher_is_better": higher,
                               "labels": len(data.smiles), "library": len(library)}  # fmt: skip
    if spec.update:
        progress.begin("prospective")
        check = _cached(folder / CHECK_FILE, lambda: prospective(old_ref, unseen, spec.targets, data.task_type))
        log.info("prospective check of %s on %d new molecules: %s %s", old_ref, len(unseen), metric, check["score"])
    adapted = None
    if adapts:
        progress.begin("adapt")
        if (folder / "adapted" / "encoder" / "card.json").exists():
            log.info("the encoder is already continued (resumed job)")
        else:
            log.info("continuing %s on %d molecules for %s minutes (descriptor prediction)", spec.encoder,
                     len(library) + len(data.smiles), spec.adapt_minutes)  # fmt: skip
        adapted = continue_encoder(spec.encoder, library + data.smiles, spec.adapt_minutes, folder / "adapted",
                                   spec.name, progress.update)  # fmt: skip
        metrics["adaptation"] = _adaptation_record(adapted, spec)
    cfg, small = job_config(spec, len(data.smiles), str(adapted) if adapted else None)
    notes += small
    progress.begin("build")
    model_dir, card = _build(data, cfg, folder, job.id, log, progress)
    metrics["model_choice"] = _choice(card, higher)
    progress.begin("evaluate")
    folds, few = report_folds(spec, len(data.smiles))
    notes += few
    log.info("the report: %d x %d-fold scaffold cross-validation of the recipe", spec.repeats, folds)
    cv = _cached(folder / CV_FILE, lambda: cross_validate(data, cfg, folds, spec.repeats, cached_featurize(data.smiles),
                                                           progress.update, log.info))  # fmt: skip
    metrics["cross_validation"] = cv
    progress.begin("register")
    metrics["domain"] = library_domain(model_dir, library)
    if spec.update:
        metrics["versions"] = change(old_card, cv, old_ref, check)
    metrics["notes"] = notes + cv["notes"]
    card[CARD_KEY] = {"job": job.id, "targets": list(spec.targets), "task_type": data.task_type,
                      "cv": (cv["methods"].get("recipe") or {}).get("mean"),
                      "verdict": cv["comparison"]["verdict"]}  # fmt: skip
    write_card(model_dir, card)
    from gnnpt.models.store import import_model

    metrics["model"] = import_model(model_dir, name=spec.name).ref
    return metrics


def _build(data: LabeledData, cfg: AutoConfig, folder: Path, job_id: str, log: logging.Logger,
           progress: StageProgress) -> tuple[Path, dict[str, Any]]:  # fmt: skip
    """The job's model: auto's recipe on every label (a scaffold eighth validates the MLP heads), saved in the job
    folder; kept as it is when a resumed job finds it there."""
    out = folder / "model"
    if (out / "card.json").exists():
        log.info("the model is already built (resumed job)")
        return out, read_card(out)
    log.info("building with auto's recipe: %s", ", ".join(cfg.candidates))
    parts = training_parts(data.smiles, np.arange(len(data.smiles)), np.zeros(0, np.int64), seed=0)
    path, _ = run_auto(data, cfg, out, split="every label", parts=parts, log=log.info,
                       extra_card={"adaptation_job": job_id}, steps=progress.steps)  # fmt: skip
    return path, read_card(path)


def _choice(card: dict[str, Any], higher: bool) -> dict[str, Any]:
    """The built model's weights and each candidate's cross-validated score (as the metric reads)."""
    sign = 1 if higher else -1
    candidates = card["auto"]["candidates"]
    return {"weights": card["auto"]["chosen"],
            "candidates": {n: rounded(sign * c["cv"]) if "cv" in c else None for n, c in candidates.items()},
            "adapted_chosen": ADAPTED in card["auto"]["chosen"]}  # fmt: skip


def _adaptation_record(adapted: Path, spec: AdaptationSpec) -> dict[str, Any]:
    """What the continued pretraining did (from the encoder's card)."""
    card = read_card(adapted)
    return {"encoder": spec.encoder, "minutes": spec.adapt_minutes, "objective": "descriptor prediction",
            "molecules": card["corpus"]["molecules"], "steps": card["steps"],
            "loss": card.get("final_metrics", {}).get("loss")}  # fmt: skip


def _cached(path: Path, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``'s JSON, kept in ``path`` so a resumed job does not compute it again."""
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    path.write_text(json.dumps(value))
    return value
