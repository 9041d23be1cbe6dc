"""Published Hu et al. 2020 (pretrain-gnns) checkpoints in and out: plain state_dict ``.pth`` files.

They are read with ``torch.load(weights_only=True)`` only (tensors, never code), and written in upstream's key
names and order so upstream code loads them. ``hu2020:<name>`` names ``<name>.pth`` in
:func:`published_checkpoint_dir`; :func:`published_path` is the one parser of that form.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from gnnpt.config import settings
from gnnpt.nn.hu2020 import HuEncoder

PREFIX = "hu2020:"


def published_checkpoint_dir() -> Path:
    """Where published Hu et al. ``.pth`` files are looked up by name: ``$GNNPT_CHECKPOINT_DIR``."""
    return settings().checkpoint_dir


def published_path(ref: str) -> Path | None:
    """The file ``hu2020:<name>`` names (None when ``ref`` is not of that form); FileNotFoundError when absent."""
    if not ref.startswith(PREFIX):
        return None
    path = published_checkpoint_dir() / f"{ref.removeprefix(PREFIX)}.pth"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; set GNNPT_CHECKPOINT_DIR to the folder of the published pretrain-gnns .pth files"
        )
    return path


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
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's message advises weights_only=False: running the file's code
        found = re.search(r"unsupported GLOBAL (\S+)", str(exc))
        what = f"it asks to call {found.group(1)} when unpickled" if found else "it is not a pickle of tensors"
        raise ValueError(f"{path} is not a plain state_dict of tensors ({what}); gnnpt reads weights only and never "
                         "runs a file's code. Use the published pretrain-gnns file, or save the weights with "
                         "torch.save(model.state_dict(), path)") from None  # fmt: skip
    except (RuntimeError, EOFError, OSError) as exc:  # not a torch file at all, or a truncated one
        raise ValueError(f"{path} is not a readable torch checkpoint ({type(exc).__name__}); check the file") from None
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
