"""Lightning without its per-fit banners (devices, tips, "max_epochs reached") and known-harmless warnings: gnnpt
says what a run does in its own words, and a benchmark fits hundreds of models. Its progress bar counts epochs from
one."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from pytorch_lightning.callbacks import RichProgressBar


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Lightning's per-fit banners (devices, tips) and known-harmless warnings off: a benchmark fits hundreds."""
    loggers = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for message in ("does not have many workers", "smaller than the logging interval", "treespec"):
                warnings.filterwarnings("ignore", f".*{message}.*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class EpochBar(RichProgressBar):
    """Lightning's progress bar with epochs counted from one: the last of 2 is "Epoch 2/2" (Lightning's "Epoch 1/1"),
    and a run bounded by time shows no total (Lightning's "Epoch 3/-2")."""

    def _get_train_description(self, current_epoch: int) -> str:
        total = self.trainer.max_epochs
        description = f"Epoch {current_epoch + 1}" + (f"/{total}" if total is not None and total > 0 else "")
        return description.ljust(len(self.validation_description))  # as Lightning pads it: no flicker
