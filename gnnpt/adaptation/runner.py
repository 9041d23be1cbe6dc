"""Run one adaptation job, stage by stage, resumable: pretrain on the domain -> fine-tune -> from-scratch comparison
-> register.

Each stage writes its output into the job folder and is skipped when that output exists, so a job interrupted by a
crash continues where it stopped (pretraining also from its last Lightning checkpoint). Progress and the cancel flag
are exchanged with the job store at every epoch end.
"""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path
from typing import Any

import pandas as pd
import pytorch_lightning as pl

from gnnpt.adaptation.jobs import Job, JobStore
from gnnpt.adaptation.spec import AdaptationSpec
from gnnpt.finetune.metrics import worse_beyond_spread
from gnnpt.finetune.run import run_finetune
from gnnpt.finetune.train import FinetuneConfig, FinetuneResult
from gnnpt.models.store import resolve_encoder

LABELED_FILE = "labeled.csv"  # the usable rows of the upload (smiles + targets), written at submission
UNLABELED_FILE = "unlabeled.csv"  # the parsable unlabeled SMILES (one column, "smiles")
LOG_FILE = "log.txt"


class Cancelled(Exception):
    """The job's owner cancelled it."""


class JobProgress(pl.Callback):
    """Reports the fraction of a stage's epochs done (scaled into the job's ``[start, end]`` range) and stops the
    stage when a cancel was requested."""

    def __init__(self, store: JobStore, job_id: str, stage: str, start: float, end: float, runs: int = 1):
        self.store, self.job_id, self.stage, self.start, self.end, self.runs = store, job_id, stage, start, end, runs
        self.fits = 0

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.store.update(self.job_id, stage=self.stage)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fits += 1

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epochs = max(trainer.max_epochs or 1, 1)
        done = (self.fits + (trainer.current_epoch + 1) / epochs) / self.runs
        self.store.update(self.job_id, progress=round(self.start + (self.end - self.start) * min(done, 1.0), 4))
        if self.store.cancel_requested(self.job_id):
            raise Cancelled("cancelled by its owner")


def _job_logger(folder: Path) -> logging.Logger:
    log = logging.getLogger(f"gnnpt.adaptation.{folder.name}")
    if not log.handlers:
        handler = logging.FileHandler(folder / LOG_FILE)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def _curve(result: FinetuneResult) -> list[dict[str, Any]]:
    """Per epoch (first seed): validation and test primary metric, for the learning-curve plot."""
    metric = result.metric
    history = result.runs[0].history if result.runs else []
    return [{"epoch": h["epoch"], "valid": h.get("valid", {}).get(metric), "test": h.get("test", {}).get(metric)}
            for h in history]  # fmt: skip


def _negative_transfer(adapted: dict[str, Any], scratch: dict[str, Any], seeds: int) -> bool | None:
    """The benchmark's rule over the job's seeds: worse than from scratch by more than its spread; ``None`` (not
    judged) with one seed, whose difference says nothing about noise."""
    metric = adapted["metric"]
    a, b, spread = (adapted.get(f"test_{metric}_mean"), scratch.get(f"test_{metric}_mean"),
                    scratch.get(f"test_{metric}_std"))  # fmt: skip
    if seeds < 2 or a is None or b is None or spread is None:
        return None
    return bool(worse_beyond_spread(a, b, spread, higher_is_better=metric not in ("rmse", "mae")))


def _summary(result: FinetuneResult) -> dict[str, Any]:
    return {"metric": result.metric, **result.summary(), "curve": _curve(result), "wall_time_s": result.wall_time_s}


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


def _stages(store: JobStore, job: Job, spec: AdaptationSpec, folder: Path, log: logging.Logger) -> dict[str, Any]:
    frame = pd.read_csv(folder / LABELED_FILE)
    data = spec.labeled_data(frame)
    unlabeled = folder / UNLABELED_FILE
    pretraining = unlabeled.exists() and spec.pretrain_epochs > 0
    encoder = spec.encoder
    compare = spec.compare_from_scratch and (pretraining or spec.encoder != "none")  # else both runs are the same
    bounds = (0.0, 0.35 if pretraining else 0.0, (0.8 if pretraining else 0.75) if compare else 1.0)
    if pretraining:
        encoder = str(_pretrain(store, job, spec, folder, unlabeled, bounds[1], log))
    cfg = FinetuneConfig(encoder=encoder, strategy=spec.strategy, epochs=spec.epochs, batch_size=spec.batch_size,
                         lr=spec.lr, seeds=list(range(spec.seeds)), accelerator="auto",
                         descriptors=spec.descriptors)  # fmt: skip
    metrics: dict[str, Any] = {"task_type": data.task_type, "pretrained_on_domain": pretraining}
    log.info("fine-tuning %s on %d molecules", encoder, len(data.smiles))
    progress = JobProgress(store, job.id, "finetune", bounds[1], bounds[2], spec.seeds)
    model_dir, adapted = run_finetune(data, cfg, folder / "model", spec.split, callbacks=[progress],
                                      extra_card={"adaptation_job": job.id})  # fmt: skip
    metrics["adapted"] = _summary(adapted)
    if compare:
        architecture = resolve_encoder(encoder).config()
        log.info("the same fine-tuning of the same architecture from scratch, for comparison")
        same = {"encoder": f"none:{architecture['gnn_type']}", "emb_dim": architecture["emb_dim"],
                "num_layer": architecture["num_layer"]}  # fmt: skip
        scratch_cfg = FinetuneConfig(**{**cfg.to_dict(), **same})
        progress = JobProgress(store, job.id, "from_scratch", bounds[2], 1.0, spec.seeds)
        _, scratch = run_finetune(data, scratch_cfg, folder / "from_scratch", spec.split, callbacks=[progress])
        metrics["from_scratch"] = _summary(scratch)
        metrics["negative_transfer"] = _negative_transfer(metrics["adapted"], metrics["from_scratch"], spec.seeds)
    store.update(job.id, stage="register")
    from gnnpt.models.store import import_model

    entry = import_model(model_dir, name=spec.name)
    metrics["model"] = entry.ref
    return metrics


def _pretrain(store: JobStore, job: Job, spec: AdaptationSpec, folder: Path, unlabeled: Path, end: float,
              log: logging.Logger) -> Path:  # fmt: skip
    from gnnpt.pretraining.config import PretrainConfig
    from gnnpt.pretraining.run import pretrain

    out = folder / "pretrain"
    if (out / "encoder" / "card.json").exists():
        log.info("domain-adaptive pretraining already done (resumed job)")
        return out / "encoder"
    log.info(
        "domain-adaptive pretraining of %s on %s for %d epochs", spec.encoder, unlabeled.name, spec.pretrain_epochs
    )
    init = None if spec.encoder == "none" else spec.encoder
    batch = max(2, min(64, len(pd.read_csv(unlabeled))))  # a small domain still makes a batch
    cfg = PretrainConfig(name=f"{spec.name}_domain", corpus=str(unlabeled), init=init, epochs=spec.pretrain_epochs,
                         output_dir=str(out), featurize_workers=1, batch_size=batch, lr=5e-4,
                         checkpoint_every_n_steps=50, progress=False)  # fmt: skip
    return pretrain(cfg, callbacks=[JobProgress(store, job.id, "pretrain", 0.0, end)])
