"""Where models come from: the models shipped in the package, the local model store, saved model directories."""

from gnnpt.registry.packaged import DEFAULT_MODEL, load, model_path, packaged_dir, packaged_models
from gnnpt.registry.store import (
    ModelEntry,
    RegistryError,
    export_model,
    import_model,
    list_models,
    remove,
    resolve,
    show,
    store_dir,
    verify,
)

__all__ = [
    "DEFAULT_MODEL",
    "ModelEntry",
    "RegistryError",
    "export_model",
    "import_model",
    "list_models",
    "load",
    "model_path",
    "packaged_dir",
    "packaged_models",
    "remove",
    "resolve",
    "show",
    "store_dir",
    "verify",
]
