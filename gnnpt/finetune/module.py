"""The Lightning module that fine-tunes one encoder + head, and keeps the best-validation weights."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from gnnpt.finetune.metrics import evaluate, primary_metric
from gnnpt.finetune.strategies import Strategy, apply_strategy, set_train_mode
from gnnpt.finetune.tasks import loss_fn
from gnnpt.models.targets import Standardizer
from gnnpt.nn.heads import GraphModel
from gnnpt.store.packed import GraphBatch

PARTS = ("valid", "test")


def safe_evaluate(task_type: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """``evaluate``, or a NaN primary metric when a part cannot be scored (e.g. no task with both classes)."""
    try:
        return evaluate(task_type, y_true, y_pred)
    except ValueError:
        return {primary_metric(task_type)[0]: math.nan}


class FinetuneModule(pl.LightningModule):
    """Trains ``model`` with the loss of ``task_type`` and the parameter groups of ``strategy``.

    After every epoch the valid and test parts are scored (``history``); the weights of the epoch with the
    best validation score are kept in memory and restored when fitting ends, so the module ends as the
    best-validation model while ``history`` still holds the last epoch's test score.
    """

    def __init__(
        self,
        model: GraphModel,
        task_type: str,
        strategy: Strategy | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        pos_weight: torch.Tensor | None = None,
        standardizer: Standardizer | None = None,
    ):
        super().__init__()
        self.model, self.task_type = model, task_type
        self.strategy = strategy or Strategy()
        self.param_groups = apply_strategy(model, self.strategy, lr)
        self.lr, self.weight_decay, self.standardizer = lr, weight_decay, standardizer
        self.loss = loss_fn(task_type, pos_weight)
        self.metric, self.higher_is_better = primary_metric(task_type)
        self.history: list[dict[str, Any]] = []
        self.best_epoch: int | None = None
        self._best_score = math.nan
        self._best_state: dict[str, torch.Tensor] | None = None
        self._outputs: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._train_loss: list[torch.Tensor] = []

    def forward(self, graphs: GraphBatch) -> torch.Tensor:
        """Outputs in target units: logits for classification, de-standardized values for regression."""
        out = self.model(graphs)
        return self.standardizer.inverse(out) if self.standardizer is not None else out

    def on_train_epoch_start(self) -> None:
        set_train_mode(self.model)

    def training_step(self, batch: tuple[GraphBatch, torch.Tensor], batch_idx: int) -> torch.Tensor:
        graphs, y = batch
        if self.standardizer is not None:
            y = self.standardizer.transform(y)
        loss = self.loss(self.model(graphs), y)
        self._train_loss.append(loss.detach())
        return loss

    def validation_step(self, batch: tuple[GraphBatch, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        graphs, y = batch
        self._outputs.setdefault(dataloader_idx, []).append((y.float().cpu(), self(graphs).float().cpu()))

    def _better(self, score: float) -> bool:
        if math.isnan(score):
            return False
        if math.isnan(self._best_score):
            return True
        return score > self._best_score if self.higher_is_better else score < self._best_score

    def on_validation_epoch_end(self) -> None:
        outputs, self._outputs = self._outputs, {}
        if self.trainer.sanity_checking:
            return
        record: dict[str, Any] = {"epoch": self.current_epoch}
        if self._train_loss:
            record["train_loss"] = float(torch.stack(self._train_loss).mean())
            self._train_loss = []
        for idx, part in enumerate(PARTS):
            if outputs.get(idx):
                y = torch.cat([o[0] for o in outputs[idx]]).numpy()
                p = torch.cat([o[1] for o in outputs[idx]]).numpy()
                record[part] = safe_evaluate(self.task_type, y, p)
        self.history.append(record)
        score = record.get("valid", {}).get(self.metric, math.nan)
        worst = -math.inf if self.higher_is_better else math.inf
        self.log(f"valid_{self.metric}", worst if math.isnan(score) else score)
        if self._better(score):
            self._best_score, self.best_epoch = score, self.current_epoch
            self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def on_fit_end(self) -> None:
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        fused = self.device.type in ("cpu", "cuda")  # one kernel for all parameters: a third of the time on a CPU
        return torch.optim.Adam(copy.copy(self.param_groups), lr=self.lr, weight_decay=self.weight_decay, fused=fused)
