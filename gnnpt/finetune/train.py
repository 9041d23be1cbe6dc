"""Fine-tune an encoder on labeled graphs with one or several seeds; the seeds' models form one ensemble."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from pydantic import ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pytorch_lightning.callbacks import EarlyStopping

from gnnpt.datasets.splits import Split
from gnnpt.featurization.vectors import attach_vectors, check_vector_kinds
from gnnpt.finetune.data import FinetuneDataModule
from gnnpt.finetune.metrics import primary_metric
from gnnpt.finetune.module import FinetuneModule
from gnnpt.finetune.strategies import Strategy
from gnnpt.finetune.tasks import positive_weights
from gnnpt.models.finetuned import HEADS, FinetunedModel, build_graph_model
from gnnpt.models.store import encoder_scheme, resolve_encoder, scratch_gnn_type
from gnnpt.models.targets import Standardizer
from gnnpt.nn.jk import JK_MODES
from gnnpt.nn.pooling import POOLINGS
from gnnpt.nn.precision import training_precision
from gnnpt.pretraining.quiet import EpochBar, quiet_lightning
from gnnpt.store.packed import PackedGraphs


@pydantic_dataclass(config=ConfigDict(strict=False, extra="forbid"))
class FinetuneConfig:
    """How to fine-tune. The defaults are the protocol of Hu et al. (2020): GIN 5x300, mean pooling, linear
    head, dropout 0.5, Adam lr 1e-3, batch 32, 100 epochs, every epoch run (no early stopping).

    Validated when built (types, ranges, names of strategies, poolings, heads, JK modes), so a bad option fails
    before any data is read, with the field named."""

    encoder: str | None = None  # "none[:gnn_type]", a saved encoder directory, a .pth file or "hu2020:<name>"
    gnn_type: Literal["gin", "gcn", "graphsage", "gat"] | None = None  # for .pth files whose name does not say
    strategy: str = "full"  # full, linear_probe, freeze:k, llrd:d, lora:r, adapter:d
    pooling: Literal[POOLINGS] = "mean"
    head: Literal[HEADS] = "linear"
    descriptors: list[str] = Field(default_factory=list)  # molecule vectors beside the graph vector into the head
    dropout: float = Field(0.5, ge=0, lt=1)
    jk: Literal[JK_MODES] = "last"
    emb_dim: PositiveInt | None = None  # width and depth of a fresh ("none") encoder; None = Hu et al.'s 300 and 5
    num_layer: PositiveInt | None = None
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 0.0
    batch_size: PositiveInt = 32
    epochs: PositiveInt = 100
    patience: PositiveInt | None = None  # stop after this many epochs without a better validation score
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    pos_weight: bool = False  # weight positives by the negative/positive ratio of each task
    accelerator: str = "auto"
    precision: str = "auto"  # bf16-mixed where the device computes bf16 natively, else 32-true (or any Lightning value)
    progress: bool = False

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        Strategy.parse(value)  # raises with the forms it accepts
        return value

    @field_validator("descriptors")
    @classmethod
    def _descriptors(cls, value: list[str]) -> list[str]:
        return check_vector_kinds(value)  # raises naming the kinds it knows

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(f"seeds {value} repeat a seed; each seed trains one ensemble member")
        return value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SeedRun:
    """One seed: the best-validation epoch, the scores there, and the test score at the last epoch."""

    seed: int
    best_epoch: int | None
    valid: dict[str, float]
    test: dict[str, float]
    test_last: dict[str, float]
    history: list[dict[str, Any]]
    wall_time_s: float


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    return (float(arr.mean()), float(arr.std())) if len(arr) else (math.nan, math.nan)


@dataclass
class FinetuneResult:
    """The ensemble of all seeds' best-validation models, and each seed's record."""

    model: FinetunedModel
    runs: list[SeedRun]
    metric: str
    wall_time_s: float

    def summary(self) -> dict[str, float]:
        """Mean and std over seeds of the primary metric: test at best validation, test at last epoch, valid."""
        out: dict[str, float] = {}
        for key, pick in (
            ("test", lambda r: r.test),
            ("test_last", lambda r: r.test_last),
            ("valid", lambda r: r.valid),
        ):
            mean, std = _mean_std([pick(r).get(self.metric, math.nan) for r in self.runs])
            out[f"{key}_{self.metric}_mean"], out[f"{key}_{self.metric}_std"] = mean, std
        return out


def num_outputs(task_type: str, targets: np.ndarray) -> int:
    """Tasks for binary classification and regression; classes (max label + 1) for multiclass."""
    if task_type == "multiclass":
        labels = targets[~np.isnan(targets)]
        return int(labels.max()) + 1 if len(labels) else 0
    return targets.shape[1]


def _trainer(cfg: FinetuneConfig, metric: str, higher: bool, extra: list[pl.Callback] | None = None) -> pl.Trainer:
    callbacks = [*(extra or []), *([EpochBar()] if cfg.progress else [])]
    if cfg.patience:
        callbacks.append(EarlyStopping(f"valid_{metric}", patience=cfg.patience, mode="max" if higher else "min"))
    return pl.Trainer(
        max_epochs=cfg.epochs, accelerator=cfg.accelerator, devices=1,
        precision=training_precision(cfg.precision, cfg.accelerator),
        logger=False, enable_checkpointing=False, enable_model_summary=False, enable_progress_bar=cfg.progress,
        num_sanity_val_steps=0, callbacks=callbacks, deterministic=False,
    )  # fmt: skip


def _extra_scaling(store: PackedGraphs, split: Split, kinds: list[str]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """For a descriptor hybrid: attach the vectors ``kinds`` to ``store`` (cached) and return their mean and std
    over the training part's molecules (std 1 where a value is constant there)."""
    if not kinds:
        return None
    attach_vectors(store, kinds, cache=True)
    rows = np.asarray(split.train)[store.valid[np.asarray(split.train)]]
    x = torch.cat([store.features[k][torch.from_numpy(rows)].double() for k in kinds], dim=1).numpy()
    center = np.nan_to_num(np.nanmean(x, 0))
    scale = np.nan_to_num(np.nanstd(x, 0))
    return torch.from_numpy(center).float(), torch.from_numpy(np.where(scale > 1e-6, scale, 1.0)).float()


