"""Featurization: SMILES / RDKit molecules to integer graph features (``hu2020`` and ``ogb`` schemes).

Names are imported lazily so worker processes that only need :mod:`gnnpt.featurization.chunk`
do not pay for importing torch.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ErrorReason": "gnnpt.featurization.errors",
    "FeaturizationError": "gnnpt.featurization.errors",
    "Standardization": "gnnpt.featurization.standardize",
    "featurize": "gnnpt.featurization.pipeline",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gnnpt.featurization' has no attribute {name!r}")
