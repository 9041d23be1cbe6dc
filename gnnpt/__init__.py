"""gnnpt: pretrain, adapt and serve molecular graph neural networks.

Top-level names are imported on first use, so ``import gnnpt`` stays fast.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "featurize": "gnnpt.featurization.pipeline",
    "Standardization": "gnnpt.featurization.standardize",
    "PackedGraphs": "gnnpt.store.packed",
    "GraphBatch": "gnnpt.store.packed",
    "cached_featurize": "gnnpt.store.cache",
    "load_packed": "gnnpt.store.cache",
    "save_packed": "gnnpt.store.cache",
    "load": "gnnpt.predict.predictor",
    "Predictor": "gnnpt.predict.predictor",
    "screen": "gnnpt.screening.api",
    "load_model": "gnnpt.finetune.model",
}
__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gnnpt' has no attribute {name!r}")
