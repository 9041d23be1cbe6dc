"""Where models come from: the models shipped in the package and saved model directories."""

from gnnpt.registry.packaged import DEFAULT_MODEL, load, packaged_dir, packaged_models

__all__ = ["DEFAULT_MODEL", "load", "packaged_dir", "packaged_models"]
