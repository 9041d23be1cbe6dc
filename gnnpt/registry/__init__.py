"""Where models come from: the models shipped in the package, the local model store, saved model directories."""

from gnnpt.registry.defaults import DEFAULT_ENCODER, DEFAULT_MODEL
from gnnpt.registry.packaged import load, model_path, packaged_dir, packaged_models
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
    "DEFAULT_ENCODER",
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
