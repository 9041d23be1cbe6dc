"""A fine-tuned model: the ensemble of its seeds' encoder + pooling + head, its tasks, and its weights on disk.

A model that scores maps a batch of molecules to scores: ``featurize`` turns SMILES into the graphs it reads,
``member_scores`` turns a batch of them into each member's scores, ``output_names`` names the columns. That is all the
scoring path (:mod:`gnnpt.models.scoring`) asks of a model, so other kinds can join it without touching that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gnnpt.featurization.pipeline import featurize
from gnnpt.featurization.vectors import attach_vectors, check_vector_kinds
from gnnpt.models.encoders import build_encoder, encoder_architecture
from gnnpt.models.targets import Standardizer
from gnnpt.nn.adapters import add_adapters
from gnnpt.nn.heads import GraphModel, LinearHead, MLPHead
from gnnpt.nn.pooling import make_pooling
from gnnpt.store.packed import GraphBatch, PackedGraphs

HEADS = ("linear", "mlp")


def build_graph_model(encoder: nn.Module, num_outputs: int, pooling: str = "mean", head: str = "linear",
                      extras: Sequence[str] = (), extra_dim: int = 0) -> GraphModel:  # fmt: skip
    """``encoder`` -> ``pooling`` -> a ``linear`` (Hu et al.) or two-layer ``mlp`` head with ``num_outputs``; with
    ``extras`` (molecule vector kinds, ``extra_dim`` wide together) a descriptor hybrid whose head also reads them."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")
    dim = encoder.out_dim
    width = dim + (extra_dim if extras else 0)
    out = LinearHead(width, num_outputs) if head == "linear" else MLPHead(width, num_outputs, hidden=width)
    return GraphModel(encoder, make_pooling(pooling, dim), out, check_vector_kinds(extras), extra_dim)


class FinetunedModel(nn.Module):
    """One or more fine-tuned ``GraphModel`` members (seeds) that predict the same tasks.

    ``forward`` gives each member's outputs [members, graphs, outputs] in target units (logits or values);
    ``member_scores`` turns them into probabilities (classification), class probabilities (multiclass) or values
    (regression). ``strategy``: the card's record of how it was fine-tuned (``name`` and the strategy's settings).
    Scoring SMILES goes through :func:`gnnpt.models.scoring.score_molecules`.
    """

    def __init__(
        self,
        members: Sequence[GraphModel],
        task_type: str,
        task_names: Sequence[str],
        standardizer: Standardizer | None = None,
        strategy: dict[str, Any] | None = None,
        scheme: str | None = None,
        card: dict[str, Any] | None = None,
    ):
        super().__init__()
        if not members:
            raise ValueError("a model needs at least one member")
        self.members = nn.ModuleList(members)
        self.task_type, self.task_names = task_type, list(task_names)
        if task_type == "regression" and standardizer is None:  # scores in target units: here the identity
            outputs = members[0].head_outputs
            standardizer = Standardizer(np.zeros(outputs), np.ones(outputs))
        self.standardizer, self.strategy = standardizer, dict(strategy or {"name": "full"})
        self.scheme = scheme or encoder_architecture(members[0].encoder)  # each encoder reads its own scheme
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

    @property
    def inputs(self) -> list[str]:
        """The molecule vectors a descriptor hybrid reads beside the graphs (none for a plain GNN)."""
        return self.members[0].extras

    def featurize(self, smiles: Sequence[object], max_atoms: int = 1000, fingerprints: bool = False) -> PackedGraphs:
        """The graphs this model reads for ``smiles`` (``.smiles`` canonical; errors for what cannot be read), with
        the molecules' Morgan fingerprints when asked (for the applicability domain) and a hybrid's vectors."""
        store = featurize(list(smiles), self.scheme, canonical=True, max_atoms=max_atoms, fingerprints=fingerprints)
        return attach_vectors(store, self.inputs) if self.inputs else store

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, str]]:
        """What saving needs: the card's fields, the members' tensors, and no text models."""
        first = self.members[0]
        if isinstance(first.head, MLPHead) and (first.head.hidden, first.head.layers) != (first.head.in_dim, 2):
            raise ValueError("a saved model rebuilds an MLP head as build_graph_model makes it (2 layers, hidden width "
                             "= encoder width); build the head with build_graph_model(..., head='mlp')")  # fmt: skip
        fields = {
            **{k: v for k, v in self.card.items() if k != "domain"},  # a domain file is written on its own
            "kind": "finetuned",
            "architecture": encoder_architecture(first.encoder),
            "encoder_config": first.encoder.config(),
            "pooling": first.pooling_kind,
            "head": first.head_kind,
            "extras": first.extras,
            "extra_dim": first.extra_dim,
            "outputs": first.head_outputs,
            "members": len(self.members),
            "task_type": self.task_type,
            "task_names": self.task_names,
            "standardizer": self.standardizer.to_dict() if self.standardizer is not None else None,
            "strategy": self.strategy,
            "scheme": self.scheme,
        }
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.members.state_dict().items()}
        return fields, tensors, {}

    def save(self, directory: str | Path, half: bool = False) -> Path:
        """Write ``model.safetensors`` (``half``: float16, a model half the size) + ``card.json``."""
        from gnnpt.models.artifact import save_model

        return save_model(self, directory, half)


def load_finetuned(directory: str | Path, device: str | torch.device = "cpu") -> FinetunedModel:
    """The model saved by :meth:`FinetunedModel.save` (safetensors weights, architecture from the card, checked
    against each other: :class:`~gnnpt.models.card.CardError` names what does not fit)."""
    from gnnpt.models.artifact import load_model_dir

    return load_model_dir(directory, device, kind="finetuned")


def finetuned_from_state(
    card: dict[str, Any], tensors: dict[str, torch.Tensor], texts: dict[str, str]
) -> FinetunedModel:
    """The model a :meth:`FinetunedModel.state` describes (its tensors loaded strictly into the card's architecture)."""
    strategy = card["strategy"]
    members = []
    for _ in range(card["members"]):
        encoder = build_encoder(card["architecture"], card["encoder_config"])
        if strategy.get("name") == "adapter":
            add_adapters(encoder, int(strategy["adapter_dim"]))
        members.append(build_graph_model(encoder, card["outputs"], card["pooling"], card["head"],
                                         card.get("extras") or (), int(card.get("extra_dim") or 0)))  # fmt: skip
    model = FinetunedModel(
        members, card["task_type"], card["task_names"],
        Standardizer.from_dict(card["standardizer"]) if card.get("standardizer") else None,
        strategy, card["scheme"], card,
    )  # fmt: skip
    model.members.load_state_dict(tensors, strict=True)
    return model.eval()
