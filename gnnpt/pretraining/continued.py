"""Domain-adaptive encoders: an encoder continued on a set's own molecules (an adaptation job's unlabeled library and
its labeled molecules' structures, never their labels) for a bounded number of minutes with descriptor prediction,
the pretraining objective that pays today (``pretraining/RESULTS.md``); ``auto`` takes it as one more frozen-encoder
candidate (:data:`ADAPTED`) in adaptation jobs and the learning curves."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl

from gnnpt.config import settings
from gnnpt.models.defaults import DEFAULT_ENCODER

ADAPTED = "encoder_adapted"  # auto's candidate: an MLP head on the encoder continued on the set's molecules
ADAPT_MINUTES = 2.0  # an adaptation job's default budget for the continued pretraining

OBJECTIVE = {"descriptors": {"weight": 1.0, "set": "fast", "pooling": "mean"}}
LR = 5e-4  # half a from-scratch run's: the encoder moves towards the domain without forgetting what it knew
MAX_BATCH = 64


class _Minutes(pl.Callback):
    """Tells ``on_fraction`` the share of the time budget spent (the run stops at the budget)."""

    def __init__(self, on_fraction: Callable[[float], None], budget_s: float):
        self.on_fraction, self.budget_s, self.start = on_fraction, budget_s, time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        self.on_fraction((time.monotonic() - self.start) / self.budget_s)


def continue_encoder(encoder: str, molecules: Sequence[str], minutes: float, out: Path, name: str,
                     on_fraction: Callable[[float], None] | None = None, seed: int = 0) -> Path:  # fmt: skip
    """The saved directory of ``encoder`` continued for ``minutes`` on ``molecules`` (deduplicated); a run already
    finished in ``out`` (a resumed job) is returned as it is, one cut off resumes from its last checkpoint.
    ``on_fraction``: told the share of the minutes spent (it may raise to stop the run)."""
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
    return pretrain(cfg, callbacks=[_Minutes(on_fraction, minutes * 60)] if on_fraction is not None else [])


def adapted_encoders(smiles: Sequence[str], seed: int, encoder: str = DEFAULT_ENCODER,
                     minutes: float = ADAPT_MINUTES) -> dict[str, str]:  # fmt: skip
    """``{ADAPTED: directory}``: ``encoder`` continued on ``smiles`` (their structures only) for ``minutes`` as an
    adaptation job continues it, for ``AutoConfig.encoders``; kept in the cache (``adapted/<hash>``) for the same
    molecules, encoder, minutes and seed, so every label budget of a set shares it."""
    key = hashlib.sha256("\n".join([encoder, str(minutes), str(seed), *smiles]).encode()).hexdigest()[:16]
    out = settings().cache_dir / "adapted" / key
    return {ADAPTED: str(continue_encoder(encoder, smiles, minutes, out, ADAPTED, seed=seed))}
