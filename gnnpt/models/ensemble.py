"""An ensemble of models of any kind (fine-tuned GNNs, fingerprint / descriptor models), weighted per output, with
calibrated probabilities and conformal prediction sets: what ``gnnpt finetune --model auto`` writes.

Each component scores the batch (its own members' mean); the ensemble's score is their weighted mean (weights chosen
on the validation part), its spread the weighted spread between components, and for classification the mean is
then Platt-calibrated. The conformal calibration (:mod:`gnnpt.models.conformal`) turns calibrated scores into
prediction sets or intervals. Everything lives in the usual three files: component tensors and trees under
``c<i>.`` prefixes, component cards inside the ensemble's card.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from gnnpt.featurization.pipeline import featurize
from gnnpt.featurization.vectors import attach_vectors
from gnnpt.models.calibration import apply_platt
from gnnpt.models.conformal import Conformal
from gnnpt.models.tabular import TabularModel
from gnnpt.store.packed import GraphBatch, PackedGraphs


class EnsembleModel(nn.Module):
    """``components`` (each with ``featurize``-compatible inputs and the same tasks) combined with ``weights``
    [components, outputs] (non-negative; each output's column sums to 1).

    ``platt``: per-output (a, b) applied to the weighted mean (classification); ``conformal``: the validation
    part's calibration scores for prediction sets / intervals.
    """

    def __init__(
        self,
        components: Sequence[nn.Module],
        weights: np.ndarray,
        *,
        platt: tuple[np.ndarray, np.ndarray] | None = None,
        conformal: Conformal | None = None,
        card: dict[str, Any] | None = None,
    ):
        super().__init__()
        if not components:
            raise ValueError("an ensemble needs at least one component")
        first = components[0]
        self.task_type, self.task_names = first.task_type, list(first.task_names)
        for c in components:
            if (c.task_type, list(c.task_names)) != (self.task_type, self.task_names):
                raise ValueError("every component of an ensemble predicts the same tasks of the same type")
        weights = np.asarray(weights, np.float64).reshape(len(components), len(self.task_names))
        if (weights < 0).any() or not np.allclose(weights.sum(0), 1):
            raise ValueError("ensemble weights are non-negative and sum to 1 for each output")
        schemes = {c.scheme for c in components if not isinstance(c, TabularModel)}
        if len(schemes) > 1:
            raise ValueError(f"the GNN components of an ensemble read one graph scheme, not {sorted(schemes)}")
        self.scheme = schemes.pop() if schemes else "hu2020"
        self.components = nn.ModuleList(components)
        self.register_buffer("weights", torch.from_numpy(weights.astype(np.float32)))
        self.platt, self.conformal = platt, conformal
        self.card: dict[str, Any] = dict(card or {})
        self.inputs = sorted({k for c in components for k in getattr(c, "inputs", ())})

    @property
    def members(self) -> list[nn.Module]:
        """The components (the ensemble spread is taken over them)."""
        return list(self.components)

    def output_names(self) -> list[str]:
        return self.task_names

    def featurize(self, smiles: Sequence[object], max_atoms: int = 1000, fingerprints: bool = False) -> PackedGraphs:
        """The graphs of the GNN components' scheme with every feature vector a component reads attached."""
        store = featurize(list(smiles), self.scheme, canonical=True, max_atoms=max_atoms, fingerprints=fingerprints)
        return attach_vectors(store, self.inputs) if self.inputs else store

    def member_scores(self, graphs: GraphBatch) -> torch.Tensor:
        """Each component's score [components, graphs, outputs] (the mean over its own members), uncalibrated."""
        return torch.stack([c.member_scores(graphs).mean(0) for c in self.components])

    def combine(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weighted mean (calibrated for classification) and weighted spread of component ``scores``."""
        w = self.weights.to(scores.dtype).unsqueeze(1)  # [components, 1, outputs]
        mean = (w * scores).sum(0)
        spread = ((w * (scores - mean) ** 2).sum(0)).sqrt() if len(self.components) > 1 else None
        if self.platt is not None:
            mean = torch.from_numpy(apply_platt(mean.cpu().numpy(), *self.platt)).to(mean.device)
        return mean, spread

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, str]]:
        """The card's fields (component cards inside), the tensors and tree texts under ``c<i>.`` prefixes, and the
        conformal calibration scores."""
        fields: dict[str, Any] = {
            **{k: v for k, v in self.card.items() if k != "domain"},
            "kind": "ensemble", "task_type": self.task_type, "task_names": self.task_names,
            "outputs": len(self.task_names), "components": [], "weights": self.weights.tolist(),
            "platt": {"a": self.platt[0].tolist(), "b": self.platt[1].tolist()} if self.platt is not None else None,
            "conformal": self.conformal is not None,
        }  # fmt: skip
        tensors: dict[str, torch.Tensor] = {}
        texts: dict[str, str] = {}
        for i, component in enumerate(self.components):
            c_fields, c_tensors, c_texts = component.state()
            fields["components"].append(c_fields)
            tensors.update({f"c{i}.{k}": v for k, v in c_tensors.items()})
            texts.update({f"c{i}.{k}": v for k, v in c_texts.items()})
        if self.conformal is not None:
            tensors.update({k: torch.from_numpy(v) for k, v in self.conformal.tensors().items()})
        return fields, tensors, texts


def _prefixed(items: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in items.items() if k.startswith(prefix)}


def ensemble_from_state(card: dict[str, Any], tensors: dict[str, torch.Tensor], texts: dict[str, str]) -> EnsembleModel:
    """The ensemble a :meth:`EnsembleModel.state` describes, its components rebuilt by their own kinds."""
    from gnnpt.models.artifact import component_from_state

    components = [component_from_state(c, _prefixed(tensors, f"c{i}."), _prefixed(texts, f"c{i}."))
                  for i, c in enumerate(card["components"])]  # fmt: skip
    platt = card.get("platt")
    conformal = None
    if card.get("conformal"):
        arrays = {k: v.numpy() for k, v in tensors.items() if k.startswith("conformal.")}
        conformal = Conformal.from_tensors(card["task_type"], len(card["task_names"]), arrays)
    weights = np.asarray(card.get("weights") or np.full((len(components), card["outputs"]), 1 / len(components)))
    return EnsembleModel(components, weights, card=card, conformal=conformal,
                         platt=(np.asarray(platt["a"]), np.asarray(platt["b"])) if platt else None)  # fmt: skip
