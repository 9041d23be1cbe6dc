"""Pretraining recipes: a YAML file (see ``pretraining/*.yaml``) plus ``key.sub=value`` overrides."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


def _default_encoder() -> dict[str, Any]:
    return {"gnn_type": "gin", "num_layer": 5, "emb_dim": 300, "jk": "last", "drop_ratio": 0.0}


def _default_objectives() -> dict[str, dict[str, Any]]:
    return {"masking": {"weight": 1.0, "mask_rate": 0.15, "mask_edges": False}}


_NUMERIC = {"int": int, "int | None": int, "float": float, "float | None": float}


@dataclass
class PretrainConfig:
    """Everything a pretraining run needs; written into the encoder's model card."""

    name: str = "gin_masking"
    seed: int = 0
    corpus: str = "moses"  # a corpus name, a mixture "a+b", or a file / directory of molecule files
    limit: int | None = None  # first N molecules of the corpus
    max_atoms: int = 1000
    featurize_workers: int = 2
    encoder: dict[str, Any] = field(default_factory=_default_encoder)
    init: str | None = None  # a saved gnnpt encoder directory, a published .pth, or "hu2020:<name>"
    init_gnn_type: str | None = None  # for published GCN/GraphSAGE files whose name does not say
    objectives: dict[str, dict[str, Any]] = field(default_factory=_default_objectives)
    batch_size: int = 256
    epochs: int = 1
    max_steps: int | None = None
    max_minutes: float | None = None  # wall-clock budget of the fit (replaces epochs); cosine LR then follows the time
    snapshot_minutes: list[float] = field(default_factory=list)  # also save the encoder at these training minutes
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "cosine"  # learning rate after warm-up: cosine decay to 0, or constant
    grad_clip: float | None = 1.0
    precision: str = "auto"  # bf16-mixed where the device computes bf16 natively (GPU, AMX/AVX512-BF16 CPU), else 32
    compile: bool = False  # torch.compile the encoder (dynamic shapes)
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"  # e.g. "ddp" for multi-GPU / multi-node
    output_dir: str | None = None  # default runs/<name>
    checkpoint_every_n_steps: int = 500
    log_every_n_steps: int = 10
    resume: bool = True  # continue from <output_dir>/checkpoints/last.ckpt when it exists
    progress: bool = True

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir or Path("runs") / self.name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; valid keys: {sorted(known)}")
        values = copy.deepcopy(data)
        for f in fields(cls):
            cast = _NUMERIC.get(str(f.type))
            value = values.get(f.name)
            if cast is not None and value is not None and not isinstance(value, bool):
                try:
                    values[f.name] = cast(value)  # YAML reads 3e-3 as a string
                except (TypeError, ValueError):
                    raise ValueError(f"config key {f.name!r} must be a {f.type}, got {value!r}") from None
        return cls(**values)


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in ``data``; the value is parsed as YAML (numbers, booleans, lists, null)."""
    if "=" not in override:
        raise ValueError(f"override {override!r} must look like key=value (e.g. batch_size=512)")
    key, raw = override.split("=", 1)
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"override {override!r}: {part!r} is not a section")
    node[leaf] = yaml.safe_load(raw)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> PretrainConfig:
    """A recipe file (or the defaults) with ``overrides`` applied."""
    data: dict[str, Any] = PretrainConfig().to_dict()
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} must hold a mapping of config keys")
        for key, value in loaded.items():
            if isinstance(value, dict) and key == "encoder":
                data[key] = {**data[key], **value}
            else:
                data[key] = value
    for item in overrides or []:
        apply_override(data, item)
    return PretrainConfig.from_dict(data)
