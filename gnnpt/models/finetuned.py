"""A fine-tuned model: the ensemble of its seeds' encoder + pooling + head, its tasks, and its weights on disk."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from gnnpt.finetune.strategies import Strategy
from gnnpt.finetune.tasks import Standardizer
from gnnpt.nn.adapters import add_adapters, merge_lora
from gnnpt.nn.checkpoints import CARD_FILE, WEIGHTS_FILE, encoder_architecture, read_card
from gnnpt.nn.heads import GraphModel, LinearHead, MLPHead
from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.nn.ogb import OgbEncoder
from gnnpt.nn.pooling import make_pooling
from gnnpt.nn.precision import DEFAULT_PRECISION, inference_autocast
from gnnpt.store.packed import GraphBatch, PackedGraphs

HEADS = ("linear", "mlp")


def build_graph_model(encoder: nn.Module, num_outputs: int, pooling: str = "mean", head: str = "linear") -> GraphModel:
    """``encoder`` -> ``pooling`` -> a ``linear`` (Hu et al.) or two-layer ``mlp`` head with ``num_outputs``."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")
    dim = encoder.out_dim
    out = LinearHead(dim, num_outputs) if head == "linear" else MLPHead(dim, num_outputs, hidden=dim)
    return GraphModel(encoder, make_pooling(pooling, dim), out)