def finetune(
    store: PackedGraphs,
    targets: np.ndarray,
    split: Split,
    task_type: str,
    task_names: list[str],
    cfg: FinetuneConfig | None = None,
    callbacks: list[pl.Callback] | None = None,
) -> FinetuneResult:
    """Fine-tune ``cfg.encoder`` on ``store``/``targets`` (NaN = missing) once per seed in ``cfg.seeds``.

    ``callbacks``: extra Lightning callbacks for every seed's fit (progress reporting, cancellation).

    Each seed changes the head's (and an un-pretrained encoder's) initialization, dropout and batch order; the
    split stays fixed. Returns the seeds' best-validation models as one ensemble, with every seed's record.
    """
    cfg = cfg or FinetuneConfig()
    sizes = {k: v for k, v in (("emb_dim", cfg.emb_dim), ("num_layer", cfg.num_layer)) if v is not None}
    if sizes and scratch_gnn_type(cfg.encoder) is None:
        raise ValueError("emb_dim and num_layer size a fresh encoder; a pretrained encoder keeps its own size")
    scheme = encoder_scheme(cfg.encoder)
    if "minimol" in (scheme, store.scheme) and scheme != store.scheme:
        raise ValueError(
            f"encoder {cfg.encoder!r} reads graphs of the {scheme!r} scheme, the store holds "
            f"{store.scheme!r} ones: featurize with cached_featurize(smiles, scheme={scheme!r})"
        )
    start = time.perf_counter()
    targets = np.asarray(targets, dtype=np.float32)
    if targets.ndim == 1:
        targets = targets[:, None]
    metric, higher = primary_metric(task_type)
    train_targets = targets[np.asarray(split.train)]
    standardizer = Standardizer.fit(train_targets) if task_type == "regression" else None
    pos_weight = positive_weights(train_targets) if cfg.pos_weight and task_type == "classification" else None
    strategy = Strategy.parse(cfg.strategy)
    extras = _extra_scaling(store, split, cfg.descriptors)
    members, runs = [], []
    for seed in cfg.seeds:
        seed_start = time.perf_counter()
        pl.seed_everything(seed, verbose=False)
        encoder = resolve_encoder(cfg.encoder, gnn_type=cfg.gnn_type, jk=cfg.jk, drop_ratio=cfg.dropout, **sizes)
        model = build_graph_model(encoder, num_outputs(task_type, targets), cfg.pooling, cfg.head, cfg.descriptors,
                                  len(extras[0]) if extras else 0)  # fmt: skip
        if extras:
            model.extra_center.copy_(extras[0])
            model.extra_scale.copy_(extras[1])
        module = FinetuneModule(model, task_type, strategy, cfg.lr, cfg.weight_decay, pos_weight, standardizer)
        data = FinetuneDataModule(store, targets, split, cfg.batch_size, seed)
        with quiet_lightning():
            _trainer(cfg, metric, higher, callbacks).fit(module, datamodule=data)
        best = next((h for h in module.history if h["epoch"] == module.best_epoch), {})
        last = module.history[-1] if module.history else {}
        runs.append(SeedRun(seed, module.best_epoch, best.get("valid", {}), best.get("test", {}),
                            last.get("test", {}), module.history, time.perf_counter() - seed_start))  # fmt: skip
        members.append(module.model.cpu().eval())
    model = FinetunedModel(members, task_type, task_names, standardizer, strategy=asdict(strategy), scheme=store.scheme)
    return FinetuneResult(model, runs, metric, time.perf_counter() - start)
