"""Save and load every kind of model that scores: ``model.safetensors`` (tensors) + ``card.json`` (what they are)
+ ``trees.json.gz`` (LightGBM text models, gzip-compressed: a forest is mostly repeated text, when a model has
trees).

A kind gives ``state()`` -> (card fields, tensors, tree texts) and a ``from_state(card, tensors, texts)``; the
files, the float16 option and the dtype check live here once for all of them, so a saved model is always the same
three plain files and loading never unpickles anything.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gnnpt.models.card import WEIGHTS_FILE, CardError, read_card, write_card

TREES_FILE = "trees.json.gz"


def _from_state_of(kind: str) -> Callable[[dict[str, Any], dict[str, torch.Tensor], dict[str, str]], Any]:
    if kind == "finetuned":
        from gnnpt.models.finetuned import finetuned_from_state

        return finetuned_from_state
    if kind == "tabular":
        from gnnpt.models.tabular import tabular_from_state

        return tabular_from_state
    if kind == "ensemble":
        from gnnpt.models.ensemble import ensemble_from_state

        return ensemble_from_state
    raise CardError(f"a {kind!r} card does not describe a model that scores; use a finetuned, tabular or ensemble one")


def save_model(model: Any, directory: str | Path, half: bool = False) -> Path:
    """Write ``model`` into ``directory`` (``half``: floating tensors as float16, a model half the size)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fields, tensors, texts = model.state()
    tensors = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    save_file(tensors, str(directory / WEIGHTS_FILE))
    trees = directory / TREES_FILE
    if texts:
        payload = json.dumps({"format": "lightgbm-text", "models": texts}).encode()
        trees.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))  # mtime 0: the same model, the same bytes
    elif trees.exists():
        trees.unlink()
    write_card(directory, {**fields, "dtype": "float16" if half else "float32"})
    return directory


def read_texts(directory: str | Path) -> dict[str, str]:
    """The tree texts saved beside a model (empty when it has none); CardError when the file is not what it says."""
    path = Path(directory) / TREES_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CardError(f"{path} is not gzip-compressed JSON ({exc})") from None
    models = data.get("models") if isinstance(data, dict) else None
    if data.get("format") != "lightgbm-text" or not isinstance(models, dict):
        raise CardError(f"{path} is not a gnnpt tree file (format lightgbm-text with a models object)")
    if not all(isinstance(v, str) for v in models.values()):
        raise CardError(f"{path}: every tree model is a LightGBM text model (a string)")
    return models


def load_model_dir(directory: str | Path, device: str | torch.device = "cpu", kind: str | None = None) -> Any:
    """The model saved in ``directory`` by :func:`save_model`, of ``kind`` when given (CardError names what does
    not fit: the card against its weights, dtype, trees)."""
    card = read_card(directory, kind=kind)
    tensors = load_file(str(Path(directory) / WEIGHTS_FILE))
    stored = {str(v.dtype).removeprefix("torch.") for v in tensors.values() if v.is_floating_point()}
    if stored and stored != {card["dtype"]}:
        raise CardError(f"{directory}: the card says {card['dtype']} weights, {WEIGHTS_FILE} holds {sorted(stored)}")
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    model = _from_state_of(card["kind"])(card, tensors, read_texts(directory))
    return model.to(device).eval()


def component_from_state(card: dict[str, Any], tensors: dict[str, torch.Tensor], texts: dict[str, str]) -> Any:
    """A model inside another (an ensemble's component) from its card, tensors and tree texts."""
    return _from_state_of(card["kind"])(card, tensors, texts)
