"""Models shipped inside the package (``gnnpt/data/models``): trusted like the package's code."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path


def packaged_dir() -> Path:
    """The folder of the models that ship with gnnpt (``gnnpt/data/models``)."""
    return Path(str(resources.files("gnnpt") / "data" / "models"))


def packaged_models() -> list[str]:
    """Names of the shipped models."""
    root = packaged_dir()
    return sorted(p.name for p in root.iterdir() if (p / "card.json").exists()) if root.is_dir() else []


def packaged_encoders() -> list[str]:
    """Names of the shipped pretrained encoders (cards of kind ``encoder``)."""
    return [n for n in packaged_models() if json.loads((packaged_dir() / n / "card.json").read_text()).get("kind")
            == "encoder"]  # fmt: skip
