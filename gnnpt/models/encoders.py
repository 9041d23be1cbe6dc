"""Encoder weights in and out: published Hu et al. ``.pth`` files, and the project's safetensors + JSON card.

Published checkpoints are plain state_dicts and are read with ``torch.load(weights_only=True)``
only. The project's own format is ``model.safetensors`` (tensors, no code) plus ``card.json`` (the
architecture and the record of how the weights were made), so loading never unpickles anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.nn.ogb import OgbEncoder

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "card.json"
_ENCODERS: dict[str, type[nn.Module]] = {"hu2020": HuEncoder, "ogb": OgbEncoder}


def _resolve_gnn_type(path: Path, state: dict[str, torch.Tensor], gnn_type: str | None) -> str:
    """The layer type of a published state_dict: from its keys (GIN, GAT), else from the file name.

    GCN and GraphSAGE checkpoints have identical keys, so only ``gnn_type=`` or the name tells them apart.
    """
    if any(k.endswith(".mlp.0.weight") for k in state):
        candidates = ("gin",)
    elif any(k.endswith(".att") for k in state):
        candidates = ("gat",)
    else:
        candidates = ("gcn", "graphsage")
    if gnn_type is not None:
        if gnn_type not in candidates:
            choices = " or ".join(repr(t) for t in candidates)
            raise ValueError(f"{path.name} holds {choices} weights, not {gnn_type!r}; pass gnn_type={choices}")
        return gnn_type
    if len(candidates) == 1:
        return candidates[0]
    name = path.name.lower()
    named = [t for t, token in (("gcn", "gcn"), ("graphsage", "sage")) if token in name]
    if len(named) != 1:
        raise ValueError(
            f"{path.name}: GCN and GraphSAGE checkpoints have identical keys and the file name does not say "
            "which this is; pass gnn_type='gcn' or gnn_type='graphsage'"
        )
    return named[0]


def load_hu2020_checkpoint(path: str | Path, gnn_type: str | None = None, **encoder_kwargs: Any) -> HuEncoder:
    """A :class:`HuEncoder` with the weights of a published pretrain-gnns checkpoint (strict, weights only).

    ``gnn_type`` is inferred from the keys (GIN, GAT) or the file name (GCN vs GraphSAGE) when omitted;
    ``encoder_kwargs`` (``jk``, ``drop_ratio``) configure the encoder around the weights.
    """
    path = Path(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "x_embedding1.weight" not in state:
        raise ValueError(f"{path} is not a pretrain-gnns encoder state_dict (no x_embedding1.weight)")
    gnn_type = _resolve_gnn_type(path, state, gnn_type)
    layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("gnns."))
    emb_dim = state["x_embedding1.weight"].shape[1]
    encoder = HuEncoder(num_layer=layers, emb_dim=emb_dim, gnn_type=gnn_type, **encoder_kwargs)
    encoder.load_state_dict(state, strict=True)
    return encoder


def export_hu2020_state_dict(encoder: HuEncoder, path: str | Path) -> Path:
    """Write ``encoder`` as a plain pretrain-gnns state_dict ``.pth`` (loadable by upstream code)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}, path)
    return path


def encoder_architecture(encoder: nn.Module) -> str:
    for name, cls in _ENCODERS.items():
        if isinstance(encoder, cls):
            return name
    raise TypeError(f"cannot save {type(encoder).__name__}: not a gnnpt encoder")


def save_encoder(
    encoder: nn.Module, directory: str | Path, card: dict[str, Any] | None = None, half: bool = False
) -> Path:
    """Write ``directory/model.safetensors`` and ``directory/card.json`` (architecture + ``card``).

    ``half`` stores floating-point tensors as float16 (half the size, as shipped encoders are); loading casts them
    back to the encoder's float32 parameters."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in encoder.state_dict().items()}  # fmt: skip
    save_file(tensors, str(directory / WEIGHTS_FILE))
    full = {**(card or {}), "kind": "encoder", "architecture": encoder_architecture(encoder),
            "config": encoder.config(), "scheme": encoder_architecture(encoder),
            "dtype": "float16" if half else "float32"}  # fmt: skip
    (directory / CARD_FILE).write_text(json.dumps(full, indent=2, sort_keys=True))
    return directory


def read_card(directory: str | Path) -> dict[str, Any]:
    """The JSON model card of a saved encoder or model."""
    path = Path(directory) / CARD_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: {directory} is not a saved gnnpt model (model.safetensors + card.json)"
        )
    return json.loads(path.read_text())


def load_encoder(directory: str | Path) -> nn.Module:
    """The encoder saved by :func:`save_encoder` (weights via safetensors, architecture from the card)."""
    card = read_card(directory)
    try:
        cls = _ENCODERS[card["architecture"]]
    except KeyError:
        raise ValueError(f"{directory}: card names unknown architecture {card.get('architecture')!r}") from None
    encoder = cls(**card["config"])
    encoder.load_state_dict(load_file(str(Path(directory) / WEIGHTS_FILE)), strict=True)
    return encoder


def published_checkpoint_dir() -> Path:
    """Where published Hu et al. ``.pth`` files are looked up by name: ``$GNNPT_CHECKPOINT_DIR``."""
    return Path(os.environ.get("GNNPT_CHECKPOINT_DIR", "checkpoints"))


def resolve_encoder(spec: str | Path | None, gnn_type: str | None = None, **encoder_kwargs: Any) -> nn.Module:
    """The encoder a user names: ``None``/``"none[:gnn_type]"`` (a fresh ``HuEncoder``, GIN unless named), a saved gnnpt
    encoder directory or model-store name, a published ``.pth`` file, or ``"hu2020:<name>"`` for ``<name>.pth`` in
    :func:`published_checkpoint_dir`. For ``.pth`` files only ``jk``/``drop_ratio`` of ``encoder_kwargs`` apply."""
    text = "none" if spec is None else str(spec)
    if text.lower().split(":")[0] in ("none", "scratch"):
        named = text.split(":", 1)[1] if ":" in text else None
        return HuEncoder(gnn_type=named or gnn_type or "gin", **encoder_kwargs)
    if text.startswith("hu2020:"):
        path = published_checkpoint_dir() / f"{text.removeprefix('hu2020:')}.pth"
        if not path.exists():
            raise FileNotFoundError(f"{path} not found; set GNNPT_CHECKPOINT_DIR to the published .pth files' folder")
    else:
        path = Path(text)
        if not path.exists() and not path.suffix:
            from gnnpt.registry.store import resolve  # a name (or name@v2) in the model store

            path = resolve(text)
    if path.suffix == ".pth":
        extra = {k: encoder_kwargs[k] for k in ("jk", "drop_ratio") if k in encoder_kwargs}
        return load_hu2020_checkpoint(path, gnn_type=gnn_type, **extra)
    if path.is_dir():
        encoder = load_encoder(path)
        if "drop_ratio" in encoder_kwargs and hasattr(encoder, "drop_ratio"):
            encoder.drop_ratio = encoder_kwargs["drop_ratio"]
        return encoder
    raise FileNotFoundError(
        f"encoder {text!r} is neither 'none', a saved gnnpt encoder directory, a .pth checkpoint nor 'hu2020:<name>'"
    )