class FinetunedModel(nn.Module):
    """One or more fine-tuned ``GraphModel`` members (seeds) that predict the same tasks.

    ``forward`` gives each member's outputs [members, graphs, outputs] in target units (logits or values);
    ``predict_graphs`` averages them into probabilities (classification), class probabilities (multiclass) or
    values (regression); ``predict`` does the same from SMILES, one row per input, with an error per bad row.
    """

    def __init__(
        self,
        members: Sequence[GraphModel],
        task_type: str,
        task_names: Sequence[str],
        standardizer: Standardizer | None = None,
        strategy: Strategy | None = None,
        scheme: str = "hu2020",
        card: dict[str, Any] | None = None,
    ):
        super().__init__()
        if not members:
            raise ValueError("a model needs at least one member")
        self.members = nn.ModuleList(members)
        self.task_type, self.task_names = task_type, list(task_names)
        self.standardizer, self.strategy, self.scheme = standardizer, strategy or Strategy(), scheme
        self.card: dict[str, Any] = dict(card or {})

    def forward(self, graphs: GraphBatch) -> torch.Tensor:
        outs = torch.stack([m(graphs) for m in self.members])
        return self.standardizer.inverse(outs) if self.standardizer is not None else outs

    def member_scores(self, graphs: GraphBatch) -> torch.Tensor:
        """Each member's scores [members, graphs, outputs]: probabilities (classification, multiclass) or values;
        differentiable (the caller picks the grad mode and the train/eval mode)."""
        outs = self(graphs).float()
        if self.task_type == "classification":
            return torch.sigmoid(outs)
        if self.task_type == "multiclass":
            return torch.softmax(outs, dim=-1)
        return outs

    @torch.no_grad()
    def predict_graphs(self, graphs: GraphBatch) -> torch.Tensor:
        """Ensemble predictions [graphs, outputs]: mean probability, or mean value for regression."""
        self.eval()
        return self.member_scores(graphs).mean(0)

    def output_names(self) -> list[str]:
        if self.task_type == "multiclass":
            return [f"{self.task_names[0]}={k}" for k in range(self.members[0].head_outputs)]
        return self.task_names

    @torch.no_grad()
    def predict(
        self, smiles: Sequence[str], batch_size: int = 1024, workers: int = 1, precision: str = DEFAULT_PRECISION
    ) -> pd.DataFrame:
        """One row per input SMILES: the prediction columns and ``error`` (None, or why the molecule was not scored).

        ``precision``: ``fp32``, ``bf16`` or ``auto`` (bf16 where the hardware has it, see :mod:`gnnpt.nn.precision`).
        """
        import gnnpt

        smiles = list(smiles)
        frame = self.predict_store(gnnpt.featurize(smiles, self.scheme, workers=workers), batch_size, precision)
        frame["smiles"] = smiles
        return frame

    @torch.no_grad()
    def predict_store(
        self, store: PackedGraphs, batch_size: int = 1024, precision: str = DEFAULT_PRECISION
    ) -> pd.DataFrame:
        """:meth:`predict` for already featurized graphs (rows aligned with ``store``)."""
        device = next(self.parameters()).device
        values = np.full((len(store), len(self.output_names())), np.nan, dtype=np.float32)
        with inference_autocast(precision, device):
            for ids, graphs in store.valid_batches(batch_size, device):
                values[ids] = self.predict_graphs(graphs).cpu().numpy()
        frame = pd.DataFrame(values, columns=self.output_names())
        errors: list[str | None] = [None] * len(store)
        for e in store.errors:
            errors[e.index] = f"{e.reason}: {e.message}"
        frame.insert(0, "smiles", store.smiles if store.smiles is not None else None)
        frame["error"] = errors
        return frame

    def save(self, directory: str | Path, half: bool = False) -> Path:
        """Write ``model.safetensors`` (``half``: float16, a model half the size) + ``card.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for k, v in self.members.state_dict().items():
            v = v.detach().cpu()
            tensors[k] = (v.half() if half and v.is_floating_point() else v).contiguous()
        save_file(tensors, str(directory / WEIGHTS_FILE))
        first = self.members[0]
        if isinstance(first.head, MLPHead) and (first.head.hidden, first.head.layers) != (first.head.in_dim, 2):
            raise ValueError("a saved model rebuilds an MLP head as build_graph_model makes it (2 layers, hidden width "
                             "= encoder width); build the head with build_graph_model(..., head='mlp')")  # fmt: skip
        card = {
            **self.card,
            "kind": "finetuned",
            "architecture": encoder_architecture(first.encoder),
            "encoder_config": first.encoder.config(),
            "pooling": first.pooling_kind,
            "head": first.head_kind,
            "outputs": first.head_outputs,
            "members": len(self.members),
            "task_type": self.task_type,
            "task_names": self.task_names,
            "standardizer": self.standardizer.to_dict() if self.standardizer is not None else None,
            "strategy": asdict(self.strategy),
            "scheme": self.scheme,
            "dtype": "float16" if half else "float32",
        }
        (directory / CARD_FILE).write_text(json.dumps(_json_safe(card), indent=2, sort_keys=True, allow_nan=False))
        return directory


def _json_safe(value: Any) -> Any:
    """Strict JSON: NaN (a metric that could not be computed) becomes null; numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def prepare_for_save(model: FinetunedModel) -> FinetunedModel:
    """Fold LoRA updates into plain linear layers, so a saved model needs no LoRA structure to load."""
    if model.strategy.name == "lora":
        for member in model.members:
            merge_lora(member.encoder)
    return model


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> FinetunedModel:
    """The model saved by :meth:`FinetunedModel.save` (safetensors weights, architecture from the card)."""
    card = read_card(directory)
    if card.get("kind") != "finetuned":
        raise ValueError(f"{directory} holds a {card.get('kind', 'unknown')!r}, not a fine-tuned model")
    encoders = {"hu2020": HuEncoder, "ogb": OgbEncoder}
    strategy = Strategy(**card["strategy"])
    members = []
    for _ in range(card["members"]):
        encoder = encoders[card["architecture"]](**card["encoder_config"])
        if strategy.name == "adapter":
            add_adapters(encoder, strategy.adapter_dim)
        members.append(build_graph_model(encoder, card["outputs"], card["pooling"], card["head"]))
    model = FinetunedModel(
        members, card["task_type"], card["task_names"],
        Standardizer.from_dict(card["standardizer"]) if card.get("standardizer") else None,
        strategy, card["scheme"], card,
    )  # fmt: skip
    state = load_file(str(Path(directory) / WEIGHTS_FILE))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model.members.load_state_dict(state, strict=True)
    return model.to(device).eval()
