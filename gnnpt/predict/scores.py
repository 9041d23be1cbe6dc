"""Each ensemble member's scores in the units ``predict`` reports, shared by prediction and attribution."""

from __future__ import annotations

import torch

from gnnpt.finetune.model import FinetunedModel
from gnnpt.store.packed import GraphBatch


def member_scores(model: FinetunedModel, graphs: GraphBatch) -> torch.Tensor:
    """[members, graphs, outputs]: probabilities (classification, multiclass) or values (regression).

    Their mean over members is exactly ``model.predict_graphs``; differentiable (the caller picks the grad mode).
    """
    outs = model(graphs).float()
    if model.task_type == "classification":
        return torch.sigmoid(outs)
    if model.task_type == "multiclass":
        return torch.softmax(outs, dim=-1)
    return outs


def output_index(model: FinetunedModel, task: str | int | None) -> int:
    """Column of ``task`` (an output name or position) among ``model.output_names()``; None is the first output."""
    names = model.output_names()
    if task is None:
        return 0
    if isinstance(task, int):
        if not -len(names) <= task < len(names):
            raise IndexError(f"task {task} is out of range: the model has {len(names)} outputs {names}")
        return task % len(names)
    if task not in names:
        raise ValueError(f"unknown task {task!r}; choose one of {names}")
    return names.index(task)
