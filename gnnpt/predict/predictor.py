"""``Predictor``: a model that scores (fine-tuned GNN, fingerprint model, ensemble), for notebooks — scores, spread,
conformal sets, applicability domain, embeddings, pictures.

from gnnpt.predict import Predictor
p = Predictor.from_path("models/tox21")
p.predict(["CCO", "c1ccccc1O"])        # or a Series, a DataFrame, a CSV/TSV/SMI/SDF/Parquet path
p.show(["CCO", "c1ccccc1O"])           # grid of depictions with "task: score" legends
p.explain("c1ccccc1O", task="SR-MMP")  # atom attributions, drawn
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gnnpt.models.artifact import load_model_dir
from gnnpt.models.conformal import DEFAULT_CONFIDENCE
from gnnpt.models.domain import IN_DOMAIN_THRESHOLD, TrainingDomain
from gnnpt.models.finetuned import FinetunedModel
from gnnpt.models.scored import ScoredMolecules
from gnnpt.models.scoring import MAX_ATOMS, ScoringModel, model_device, score_molecules
from gnnpt.models.store import model_path
from gnnpt.nn.precision import DEFAULT_PRECISION, resolve_precision
from gnnpt.predict.attribution import Explanation, explain
from gnnpt.predict.display import MoleculeGrid, html_table, summary_rows
from gnnpt.predict.inputs import MoleculeInput, read_input
from gnnpt.predict.scores import output_index
from gnnpt.store.packed import PackedGraphs


class Predictor:
    """A model that scores (:func:`gnnpt.models.load_model`) with notebook-friendly inputs and outputs.

    ``domain`` (the training molecules' fingerprints) fills ``max_similarity`` / ``in_domain``; without it they
    are NaN / None. ``threshold``: the max Tanimoto similarity at or above which a molecule is ``in_domain``.
    ``max_atoms``: larger molecules get a "too many atoms" error instead of scores. ``precision``: ``fp32``, ``bf16``
    or ``auto`` (see :mod:`gnnpt.nn.precision`). ``confidence``: of the conformal prediction sets / intervals of a
    model calibrated for them (``<task>_set`` or ``<task>_lo`` / ``<task>_hi`` columns).
    """

    def __init__(
        self,
        model: ScoringModel,
        domain: TrainingDomain | None = None,
        threshold: float = IN_DOMAIN_THRESHOLD,
        max_atoms: int = MAX_ATOMS,
        precision: str = DEFAULT_PRECISION,
        confidence: float = DEFAULT_CONFIDENCE,
    ):
        if not callable(getattr(model, "member_scores", None)):
            raise TypeError(f"Predictor wraps a model that scores (gnnpt.models.load_model), not "
                            f"{type(model).__name__}")  # fmt: skip
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.9), not {confidence}")
        self.model, self.domain, self.threshold, self.confidence = model, domain, threshold, confidence
        self.max_atoms, self.precision = max_atoms, resolve_precision(precision, self.device)

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        device: str | torch.device = "cpu",
        threshold: float = IN_DOMAIN_THRESHOLD,
        confidence: float = DEFAULT_CONFIDENCE,
        precision: str = DEFAULT_PRECISION,
    ) -> Predictor:
        """The model saved in ``path``, with the ``domain.safetensors`` saved next to it when there is one."""
        return cls(load_model_dir(path, device), TrainingDomain.load(path), threshold, precision=precision,
                   confidence=confidence)  # fmt: skip

    @property
    def card(self) -> dict[str, Any]:
        return self.model.card

    @property
    def task_names(self) -> list[str]:
        return self.model.task_names

    @property
    def device(self) -> torch.device:
        return model_device(self.model)

    def _featurize(self, smiles: list[object]) -> PackedGraphs:
        """Graphs of ``smiles`` (``.smiles`` canonical)."""
        return self.model.featurize(smiles, self.max_atoms)

    def score(
        self,
        smiles: list[object],
        errors: list[str | None] | None = None,
        batch_size: int = 1024,
        store: PackedGraphs | None = None,
    ) -> ScoredMolecules:
        """:meth:`predict` as plain columns, for a list of SMILES (what the REST service calls per micro-batch and
        ``gnnpt screen`` per chunk): :func:`gnnpt.models.scoring.score_molecules` with this predictor's domain,
        threshold, atom limit and precision. ``errors``: per-row errors found before featurization; ``store``: the
        graphs of ``smiles`` when already featurized."""
        return score_molecules(self.model, smiles, errors=errors, store=store, domain=self.domain,
                               threshold=self.threshold, max_atoms=self.max_atoms, batch_size=batch_size,
                               precision=self.precision, confidence=self.confidence)  # fmt: skip

    def predict(self, x: MoleculeInput, smiles_col: str | None = None, batch_size: int = 1024) -> pd.DataFrame:
        """One row per input, in input order (a Series' or DataFrame's index is kept), nothing dropped.

        Columns: ``smiles`` (as given), ``canonical_smiles`` (RDKit; None when invalid), one per task (probability
        for classification, value for regression), ``<task>_std`` (spread over ensemble members; only when there
        are several), for a conformally calibrated model ``<task>_set`` (``active``, ``inactive``, ``both`` or
        ``none`` at :attr:`confidence`) or ``<task>_lo`` / ``<task>_hi`` (regression), ``max_similarity`` and
        ``in_domain`` (see :class:`TrainingDomain`), and ``error`` (None, or "reason: message" for an input that was
        not scored; its scores are NaN).
        """
        mols = read_input(x, smiles_col)
        return self.score(mols.smiles, mols.errors, batch_size).frame(mols.smiles, mols.index)

    @torch.no_grad()
    def embed(self, x: MoleculeInput, smiles_col: str | None = None, batch_size: int = 1024) -> np.ndarray:
        """Pooled encoder embeddings [rows, dim] (float32) of ensemble member 0; NaN rows for invalid inputs.

        Member 0 only: members fine-tuned from different seeds do not share coordinates, so a mean over them would
        mix unrelated dimensions.
        """
        store = self._featurize(read_input(x, smiles_col).smiles)
        member = self.gnn().members[0].eval()
        out = np.full((len(store), member.encoder.out_dim), np.nan, np.float32)
        for ids, graphs in store.valid_batches(batch_size, self.device):
            out[ids] = member.embed(graphs).float().cpu().numpy()
        return out

    def gnn(self) -> FinetunedModel:
        """The fine-tuned GNN this model scores with (an ensemble's first GNN component); ValueError for a model
        without one (a fingerprint model has no graph encoder to embed with or explain)."""
        candidates = [self.model, *getattr(self.model, "components", [])]
        for model in candidates:
            if isinstance(model, FinetunedModel):
                return model
        raise ValueError(f"{self.card.get('name') or 'this model'} has no graph neural network (it scores "
                         "fingerprints / descriptors); embed and explain need a GNN model such as "
                         "tox21-fast")  # fmt: skip

    def show(
        self, x: MoleculeInput, max_mols: int = 24, task: str | int | None = None, smiles_col: str | None = None
    ) -> MoleculeGrid:
        """Predictions with a grid of the first ``max_mols`` molecules, legends "task: score" for ``task``
        (None: the first task). Displays inline in a notebook; ``.frame`` holds every prediction."""
        task_name = self.model.output_names()[output_index(self.model, task)]
        return MoleculeGrid.build(self.predict(x, smiles_col), task_name, max_mols)

    def explain(self, smiles: str, task: str | int | None = None, method: str = "gradient_x_input") -> Explanation:
        """Atom attributions of ``smiles`` for ``task`` (None: the first task), drawn (``gradient_x_input`` or
        ``occlusion``; see :mod:`gnnpt.predict.attribution`). Computed in float32 whatever this predictor's precision
        (gradients want it): its score is :meth:`predict`'s at ``fp32``."""
        return explain(self.gnn(), smiles, task, method)

    def __repr__(self) -> str:
        domain = f"{len(self.domain)} training fingerprints" if self.domain is not None else "none"
        return (f"Predictor(name={self.card.get('name')!r}, task_type={self.model.task_type!r}, "
                f"tasks={len(self.task_names)}, members={len(self.model.members)}, domain={domain})")  # fmt: skip

    def _repr_html_(self) -> str:
        rows = summary_rows(self.card, self.model.task_type, self.model.output_names(), len(self.model.members))
        if self.domain is not None:
            domain = f"{len(self.domain)} training fingerprints; in_domain when max Tanimoto ≥ {self.threshold}"
        else:
            domain = "none saved (max_similarity and in_domain stay empty)"
        rows.append(("applicability domain", domain))
        return html_table(rows, "gnnpt Predictor")


def load(
    name: str | Path | None = None,
    device: str | torch.device = "cpu",
    confidence: float = DEFAULT_CONFIDENCE,
    precision: str = DEFAULT_PRECISION,
) -> Predictor:
    """The notebook entry point (``gnnpt.load``): the default Tox21 model when ``name`` is None, else a saved model
    directory, a model store name (``name`` / ``name@v2``) or a shipped model, as a :class:`Predictor`
    (``confidence``: of its conformal prediction sets / intervals, when it has them; ``precision``: ``auto``,
    ``fp32`` or ``bf16``, see :mod:`gnnpt.nn.precision`)."""
    return Predictor.from_path(model_path(name), device, confidence=confidence, precision=precision)
