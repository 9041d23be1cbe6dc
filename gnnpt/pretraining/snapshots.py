"""Encoder snapshots at wall-clock marks of one run: the points of a downstream-score-vs-budget curve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Timer

from gnnpt.models.encoders import save_encoder
from gnnpt.runtime import device_name


def hardware(trainer: pl.Trainer) -> str:
    """What a run trained on, for its card: the GPUs, or the CPU's model name and thread count."""
    device = trainer.strategy.root_device
    if device.type == "cuda":
        return f"{trainer.world_size} x {device_name(device)}"
    return device_name("cpu")


def training_seconds(trainer: pl.Trainer) -> float:
    """Seconds of fitting so far, across resumes (Lightning's ``Timer`` restores its count from checkpoints)."""
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    return float(timer.time_elapsed("train")) if timer is not None else 0.0


class EncoderSnapshots(pl.Callback):
    """Save the encoder as ``<directory>/min<M>`` (safetensors + card) once the fit has run ``M`` minutes.

    A run with a constant learning rate then gives, from one fit, the encoder a run of each shorter budget would
    have made. Marks already saved (e.g. before a resume) are kept and not written again.
    """

    def __init__(self, directory: str | Path, minutes: Sequence[float], card: dict[str, Any] | None = None):
        self.directory, self.card = Path(directory), dict(card or {})
        self.minutes = sorted(float(m) for m in minutes)

    def path(self, minutes: float) -> Path:
        return self.directory / f"min{minutes:g}"

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        elapsed = training_seconds(trainer)
        for mark in self.minutes:
            target = self.path(mark)
            if elapsed >= mark * 60 and not target.exists() and trainer.is_global_zero:
                steps = trainer.global_step
                card = {
                    **self.card,
                    "snapshot_minutes": mark,
                    "hardware": hardware(trainer),
                    "steps": steps,
                    "graphs_seen": steps * trainer.datamodule.batch_size,
                    "training_seconds": round(elapsed, 1),
                }
                save_encoder(pl_module.encoder, target, card)
