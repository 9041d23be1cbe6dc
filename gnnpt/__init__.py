"""gnnpt: pretrain, adapt and serve molecular graph neural networks.

Top-level names are imported on first use, so ``import gnnpt`` stays fast. Importing it sets the thread defaults
of :func:`gnnpt.runtime.runtime_defaults` (waiting OpenMP threads sleep; a value the user set stands): they are read
once, as torch or LightGBM loads, and every entry point and notebook imports this package before those.
"""

from gnnpt.lazy import lazy_attributes
from gnnpt.runtime import runtime_defaults

runtime_defaults()

__version__ = "0.1.0"

_EXPORTS = {
    "featurize": "gnnpt.featurization.pipeline",
    "Standardization": "gnnpt.featurization.standardize",
    "PackedGraphs": "gnnpt.store.packed",
    "GraphBatch": "gnnpt.store.packed",
    "cached_featurize": "gnnpt.featurization.cache",
    "load_packed": "gnnpt.store.files",
    "save_packed": "gnnpt.store.files",
    "load": "gnnpt.predict.predictor",
    "Predictor": "gnnpt.predict.predictor",
    "screen": "gnnpt.screening.api",
}
__all__ = ["__version__", *sorted(_EXPORTS)]
__getattr__ = lazy_attributes(__name__, _EXPORTS)
