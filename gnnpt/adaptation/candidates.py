"""auto's domain-adaptive candidates for a set of molecules outside a job (the learning curves of
``gnnpt.finetune.curves`` find :func:`adapted_encoders` by name): the job's recipe for them, encoders cached per set."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from gnnpt.adaptation.continued import continue_encoder
from gnnpt.adaptation.recipe import ADAPTED
from gnnpt.adaptation.spec import AdaptationSpec
from gnnpt.config import settings
from gnnpt.models.defaults import DEFAULT_ENCODER

JOB = AdaptationSpec(name="adapted", targets=["y"])  # the job's defaults: its encoder and minutes


def adapted_encoders(smiles: Sequence[str], seed: int, encoder: str = DEFAULT_ENCODER,
                     minutes: float = JOB.adapt_minutes) -> dict[str, str]:  # fmt: skip
    """``{"encoder_adapted": directory}``: ``encoder`` continued on ``smiles`` (their structures only) for ``minutes``
    as a job continues it, for ``AutoConfig.encoders``; kept in the cache (``adapted/<hash>``) for the same
    molecules, encoder, minutes and seed."""
    key = hashlib.sha256("\n".join([encoder, str(minutes), str(seed), *smiles]).encode()).hexdigest()[:16]
    out = settings().cache_dir / "adapted" / key
    return {ADAPTED: str(continue_encoder(encoder, smiles, minutes, out, ADAPTED, seed=seed))}
