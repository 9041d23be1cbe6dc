"""Which model output a task name or position means, shared by prediction, display and attribution."""

from __future__ import annotations

from gnnpt.models.finetuned import FinetunedModel


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
