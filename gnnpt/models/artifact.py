"""Save and load every kind of model that scores: ``model.safetensors`` (tensors) + ``card.json`` (what they are)
+ ``trees.json.gz`` (LightGBM text models, gzip-compressed: a forest is mostly repeated text, when a model has
trees).

A kind gives ``state()`` -> (card fields, tensors, tree texts) and a ``from_state(card, tensors, texts)``; the
files, the float16 option and the dtype check live here once for all of them, so a saved model is always the same
three plain files and loading never unpickles anything.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gnnpt.models.card import WEIGHTS_FILE, CardError, read_card, write_card

TREES_FILE = "trees.json.gz"
# The most one LightGBM text model may unpack to: the largest gnnpt trains (a 500-tree forest of 255 leaves) is
# about 14 MB. A tree file may unpack to this times the tree models its card describes, and to no more than
# TREE_RATIO times its packed size (LightGBM texts pack about 3:1; a forged card cannot raise this one).
TREE_TEXT_BYTES = 32 << 20
TREE_RATIO = 64
_TREE_FILE_OVERHEAD = 64 << 10  # the JSON around the texts: format, keys


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


def tree_models(card: dict[str, Any]) -> int:
    """How many LightGBM text models the model ``card`` describes (an ensemble's components' summed)."""
    if card.get("kind") == "ensemble":
        return sum(tree_models(c) for c in card.get("components") or [])
    if card.get("kind") == "tabular" and card.get("learner") == "lightgbm":
        return int(card.get("members") or 0) * int(card.get("outputs") or 0)
    return 0


def read_texts(directory: str | Path, card: dict[str, Any]) -> dict[str, str]:
    """The tree texts saved beside a model (empty when it has none); CardError when the file is not what it says.

    The unpacked size is capped by the ``card``'s tree models (:data:`TREE_TEXT_BYTES` each) and by
    :data:`TREE_RATIO` times the packed bytes it came from; it is counted in 1 MiB steps before anything is kept, so
    a compression bomb costs milliseconds and no memory, never the host."""
    path = Path(directory) / TREES_FILE
    if not path.is_file():
        return {}
    packed = path.read_bytes()
    try:
        _check_unpacked_size(packed, path, tree_models(card))
        data = json.loads(gzip.decompress(packed).decode("utf-8"))
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CardError(f"{path} is not gzip-compressed JSON ({exc})") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict) or data.get("format") != "lightgbm-text":
        raise CardError(f"{path} is not a gnnpt tree file (format lightgbm-text with a models object)")
    if not all(isinstance(v, str) for v in models.values()):
        raise CardError(f"{path}: every tree model is a LightGBM text model (a string)")
    return models


def _check_unpacked_size(packed: bytes, path: Path, models: int) -> None:
    """CardError as soon as ``packed`` unpacks past its cap (see :func:`read_texts`); nothing is kept meanwhile. The
    ratio is checked against the packed bytes read so far, so a bomb is refused within its first megabytes."""
    by_card = _TREE_FILE_OVERHEAD + models * TREE_TEXT_BYTES
    raw = io.BytesIO(packed)
    size = 0
    with gzip.GzipFile(fileobj=raw) as fh:
        while block := fh.read(1 << 20):
            size += len(block)
            by_ratio = _TREE_FILE_OVERHEAD + TREE_RATIO * raw.tell()
            if size > min(by_card, by_ratio):
                why = (f"more than the {models} tree model(s) its card describes can take ({TREE_TEXT_BYTES >> 20} "
                       "MiB each)" if by_card < by_ratio else f"over {TREE_RATIO} times the packed bytes it came "
                       "from, which tree texts never reach")  # fmt: skip
                raise CardError(f"{path} unpacks to more than {min(by_card, by_ratio):,} bytes, {why}: it is not a "
                                "tree file gnnpt wrote (a compression bomb?) and was refused unread; get the model "
                                "again from its source, or save it again with gnnpt")  # fmt: skip


def load_model_dir(directory: str | Path, device: str | torch.device = "cpu", kind: str | None = None) -> Any:
    """The model saved in ``directory`` by :func:`save_model`, of ``kind`` when given (CardError names what does
    not fit: the card against its weights, dtype, trees)."""
    card = read_card(directory, kind=kind)
    tensors = load_file(str(Path(directory) / WEIGHTS_FILE))
    stored = {str(v.dtype).removeprefix("torch.") for v in tensors.values() if v.is_floating_point()}
    if stored and stored != {card["dtype"]}:
        raise CardError(f"{directory}: the card says {card['dtype']} weights, {WEIGHTS_FILE} holds {sorted(stored)}")
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    model = _from_state_of(card["kind"])(card, tensors, read_texts(directory, card))
    return model.to(device).eval()


def component_from_state(card: dict[str, Any], tensors: dict[str, torch.Tensor], texts: dict[str, str]) -> Any:
    """A model inside another (an ensemble's component) from its card, tensors and tree texts."""
    return _from_state_of(card["kind"])(card, tensors, texts)
