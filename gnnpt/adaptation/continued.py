"""The domain-adaptive candidate's encoder: the job's encoder continued on the job's own molecules (the unlabeled
library and the labeled molecules' structures, never their labels) for a bounded number of minutes with descriptor
prediction, the pretraining objective that pays today (``pretraining/RESULTS.md``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl

from gnnpt.adaptation.progress import StageProgress

OBJECTIVE = {"descriptors": {"weight": 1.0, "set": "fast", "pooling": "mean"}}
LR = 5e-4  # half a from-scratch run's: the encoder moves towards the domain without forgetting what it knew
MAX_BATCH = 64


class _Minutes(pl.Callback):
    """The stage's fraction is the share of the time budget spent (the run stops at the budget)."""

    def __init__(self, progress: StageProgress, budget_s: float):
        self.progress, self.budget_s, self.start = progress, budget_s, time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        self.progress.update((time.monotonic() - self.start) / self.budget_s)


def continue_encoder(encoder: str, molecules: Sequence[str], minutes: float, out: Path, name: str,
                     progress: StageProgress | None = None, seed: int = 0) -> Path:  # fmt: skip
    """The saved directory of ``encoder`` continued for ``minutes`` on ``molecules`` (deduplicated); a run already
    finished in ``out`` (a resumed job) is returned as it is, one cut off resumes from its last checkpoint.
    ``progress``: told the share of the minutes spent (and may stop the run)."""
    from gnnpt.pretraining.config import PretrainConfig
    from gnnpt.pretraining.run import pretrain

    done = out / "encoder"
    if (done / "card.json").exists():
        return done
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "molecules.csv"
    unique = list(dict.fromkeys(molecules))
    pd.DataFrame({"smiles": unique}).to_csv(corpus, index=False)
    cfg = PretrainConfig(name=f"{name}_adapted", seed=seed, corpus=str(corpus), init=encoder, objectives=OBJECTIVE,
                         max_minutes=minutes, output_dir=str(out), featurize_workers=1,
                         batch_size=max(2, min(MAX_BATCH, len(unique))), lr=LR, checkpoint_every_n_steps=50,
                         progress=False)  # fmt: skip
    return pretrain(cfg, callbacks=[_Minutes(progress, minutes * 60)] if progress is not None else [])
