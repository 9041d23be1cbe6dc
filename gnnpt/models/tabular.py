"""A fingerprint / descriptor model: per-molecule feature vectors (ECFP4, RDKit descriptors, MiniMol, or a frozen
pretrained GNN encoder's mean-pooled graph vectors) -> a gradient-boosted tree ensemble (LightGBM) or an MLP, per
seed a member.

Nothing is pickled: an MLP's weights and the inputs' standardization are safetensors, and LightGBM trees are kept in
LightGBM's own documented text model format (``Booster.model_to_string``), which loads without running code. A tree
model predicts one task per booster; a task whose training labels held one class is a constant. Scoring goes through
the one scoring path like a GNN's (``featurize`` computes the vectors, ``member_scores`` reads them from the batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from gnnpt.featurization.pipeline import featurize
from gnnpt.featurization.vectors import attach_vectors, check_vector_kinds
from gnnpt.models.encoders import build_encoder, encoder_architecture
from gnnpt.models.targets import Standardizer
from gnnpt.nn.pooling import Pool
from gnnpt.store.packed import GraphBatch, PackedGraphs

LEARNERS = ("lightgbm", "mlp")
ENCODER_INPUT = "encoder"  # the input a tabular model computes itself, with the frozen encoder it holds


def graph_vectors(encoder: nn.Module, graphs: GraphBatch) -> torch.Tensor:
    """``encoder``'s mean-pooled node representations of the batch's graphs [graphs, d] (float32): what a frozen
    encoder gives a head, in training (:func:`gnnpt.finetune.probe.encoder_features`) and in scoring alike."""
    h = encoder(graphs.x, graphs.edge_index, graphs.edge_attr)
    return Pool("mean")(h, graphs.batch, graphs.num_graphs).float()


def _vector_kinds(inputs: Sequence[str]) -> list[str]:
    """The inputs featurization computes (all but :data:`ENCODER_INPUT`)."""
    return [k for k in inputs if k != ENCODER_INPUT]


def build_mlp(in_dim: int, outputs: int, hidden: int | None) -> nn.Module:
    """A linear head (``hidden`` None) or one hidden ReLU layer with dropout, over standardized inputs."""
    if hidden is None:
        return nn.Linear(in_dim, outputs)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, outputs))


def lightgbm_booster(text: str):
    """A LightGBM booster from its text model (ImportError naming the install when LightGBM is missing)."""
    try:
        import lightgbm
    except ImportError:
        raise ImportError("tree models need LightGBM: pip install lightgbm") from None
    return lightgbm.Booster(model_str=text)


class TabularModel(nn.Module):
    """Members (seeds) of one learner over the concatenated feature ``inputs``.

    ``trees[m][t]``: member ``m``'s LightGBM text model for output ``t``, or a float (a constant score); ``mlps``: one
    network per member over inputs standardized with ``center`` / ``scale`` (fitted on the training part).
    Classification scores are probabilities, regression scores target units (``standardizer``). ``encoder``: a
    pretrained GNN encoder, frozen, whose mean-pooled graph vectors are the input ``"encoder"`` (saved with the model).
    """

    def __init__(
        self,
        inputs: Sequence[str],
        task_type: str,
        task_names: Sequence[str],
        *,
        trees: Sequence[Sequence[str | float]] | None = None,
        mlps: Sequence[nn.Module] | None = None,
        center: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        hidden: int | None = None,
        standardizer: Standardizer | None = None,
        card: dict[str, Any] | None = None,
        encoder: nn.Module | None = None,
    ):
        super().__init__()
        if (trees is None) == (mlps is None):
            raise ValueError("a tabular model has either trees (LightGBM) or mlps, not both or neither")
        if task_type not in ("classification", "regression"):
            raise ValueError(f"tabular models score classification or regression tasks, not {task_type!r}")
        check_vector_kinds(_vector_kinds(inputs))
        if (ENCODER_INPUT in inputs) != (encoder is not None):
            raise ValueError(f"a tabular model reads the input {ENCODER_INPUT!r} exactly when it holds an encoder")
        self.reads = list(inputs)  # every input, in the order the learner sees them
        self.inputs = _vector_kinds(inputs)  # those featurization computes (the scoring protocol's ``inputs``)
        self.task_type, self.task_names = task_type, list(task_names)
        self.encoder = encoder.eval().requires_grad_(False) if encoder is not None else None
        self.learner = "lightgbm" if trees is not None else "mlp"
        self.tree_texts = [list(m) for m in trees] if trees is not None else []
        self._boosters = [[t if isinstance(t, float) else lightgbm_booster(t) for t in m] for m in self.tree_texts]
        self.mlps = nn.ModuleList(mlps or [])
        self.hidden = hidden
        if center is not None:
            self.register_buffer("center", torch.as_tensor(np.asarray(center), dtype=torch.float32))
            self.register_buffer("scale", torch.as_tensor(np.asarray(scale), dtype=torch.float32))
        if task_type == "regression" and standardizer is None:
            standardizer = Standardizer(np.zeros(len(self.task_names)), np.ones(len(self.task_names)))
        self.standardizer = standardizer
        self.card: dict[str, Any] = dict(card or {})
        self.scheme = "hu2020"  # the graphs are featurized for their canonical SMILES, errors and atom limit

    @property
    def members(self) -> list[object]:
        """One entry per seed (what the ensemble spread is taken over)."""
        return list(self.mlps) if self.learner == "mlp" else self.tree_texts

    def output_names(self) -> list[str]:
        return self.task_names

    def featurize(self, smiles: Sequence[object], max_atoms: int = 1000, fingerprints: bool = False) -> PackedGraphs:
        """The molecules' graphs (canonical SMILES, per-row errors, the atom limit) with the feature vectors this
        model reads attached."""
        store = featurize(list(smiles), self.scheme, canonical=True, max_atoms=max_atoms, fingerprints=fingerprints)
        return attach_vectors(store, self.inputs)

    def inputs_of(self, graphs: GraphBatch) -> torch.Tensor:
        """The batch's feature vectors, concatenated in ``inputs`` order [graphs, d] (NaN where unknown)."""
        missing = [k for k in self.inputs if k not in graphs.features]
        if missing:
            raise ValueError(f"the batch lacks the molecule features {missing}; featurize with this model's featurize")
        return torch.cat([graph_vectors(self.encoder, graphs) if k == ENCODER_INPUT else graphs.features[k].float()
                          for k in self.reads], dim=1)  # fmt: skip

    def member_scores(self, graphs: GraphBatch) -> torch.Tensor:
        """Each member's scores [members, graphs, outputs]: probabilities (classification) or target units."""
        x = self.inputs_of(graphs)
        if self.learner == "mlp":
            z = torch.nan_to_num((x - self.center) / self.scale)  # an unknown value is the training mean
            outs = torch.stack([net(z) for net in self.mlps])
            if self.task_type == "classification":
                return torch.sigmoid(outs)
            return self.standardizer.inverse(outs)
        rows = x.cpu().numpy().astype(np.float64)
        scores = np.empty((len(self._boosters), len(rows), len(self.task_names)), np.float32)
        for m, boosters in enumerate(self._boosters):
            for t, booster in enumerate(boosters):
                scores[m, :, t] = booster if isinstance(booster, float) else booster.predict(rows)
        return torch.from_numpy(scores).to(x.device)

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, str]]:
        """What saving needs: the card's fields, the tensors (MLP weights, input standardization) and the tree texts
        (by ``m<member>.t<output>``)."""
        fields = {"kind": "tabular", "learner": self.learner, "inputs": self.reads, "task_type": self.task_type,
                  "task_names": self.task_names, "outputs": len(self.task_names), "members": len(self.members),
                  "hidden": self.hidden, "in_dim": int(self.center.numel()) if hasattr(self, "center") else None,
                  "standardizer": self.standardizer.to_dict() if self.standardizer is not None else None,
                  "constants": {f"m{m}.t{t}": v for m, ts in enumerate(self.tree_texts)
                                for t, v in enumerate(ts) if isinstance(v, float)}}  # fmt: skip
        if self.encoder is not None:
            fields["encoder"] = {"architecture": encoder_architecture(self.encoder), "config": self.encoder.config()}
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        texts = {
            f"m{m}.t{t}": v for m, ts in enumerate(self.tree_texts) for t, v in enumerate(ts) if isinstance(v, str)
        }
        return fields, tensors, texts


