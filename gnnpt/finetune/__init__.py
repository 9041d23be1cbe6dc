"""Fine-tuning pretrained encoders on labeled molecules: tasks, metrics, strategies, training, baselines.

from gnnpt.finetune import FinetuneConfig, load_labeled, run_finetune
path, result = run_finetune(load_labeled("tox21"), FinetuneConfig(encoder="runs/gin/encoder"), "models/tox21")

The names load on first use: scoring imports ``gnnpt.finetune.model`` without the training stack (Lightning).
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "FinetunedModel": "model", "load_model": "model",
    "LabeledData": "run", "load_labeled": "run", "make_split": "run", "run_finetune": "run",
    "Strategy": "strategies", "count_trainable": "strategies",
    "FinetuneConfig": "train", "FinetuneResult": "train", "finetune": "train",
}  # fmt: skip
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gnnpt.finetune' has no attribute {name!r}")
    return getattr(import_module(f"gnnpt.finetune.{_EXPORTS[name]}"), name)
