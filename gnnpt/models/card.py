"""The saved-model artifact on disk: ``model.safetensors`` (tensors, no code) + ``card.json`` (what the weights are
and how they were made), and the card's schema.

A card is a JSON object. Its architecture fields are checked here, once, for every reader (loading, the model
store, the service's listing), so a card that cannot describe its weights is refused with the field named instead of
failing later inside a constructor. Everything else on a card (metrics, data, how it was made) is free-form record.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "card.json"
ARCHITECTURES = ("hu2020", "ogb")


class CardError(ValueError):
    """A ``card.json`` that is not valid JSON, not an object, or lacks what its kind needs."""


class _Card(BaseModel):
    model_config = ConfigDict(extra="allow")
    dtype: Literal["float32", "float16"] = "float32"
    domain: dict[str, Any] | None = None  # the applicability domain file's record: its sha256 and size


class EncoderCard(_Card):
    """What an encoder's card must hold: its architecture and constructor arguments."""

    kind: Literal["encoder"]
    architecture: Literal["hu2020", "ogb", "minimol"]
    config: dict[str, Any]


class FinetunedCard(_Card):
    """What a fine-tuned model's card must hold to rebuild its members."""

    kind: Literal["finetuned"]
    architecture: Literal["hu2020", "ogb", "minimol"]
    encoder_config: dict[str, Any]
    pooling: str
    head: Literal["linear", "mlp"]
    extras: list[Literal["ecfp4", "ecfp4_counts", "descriptors:fast", "minimol"]] = []  # a descriptor hybrid's inputs
    extra_dim: int = Field(0, ge=0)
    outputs: int = Field(ge=1)
    members: int = Field(ge=1)
    task_type: Literal["classification", "regression", "multiclass"]
    task_names: list[str] = Field(min_length=1)
    scheme: str
    strategy: dict[str, Any]
    standardizer: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FinetunedCard:
        """What the weights cannot check: outputs against tasks, task type against target units, scheme against
        architecture (each encoder reads the features of its own scheme)."""
        if self.task_type == "multiclass":
            if len(self.task_names) != 1 or self.outputs < 2:
                raise ValueError(f"a multiclass model has one task and 2+ outputs, not {len(self.task_names)} tasks "
                                 f"and {self.outputs} outputs")  # fmt: skip
        elif len(self.task_names) != self.outputs:
            raise ValueError(f"{len(self.task_names)} task_names for {self.outputs} outputs")
        if (self.task_type == "regression") != (self.standardizer is not None):
            need = "needs" if self.task_type == "regression" else "has no"
            raise ValueError(f"a {self.task_type} model {need} standardizer (regression scores are in target units, "
                             "others are probabilities)")  # fmt: skip
        if bool(self.extras) != (self.extra_dim > 0):
            raise ValueError(f"extras {self.extras} with extra_dim {self.extra_dim}: a hybrid names its inputs and "
                             "their width, a plain GNN neither")  # fmt: skip
        if self.scheme != self.architecture:
            raise ValueError(f"scheme {self.scheme!r} does not fit architecture {self.architecture!r}")
        return self


class _FrozenEncoder(BaseModel):
    architecture: Literal["hu2020", "ogb", "minimol"]
    config: dict[str, Any]


class TabularCard(_Card):
    """What a fingerprint / descriptor model's card must hold: its inputs, learner and tasks."""

    kind: Literal["tabular"]
    learner: Literal["lightgbm", "mlp"]
    inputs: list[Literal["ecfp4", "ecfp4_counts", "descriptors:fast", "minimol", "encoder"]] = Field(min_length=1)
    outputs: int = Field(ge=1)
    members: int = Field(ge=1)
    task_type: Literal["classification", "regression"]
    task_names: list[str] = Field(min_length=1)
    hidden: int | None = Field(None, ge=1)
    in_dim: int | None = Field(None, ge=1)
    standardizer: dict[str, Any] | None = None
    encoder: _FrozenEncoder | None = None  # the frozen encoder that computes the input "encoder"

    @model_validator(mode="after")
    def _consistent(self) -> TabularCard:
        if len(self.task_names) != self.outputs:
            raise ValueError(f"{len(self.task_names)} task_names for {self.outputs} outputs")
        if self.learner == "mlp" and self.in_dim is None:
            raise ValueError("an mlp learner needs in_dim (the width of its inputs)")
        if ("encoder" in self.inputs) != (self.encoder is not None):
            raise ValueError("a tabular model reads the input 'encoder' exactly when its card describes an encoder")
        return self


class EnsembleCard(_Card):
    """What an ensemble's card must hold: its components' cards, their weights per output, and its tasks."""

    kind: Literal["ensemble"]
    components: list[dict[str, Any]] = Field(min_length=1)
    task_type: Literal["classification", "regression"]
    task_names: list[str] = Field(min_length=1)
    outputs: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> EnsembleCard:
        if len(self.task_names) != self.outputs:
            raise ValueError(f"{len(self.task_names)} task_names for {self.outputs} outputs")
        for i, component in enumerate(self.components):
            kind = component.get("kind")
            if kind not in ("finetuned", "tabular"):
                raise ValueError(f"component {i} is a {kind!r}; an ensemble holds finetuned and tabular models")
            _SCHEMAS[kind].model_validate(component)
            if component.get("task_names") != self.task_names:
                raise ValueError(f"component {i} predicts {component.get('task_names')}, not {self.task_names}")
        return self


_SCHEMAS: dict[str, type[_Card]] = {"encoder": EncoderCard, "finetuned": FinetunedCard, "tabular": TabularCard,
                                    "ensemble": EnsembleCard}  # fmt: skip


def read_card(directory: str | Path, kind: str | None = None) -> dict[str, Any]:
    """The validated card of the saved encoder or model in ``directory`` (of ``kind`` when given).

    FileNotFoundError when there is none (pointing at a saved model one level down if there is one); CardError
    naming the field when the card cannot describe a model."""
    directory = Path(directory)
    path = directory / CARD_FILE
    if not path.is_file():
        inner = sorted(directory.glob(f"*/{CARD_FILE}")) if directory.is_dir() else []
        hint = f"; did you mean {inner[0].parent}?" if inner else ""
        raise FileNotFoundError(
            f"{path} not found: {directory} is not a saved gnnpt model ({WEIGHTS_FILE} + {CARD_FILE}){hint}"
        )
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CardError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(card, dict):
        raise CardError(f"{path} holds a JSON {type(card).__name__}, not a model card object")
    found = card.get("kind")
    if kind is not None and found != kind:
        raise CardError(f"{directory} holds a {found or 'card without a kind'!r}, not a {kind!r} (see its {CARD_FILE})")
    schema = _SCHEMAS.get(found)
    if schema is None:
        raise CardError(f"{path}: kind {found!r} is not one of {', '.join(_SCHEMAS)}")
    try:
        schema.model_validate(card)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CardError(f"{path} cannot describe a {found} model: {problems}") from None
    return card


def write_card(directory: str | Path, card: dict[str, Any]) -> Path:
    """Write ``card`` as strict JSON (NaN metrics become null, numpy scalars plain numbers), validated first."""
    kind = card.get("kind")
    if kind in _SCHEMAS:
        _SCHEMAS[kind].model_validate(card)
    path = Path(directory) / CARD_FILE
    path.write_text(json.dumps(json_safe(card), indent=2, sort_keys=True, allow_nan=False))
    return path


def json_safe(value: Any) -> Any:
    """Strict JSON: NaN (a metric that could not be computed) becomes null; numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def file_sha256(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in blocks (weights and domains can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
