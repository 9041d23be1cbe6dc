"""Models shipped inside the package, and ``load``: the default, a saved model directory, a stored or shipped name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from gnnpt.finetune.model import FinetunedModel, load_model
from gnnpt.registry.defaults import DEFAULT_MODEL


def packaged_dir() -> Path:
    """The folder of the models that ship with gnnpt (``gnnpt/data/models``)."""
    return Path(str(resources.files("gnnpt") / "data" / "models"))


def packaged_models() -> list[str]:
    """Names of the shipped models."""
    root = packaged_dir()
    return sorted(p.name for p in root.iterdir() if (p / "card.json").exists()) if root.is_dir() else []


def packaged_encoders() -> list[str]:
    """Names of the shipped pretrained encoders (cards of kind ``encoder``)."""
    import json

    return [n for n in packaged_models() if json.loads((packaged_dir() / n / "card.json").read_text()).get("kind")
            == "encoder"]  # fmt: skip


def model_path(name: str | Path | None = None) -> Path:
    """The directory of a model: the default (Tox21) when ``name`` is None, else a saved model directory, ``name`` or
    ``name@v2`` from the model store (see :mod:`gnnpt.registry.store`), or a shipped model by name."""
    from gnnpt.registry.store import resolve  # the store imports this module

    return packaged_dir() / DEFAULT_MODEL if name is None else resolve(name)


def load(name: str | Path | None = None, device: str = "cpu") -> FinetunedModel:
    """The fine-tuned model :func:`model_path` finds for ``name``."""
    return load_model(model_path(name), device)
