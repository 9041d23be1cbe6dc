"""Heads on frozen molecule features: the linear probe of a pretrained encoder, and the head of a fingerprint peer.

A probe trains only a small head (linear, or one hidden layer) on fixed features, so it measures what an encoder
(or a published fingerprint model such as MiniMol) already knows, at a cost of seconds instead of a fine-tuning
run. The head and its weight decay are chosen on the validation part only; the test part is scored once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gnnpt.datasets.splits import Split
from gnnpt.finetune.metrics import table_score
from gnnpt.finetune.tabular import fit_head
from gnnpt.models.store import resolve_encoder
from gnnpt.models.tabular import ENCODER_INPUT, graph_vectors
from gnnpt.models.targets import Standardizer
from gnnpt.runtime import torch_threads
from gnnpt.store.packed import PackedGraphs


@torch.no_grad()
def encoder_features(encoder: nn.Module, store: PackedGraphs, batch_size: int = 1024) -> np.ndarray:
    """Mean-pooled node representations of every graph of ``store`` (float32; zero rows for invalid graphs)."""
    encoder = encoder.eval()
    out = np.zeros((len(store), encoder.out_dim), dtype=np.float32)
    for ids, gb in store.valid_batches(batch_size):
        out[ids] = graph_vectors(encoder, gb).cpu().numpy()
    return out


def attach_encoder_vectors(
    spec: str | None, store: PackedGraphs, gnn_type: str | None = None, key: str = ENCODER_INPUT
) -> nn.Module:
    """Encoder ``spec`` frozen, its graph vectors of ``store`` attached as ``store.features[key]`` (what an MLP head
    on a frozen encoder trains on; scoring recomputes them from the graphs with the encoder the model holds). A fresh
    encoder (``"none"``) is seeded, so the same spec always gives the same vectors."""
    torch.manual_seed(0)
    encoder = resolve_encoder(spec, gnn_type).eval()
    store.features[key] = torch.from_numpy(encoder_features(encoder, store))
    return encoder


@dataclass
class ProbeResult:
    """Per seed: the chosen head (``linear`` or ``mlp``), its weight decay, validation and test score: ROC-AUC (%)
    for classification, RMSE in target units for regression."""

    head: list[str]
    weight_decay: list[float]
    valid: list[float]
    test: list[float]


def probe(
    features: np.ndarray,
    targets: np.ndarray,
    split: Split,
    seeds: Sequence[int] = (0, 1, 2),
    heads: Sequence[str] = ("linear", "mlp"),
    weight_decays: Sequence[float] = (1e-5, 1e-3, 1e-2),
    rows: np.ndarray | None = None,
    task_type: str = "classification",
) -> ProbeResult:
    """Heads on ``features`` [n, d] for binary-classification or regression ``targets`` [n, tasks] (NaN = missing).

    Features (and regression targets) are standardized with the training part's statistics. For each seed every
    (head, weight decay) is fitted and the one with the best validation score is scored on test. ``rows`` (bool [n])
    leaves out rows without features (e.g. invalid molecules) from every part.
    """
    if task_type not in ("classification", "regression"):
        raise ValueError(f"a probe fits classification or regression heads, not {task_type!r}")
    features = np.asarray(features, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.float32).reshape(len(features), -1)
    keep = np.ones(len(features), bool) if rows is None else np.asarray(rows, bool)
    parts = {p: np.asarray(idx)[keep[np.asarray(idx)]] for p, idx in
             (("train", split.train), ("valid", split.valid), ("test", split.test))}  # fmt: skip
    mean, std = features[parts["train"]].mean(0), features[parts["train"]].std(0) + 1e-6
    scaler = Standardizer.fit(targets[parts["train"]]) if task_type == "regression" else None
    fitted = scaler.transform(targets) if scaler is not None else targets
    x = {p: torch.from_numpy((features[i] - mean) / std) for p, i in parts.items()}
    y = {p: torch.from_numpy(np.asarray(fitted[i], np.float32)) for p, i in parts.items()}
    result = ProbeResult([], [], [], [])
    for seed in seeds:
        with torch_threads(1):  # heads this small gain nothing from threads, and lose a lot on a busy machine
            fits = [(kind, wd, *fit_head(x, y, task_type, None if kind == "linear" else 256, wd, seed))
                    for kind in heads for wd in weight_decays]  # fmt: skip
        kind, wd, head, _ = max(fits, key=lambda f: -math.inf if math.isnan(f[3]) else f[3])
        with torch.no_grad():
            out = {p: head(x[p]).numpy() for p in ("valid", "test")}
        if scaler is not None:
            out = {p: scaler.inverse(o) for p, o in out.items()}
        result.head.append(kind)
        result.weight_decay.append(wd)
        result.valid.append(table_score(task_type, targets[parts["valid"]], out["valid"]))
        result.test.append(table_score(task_type, targets[parts["test"]], out["test"]))
    return result
