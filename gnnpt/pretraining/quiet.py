"""Lightning without its per-fit banners (devices, tips, "max_epochs reached") and known-harmless warnings: gnnpt
says what a run does in its own words, and a benchmark fits hundreds of models."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


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
