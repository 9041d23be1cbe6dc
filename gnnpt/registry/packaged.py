"""Models shipped inside the package, and ``load``: a packaged name, a saved model directory, or the default."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from gnnpt.finetune.model import FinetunedModel, load_model

DEFAULT_MODEL = "tox21"


def packaged_dir() -> Path:
    """The folder of the models that ship with gnnpt (``gnnpt/data/models``)."""
    return Path(str(resources.files("gnnpt") / "data" / "models"))


def packaged_models() -> list[str]:
    """Names of the shipped models."""
    root = packaged_dir()
    return sorted(p.name for p in root.iterdir() if (p / "card.json").exists()) if root.is_dir() else []


def load(name: str | Path | None = None, device: str = "cpu") -> FinetunedModel:
    """A fine-tuned model: the default (Tox21) when ``name`` is None, a shipped model by name, or a directory."""
    name = DEFAULT_MODEL if name is None else name
    path = Path(name)
    if not path.is_dir():
        if str(name) not in packaged_models():
            raise FileNotFoundError(
                f"{name!r} is neither a saved model directory nor a shipped model ({', '.join(packaged_models())})"
            )
        path = packaged_dir() / str(name)
    return load_model(path, device)
