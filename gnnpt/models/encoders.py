"""Encoders as saved artifacts: the project's safetensors + card format (no pickles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from torch import nn

from gnnpt.models.card import WEIGHTS_FILE, read_card, write_card
from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.nn.minimol import MinimolEncoder
from gnnpt.nn.ogb import OgbEncoder

ENCODERS: dict[str, type[nn.Module]] = {"hu2020": HuEncoder, "ogb": OgbEncoder, "minimol": MinimolEncoder}


def encoder_architecture(encoder: nn.Module) -> str:
    """The card's ``architecture`` of ``encoder`` (``hu2020``, ``ogb`` or ``minimol``; also the scheme it reads)."""
    for name, cls in ENCODERS.items():
        if isinstance(encoder, cls):
            return name
    raise TypeError(f"cannot save {type(encoder).__name__}: not a gnnpt encoder")


def build_encoder(architecture: str, config: dict[str, Any]) -> nn.Module:
    """A fresh encoder of a card's ``architecture`` and constructor ``config``."""
    return ENCODERS[architecture](**config)


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
    architecture = encoder_architecture(encoder)
    write_card(directory, {**(card or {}), "kind": "encoder", "architecture": architecture,
                           "config": encoder.config(), "scheme": architecture,
                           "dtype": "float16" if half else "float32"})  # fmt: skip
    return directory


def load_encoder(directory: str | Path) -> nn.Module:
    """The encoder saved by :func:`save_encoder` (weights via safetensors, architecture from the card)."""
    card = read_card(directory, kind="encoder")
    encoder = build_encoder(card["architecture"], card["config"])
    encoder.load_state_dict(load_file(str(Path(directory) / WEIGHTS_FILE)), strict=True)
    return encoder
