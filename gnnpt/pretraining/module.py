"""The Lightning module that pretrains an encoder with one objective or a weighted combination."""

from __future__ import annotations

import math
import time
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from gnnpt.pretraining.snapshots import training_seconds
from gnnpt.store.packed import GraphBatch


class PretrainModule(pl.LightningModule):
    """Optimizes ``objective`` (a module whose ``forward(batch, generator)`` returns a dict with ``loss``).

    Adam with linear warm-up then cosine decay; the augmentation/masking randomness of step ``k`` comes
    from a generator seeded with ``(seed, k)``, so runs are reproducible and resume exactly. With
    ``time_budget_s`` (a run bounded by wall-clock time, ``Trainer(max_time=...)``) the decay follows the
    fraction of the budget spent (Lightning's ``Timer``, which keeps counting across resumes).
    """

    def __init__(
        self,
        objective: nn.Module,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        total_steps: int | None = None,
        seed: int = 0,
        schedule: str = "cosine",
        time_budget_s: float | None = None,
    ):
        super().__init__()
        self.objective = objective
        self.lr, self.weight_decay, self.warmup_steps, self.total_steps, self.seed = (
            lr, weight_decay, warmup_steps, total_steps, seed)  # fmt: skip
        if schedule not in ("cosine", "constant"):
            raise ValueError(f"unknown schedule {schedule!r}; choose cosine or constant")
        self.schedule, self.time_budget_s = schedule, time_budget_s
        self._tick: float | None = None

    @property
    def encoder(self) -> nn.Module:
        return self.objective.encoder

    def _generator(self, device: torch.device) -> torch.Generator:
        return torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + self.global_step)

    def training_step(self, batch: GraphBatch, batch_idx: int) -> torch.Tensor:
        out = self.objective(batch, self._generator(batch.x.device))
        now = time.perf_counter()
        metrics = {k: v.detach().float() for k, v in out.items()}
        if self._tick is not None:
            metrics["graphs_per_s"] = torch.tensor(batch.num_graphs / max(now - self._tick, 1e-9))
        self._tick = now
        self.log_dict(metrics, prog_bar=True, batch_size=batch.num_graphs)
        return out["loss"]

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        warmup, total = self.warmup_steps, self.total_steps

        def factor(step: int) -> float:
            if warmup and step < warmup:
                return (step + 1) / warmup
            if self.schedule == "constant":
                return 1.0
            if self.time_budget_s:
                progress = min(1.0, training_seconds(self.trainer) / self.time_budget_s)
            elif not total or total <= warmup:
                return 1.0
            else:
                progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.5 * (1.0 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
