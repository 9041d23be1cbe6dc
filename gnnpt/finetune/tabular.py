"""Train fingerprint / descriptor models (:class:`~gnnpt.models.tabular.TabularModel`) on a split: LightGBM trees
per task, or an MLP head whose size and weight decay are chosen on the validation part.

Inputs are the named per-molecule vectors of :mod:`gnnpt.featurization.vectors`, computed once per dataset (and
cached) by :func:`dataset_vectors`; the test part is never looked at here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gnnpt.datasets.splits import Split
from gnnpt.featurization.cache import cached_features
from gnnpt.featurization.vectors import check_vector_kinds
from gnnpt.finetune.metrics import evaluate, primary_metric
from gnnpt.models.tabular import TabularModel, build_mlp
from gnnpt.models.targets import Standardizer
from gnnpt.runtime import available_cores, torch_threads


@dataclass(frozen=True)
class TreeParams:
    """LightGBM settings of a tree model (gradient boosting, or a random forest with ``boosting="rf"``)."""

    boosting: str = "gbdt"
    n_estimators: int = 400
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 10
    colsample_bytree: float = 0.3
    subsample: float = 0.8
    reg_lambda: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def lightgbm(self, seed: int, task_type: str, threads: int) -> dict[str, Any]:
        """Keyword arguments for ``lightgbm.LGBMClassifier`` / ``LGBMRegressor``."""
        params = {"boosting_type": self.boosting, "n_estimators": self.n_estimators, "num_leaves": self.num_leaves,
                  "min_child_samples": self.min_child_samples, "colsample_bytree": self.colsample_bytree,
                  "subsample": self.subsample, "subsample_freq": 1, "reg_lambda": self.reg_lambda,
                  "random_state": seed, "n_jobs": threads, "verbose": -1, "deterministic": True,
                  "force_row_wise": True, **self.extra}  # fmt: skip
        if self.boosting != "rf":
            params["learning_rate"] = self.learning_rate
        if task_type == "classification":
            params["is_unbalance"] = True
        return params


def dataset_vectors(smiles: Sequence[str], inputs: Sequence[str]) -> np.ndarray:
    """The concatenated vectors ``inputs`` of ``smiles`` [n, d] float32 (cached per kind; NaN where unknown)."""
    parts = [np.asarray(cached_features(list(smiles), kind), np.float32) for kind in check_vector_kinds(inputs)]
    return np.concatenate(parts, axis=1)


def _labelled(rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    return rows[~np.isnan(y[rows])]


def fit_trees(
    x: np.ndarray,
    targets: np.ndarray,
    split: Split,
    task_type: str,
    task_names: Sequence[str],
    inputs: Sequence[str],
    seeds: Sequence[int] = (0,),
    params: TreeParams | None = None,
    threads: int | None = None,
) -> TabularModel:
    """One LightGBM model per (seed, task) on the training part's labelled rows; a task whose training labels hold
    one class predicts that class's rate as a constant. ``threads``: LightGBM's (default: :func:`available_cores`)."""
    import lightgbm

    params = params or TreeParams()
    threads = threads or available_cores()
    train = np.asarray(split.train)
    y_all = np.asarray(targets, np.float64).reshape(len(x), -1)
    trees: list[list[str | float]] = []
    for seed in seeds:
        row: list[str | float] = []
        for t in range(y_all.shape[1]):
            rows = _labelled(train, y_all[:, t])
            y = y_all[rows, t]
            if task_type == "classification":
                y = (y > 0.5).astype(np.int64)
                if np.unique(y).size < 2:
                    row.append(float(y.mean()) if len(y) else 0.5)
                    continue
                model = lightgbm.LGBMClassifier(**params.lightgbm(seed, task_type, threads))
            else:
                if not len(y):
                    row.append(0.0)
                    continue
                model = lightgbm.LGBMRegressor(**params.lightgbm(seed, task_type, threads))
            model.fit(x[rows], y)
            row.append(model.booster_.model_to_string())
        trees.append(row)
    card = {"learner_params": {k: v for k, v in params.__dict__.items() if k != "extra"} | params.extra}
    return TabularModel(inputs, task_type, task_names, trees=trees, card=card)


def fit_head(x: dict[str, torch.Tensor], y: dict[str, torch.Tensor], task_type: str, hidden: int | None,
             weight_decay: float, seed: int, epochs: int = 300, lr: float = 3e-3,
             ) -> tuple[torch.nn.Module, float]:  # fmt: skip
    """A linear or one-hidden-layer head (:func:`build_mlp`) on fixed features: full-batch Adam on the training
    part, the state with the best validation score (checked every 20 epochs; NaN when it is undefined)."""
    torch.manual_seed(seed)
    net = build_mlp(x["train"].shape[1], y["train"].shape[1], hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    known = ~torch.isnan(y["train"])
    target = torch.nan_to_num(y["train"])
    metric, higher = primary_metric(task_type)
    best, best_state = -math.inf, None
    for epoch in range(epochs):
        net.train()
        out = net(x["train"])[known]
        loss = (F.binary_cross_entropy_with_logits(out, target[known]) if task_type == "classification"
                else F.mse_loss(out, target[known]))  # fmt: skip
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch % 20 == 19:
            net.eval()
            with torch.no_grad():
                try:
                    score = evaluate(task_type, y["valid"].numpy(), net(x["valid"]).numpy())[metric]
                except ValueError:  # no validation task with both classes
                    score = math.nan
            score = score if higher else -score
            if best_state is None or score > best:  # NaN never beats a first state
                best, best_state = score, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return net.eval(), best


def fit_mlp(
    x: np.ndarray,
    targets: np.ndarray,
    split: Split,
    task_type: str,
    task_names: Sequence[str],
    inputs: Sequence[str],
    seeds: Sequence[int] = (0,),
    hiddens: Sequence[int | None] = (None, 256),
    weight_decays: Sequence[float] = (1e-5, 1e-3, 1e-2),
    encoder: torch.nn.Module | None = None,
    inits: int = 1,
) -> TabularModel:
    """The (head, weight decay) with the best mean validation score over ``seeds`` (one head each), on inputs
    standardized with the training part's statistics (NaN inputs become the mean). Regression targets are
    standardized the same way.

    The chosen head then trains ``inits - 1`` more members per seed from other initializations (seed ``s + 1000 k``
    for the k-th), the model's score being their mean: one head early-stopped on a small validation part is a noisy
    draw. ``encoder``: the frozen encoder that computes the ``"encoder"`` input of ``x``."""
    if inits < 1:
        raise ValueError(f"inits={inits}: each seed trains at least one head")
    x = np.asarray(x, np.float32)
    y_all = np.asarray(targets, np.float32).reshape(len(x), -1)
    train, valid = np.asarray(split.train), np.asarray(split.valid)
    center = np.nan_to_num(np.nanmean(x[train], 0))
    scale = np.nan_to_num(np.nanstd(x[train], 0))
    scale = np.where(scale > 1e-6, scale, 1.0)  # a feature constant in training must not blow up when it moves
    standardizer = Standardizer.fit(y_all[train]) if task_type == "regression" else None
    y_fit = standardizer.transform(y_all) if standardizer is not None else y_all
    xs = {p: torch.from_numpy(np.nan_to_num((x[i] - center) / scale)) for p, i in (("train", train), ("valid", valid))}
    ys = {p: torch.from_numpy(np.asarray(y_fit[i], np.float32)) for p, i in (("train", train), ("valid", valid))}
    with torch_threads(1):  # heads this small gain nothing from threads, and lose a lot on a busy machine
        fits = {(h, wd): [fit_head(xs, ys, task_type, h, wd, seed) for seed in seeds]
                for h in hiddens for wd in weight_decays}  # fmt: skip
        (hidden, wd), members = max(fits.items(), key=lambda kv: np.nanmean([s for _, s in kv[1]]))
        members += [fit_head(xs, ys, task_type, hidden, wd, seed + 1000 * k) for seed in seeds for k in range(1, inits)]
    chosen = [net for net, _ in members]
    card = {"learner_params": {"hidden": hidden, "weight_decay": wd, "inits": inits, "chosen_on": "validation"}}
    return TabularModel(inputs, task_type, task_names, mlps=chosen, center=center, scale=scale, hidden=hidden,
                        standardizer=standardizer, card=card, encoder=encoder)  # fmt: skip