def tabular_from_state(card: dict[str, Any], tensors: dict[str, torch.Tensor], texts: dict[str, str]) -> TabularModel:
    """The model a :meth:`TabularModel.state` describes (the card validated first, the tensors loaded strictly)."""
    members, outputs = int(card["members"]), int(card["outputs"])
    standardizer = Standardizer.from_dict(card["standardizer"]) if card.get("standardizer") else None
    encoder = card.get("encoder")
    common = {"standardizer": standardizer, "card": card, "hidden": card.get("hidden"),
              "encoder": build_encoder(encoder["architecture"], encoder["config"]) if encoder else None}  # fmt: skip
    if card["learner"] == "lightgbm":
        constants = card.get("constants") or {}
        trees = []
        for m in range(members):
            row: list[str | float] = []
            for t in range(outputs):
                key = f"m{m}.t{t}"
                if key not in texts and key not in constants:
                    raise ValueError(f"the tree model has no booster or constant for {key}")
                row.append(texts[key] if key in texts else float(constants[key]))
            trees.append(row)
        return TabularModel(card["inputs"], card["task_type"], card["task_names"], trees=trees, **common)
    in_dim = int(card["in_dim"])
    mlps = [build_mlp(in_dim, outputs, card.get("hidden")) for _ in range(members)]
    model = TabularModel(card["inputs"], card["task_type"], card["task_names"], mlps=mlps,
                         center=np.zeros(in_dim), scale=np.ones(in_dim), **common)  # fmt: skip
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    return model.eval()
