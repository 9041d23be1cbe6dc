"""MiniMol fine-tuned: the recipe that ``auto``'s ``minimol_ft`` candidate and the repeated-split panel's
``minimol_ft_full`` / ``minimol_ft_lora`` methods share, budgeted for a 2-core CPU.

MiniMol's own readout (the max over atoms, its fingerprint) feeds a two-layer MLP head, as the frozen MiniMol + head
models read the fingerprint; the network then moves with the head. Full fine-tuning takes a small learning rate (16
pretrained layers), LoRA a larger one (only its factors, the norms and the head train). At most
:data:`EPOCHS` epochs, stopping after :data:`PATIENCE` without a better validation score: a pretrained encoder peaks
early, and an epoch of MiniMol costs about ten of GIN 5x300's on a CPU.
"""

from __future__ import annotations

from typing import Any

from gnnpt.finetune.train import FinetuneConfig
from gnnpt.models.store import MINIMOL

EPOCHS = 20
PATIENCE = 5
LEARNING_RATES = {"full": 1e-4, "lora": 1e-3}


def minimol_config(strategy: str = "full", **overrides: Any) -> FinetuneConfig:
    """The fine-tuning settings of MiniMol with ``strategy`` (``full`` or ``lora[:R]``); ``overrides``: any other
    :class:`FinetuneConfig` field (seeds, epochs, ...)."""
    name = strategy.partition(":")[0]
    if name not in LEARNING_RATES:
        raise ValueError(f"MiniMol's recipe covers strategies {sorted(LEARNING_RATES)}, not {strategy!r}; for others "
                         f"build a FinetuneConfig(encoder='minimol', ...)")  # fmt: skip
    settings: dict[str, Any] = {"encoder": MINIMOL, "strategy": strategy, "pooling": "max", "head": "mlp",
                                "dropout": 0.1, "lr": LEARNING_RATES[name], "batch_size": 32, "epochs": EPOCHS,
                                "patience": PATIENCE}  # fmt: skip
    return FinetuneConfig(**{**settings, **overrides})
