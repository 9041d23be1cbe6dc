"""Featurization: SMILES / RDKit molecules to integer graph features (``hu2020`` and ``ogb`` schemes).

Names are imported lazily so worker processes that only need :mod:`gnnpt.featurization.chunk`
do not pay for importing torch.
"""

from gnnpt.lazy import lazy_attributes

_EXPORTS = {
    "ErrorReason": "gnnpt.store.errors",
    "FeaturizationError": "gnnpt.store.errors",
    "cached_featurize": "gnnpt.featurization.cache",
    "cached_features": "gnnpt.featurization.cache",
    "Standardization": "gnnpt.featurization.standardize",
    "featurize": "gnnpt.featurization.pipeline",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_attributes(__name__, _EXPORTS)
