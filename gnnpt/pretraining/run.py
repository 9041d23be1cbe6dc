"""Run a pretraining recipe end to end: corpus -> packed cache -> Lightning fit -> encoder + model card."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, Timer
from pytorch_lightning.loggers import CSVLogger
from torch import nn

import gnnpt
from gnnpt.datasets import load_corpus
from gnnpt.featurization.cache import cached_features, cached_featurize, input_hash
from gnnpt.featurization.descriptors import descriptor_names
from gnnpt.featurization.minimol import FINGERPRINT_DIM, TOX21_CAVEAT
from gnnpt.models.encoders import save_encoder
from gnnpt.models.store import resolve_encoder
from gnnpt.nn.precision import training_precision
from gnnpt.pretraining.config import PretrainConfig
from gnnpt.pretraining.data import PackedDataModule
from gnnpt.pretraining.descriptor_targets import DescriptorScaler
from gnnpt.pretraining.module import PretrainModule
from gnnpt.pretraining.objectives import (
    AttributeMasking,
    Combined,
    DescriptorPrediction,
    GraphContrastive,
    GraphMAE,
)
from gnnpt.pretraining.quiet import EpochBar, quiet_lightning
from gnnpt.pretraining.snapshots import EncoderSnapshots, hardware


def build_encoder(cfg: PretrainConfig) -> nn.Module:
    """A fresh encoder from ``cfg.encoder``, or the ``cfg.init`` one to continue (domain adaptation)."""
    kwargs = dict(cfg.encoder)
    spec = cfg.init or f"none:{kwargs.pop('gnn_type', 'gin')}"
    kwargs.pop("gnn_type", None)
    return resolve_encoder(spec, gnn_type=cfg.init_gnn_type, **kwargs)


OBJECTIVES: dict[str, type[nn.Module]] = {"masking": AttributeMasking, "contrastive": GraphContrastive,
                                         "graphmae": GraphMAE, "descriptors": DescriptorPrediction}  # fmt: skip
MINIMOL_NOTE = f"learned to predict MiniMol fingerprints; {TOX21_CAVEAT}"  # in the card of an encoder that did


def descriptor_kinds(cfg: PretrainConfig) -> list[str]:
    """The molecule feature vectors the recipe's ``descriptors`` objective predicts (none without one): its RDKit
    ``set`` (``fast`` unless ``set: null``) and, with ``minimol: true``, MiniMol's 512-d fingerprints (a published
    pretrained GNN's knowledge distilled into ours; needs the ``minimol`` extra)."""
    options = cfg.objectives.get("descriptors")
    if options is None:
        return []
    rdkit_set = options.get("set", "fast")
    kinds = [f"descriptors:{rdkit_set}"] if rdkit_set else []
    kinds += ["minimol"] if options.get("minimol") else []
    if not kinds:
        raise ValueError("the descriptors objective predicts nothing: give it an RDKit set, minimol: true, or both")
    return kinds


def _vector_names(kind: str) -> list[str]:
    """Column names of one kind of predicted vector."""
    if kind == "minimol":
        return [f"minimol_{i}" for i in range(FINGERPRINT_DIM)]
    return descriptor_names(kind.partition(":")[2])


def build_objective(cfg: PretrainConfig, encoder: nn.Module) -> nn.Module:
    """One objective, or a weighted ``Combined`` of several, from ``cfg.objectives``."""
    built, weights = {}, {}
    for name, options in cfg.objectives.items():
        options = dict(options)
        weights[name] = float(options.pop("weight", 1.0))
        if name not in OBJECTIVES:
            raise ValueError(f"unknown objective {name!r}; choose from {sorted(OBJECTIVES)}")
        if name == "descriptors":
            options["num_descriptors"] = sum(len(_vector_names(k)) for k in descriptor_kinds(cfg))
            for key in ("set", "minimol"):  # what the targets are, not options of the objective's module
                options.pop(key, None)
        built[name] = OBJECTIVES[name](encoder, **options)
    if not built:
        raise ValueError("a recipe needs at least one objective")
    return Combined(built, weights)


def loss_curve(run_dir: Path, points: int = 100) -> list[dict[str, float]]:
    """The logged training metrics of every (resumed) fit of a run, averaged into at most ``points`` step windows."""
    files = sorted((run_dir / "logs").glob("version_*/metrics.csv"))
    if not files:
        return []
    frame = pd.concat([pd.read_csv(f) for f in files], ignore_index=True).dropna(subset=["loss"])
    frame = frame.drop(columns=["epoch"], errors="ignore").sort_values("step").drop_duplicates("step", keep="last")
    if frame.empty:
        return []
    window = (frame["step"] // max(1, int(frame["step"].max()) // points + 1)).rename("window")
    curve = frame.groupby(window).mean()
    curve["step"] = frame.groupby(window)["step"].max()
    return [{k: round(float(v), 4) for k, v in row.items() if pd.notna(v)} for row in curve.to_dict("records")]


def descriptor_targets(cfg: PretrainConfig, smiles: list[str]) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """Standardized descriptor targets of the corpus (each kind cached by the corpus' hash) when the recipe
    predicts them: the RDKit set's columns, then MiniMol's."""
    kinds = descriptor_kinds(cfg)
    if not kinds:
        return None, {}
    start = time.perf_counter()
    values = np.concatenate([cached_features(smiles, k, workers=cfg.featurize_workers) for k in kinds], axis=1)
    scaler = DescriptorScaler.fit(values)
    rdkit = [k.partition(":")[2] for k in kinds if k.startswith("descriptors:")]
    record = {"set": rdkit[0] if rdkit else None, "minimol": "minimol" in kinds,
              "names": [n for k in kinds for n in _vector_names(k)], "scaler": scaler.to_dict(),
              "failed_molecules": int((~np.isfinite(values)).all(axis=1).sum()),
              "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    return scaler.transform(values), record


def pretrain(cfg: PretrainConfig, callbacks: list[pl.Callback] | None = None) -> Path:
    """Pretrain per ``cfg``; returns the directory of the saved encoder (safetensors + card.json).

    ``callbacks``: extra Lightning callbacks (progress reporting, cancellation) beside the checkpointing one."""
    start = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)

    smiles = load_corpus(cfg.corpus, limit=cfg.limit)["smiles"].astype(str).tolist()
    store = cached_featurize(smiles, max_atoms=cfg.max_atoms, workers=cfg.featurize_workers, progress=cfg.progress)
    invalid = Counter(str(e.reason) for e in store.errors)
    (run_dir / "invalid_molecules.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in store.errors))
    if cfg.progress and store.errors:
        print(f"{len(store.errors):,} of {len(store):,} molecules could not be featurized: {dict(invalid)}")

    encoder = build_encoder(cfg)
    objective = build_objective(cfg, encoder)
    if cfg.compile:
        encoder.forward = torch.compile(encoder.forward, dynamic=True)  # the state_dict keys stay unprefixed
    targets, descriptors = descriptor_targets(cfg, smiles)
    data = PackedDataModule(store, cfg.batch_size, cfg.seed, graph_targets=targets)
    steps_per_epoch = len(data.ids) // cfg.batch_size
    total = cfg.max_steps or steps_per_epoch * cfg.epochs
    budget_s = cfg.max_minutes * 60 if cfg.max_minutes else None
    module = PretrainModule(objective, cfg.lr, cfg.weight_decay, cfg.warmup_steps, total, cfg.seed, cfg.schedule,
                            budget_s)  # fmt: skip
    precision = training_precision(cfg.precision, cfg.accelerator)
    timer = Timer(timedelta(seconds=budget_s) if budget_s else None, verbose=False)
    snapshots = EncoderSnapshots(run_dir / "snapshots", cfg.snapshot_minutes, {
        "name": cfg.name, "objectives": cfg.objectives, "corpus": cfg.corpus, "precision": precision,
        "recipe": cfg.to_dict()})  # fmt: skip
    checkpoints = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=0,
                                  every_n_train_steps=cfg.checkpoint_every_n_steps)  # fmt: skip
    with quiet_lightning():  # no device banners or tips: the run's own log says what it does
        trainer = pl.Trainer(
            accelerator=cfg.accelerator,
            devices=cfg.devices,
            num_nodes=cfg.num_nodes,
            strategy=cfg.strategy,
            precision=precision,
            max_epochs=-1 if budget_s else cfg.epochs,  # a time budget replaces the epoch count
            max_steps=cfg.max_steps or -1,
            gradient_clip_val=cfg.grad_clip,
            callbacks=[checkpoints, timer, snapshots, *([EpochBar()] if cfg.progress else []), *(callbacks or [])],
            logger=CSVLogger(run_dir, name="logs"),  # logs/version_N/metrics.csv, a new N for each (resumed) fit
            use_distributed_sampler=False,  # PackedDataModule shards by rank itself
            enable_progress_bar=cfg.progress,
            enable_model_summary=False,
            log_every_n_steps=cfg.log_every_n_steps,
        )
        last = run_dir / "checkpoints" / "last.ckpt"
        resume = str(last) if cfg.resume and last.exists() else None
        trainer.fit(module, datamodule=data, ckpt_path=resume, weights_only=True)  # a checkpoint is never unpickled
        # the end state (optimizer and loops too), so a longer run of the same recipe can continue from it
        trainer.save_checkpoint(last, weights_only=False)

    final = {k: round(float(v), 6) for k, v in trainer.callback_metrics.items()}
    card: dict[str, Any] = {
        "name": cfg.name,
        "gnnpt_version": gnnpt.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "objectives": cfg.objectives,
        "init": cfg.init,
        "corpus": {
            "name": cfg.corpus,
            "limit": cfg.limit,
            "sha256": input_hash(smiles, "corpus-smiles"),
            "molecules": len(store),
            "invalid": len(store.errors),
            "invalid_by_reason": dict(invalid),
        },
        "descriptors": descriptors or None,
        "notes": [MINIMOL_NOTE] if "minimol" in descriptor_kinds(cfg) else [],
        "hyper_parameters": {k: getattr(cfg, k) for k in (
            "batch_size", "lr", "weight_decay", "warmup_steps", "grad_clip", "seed", "max_atoms", "max_minutes")},
        "precision": precision,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "hardware": hardware(trainer),
        "wall_time_s": round(time.perf_counter() - start, 2),
        "final_metrics": final,
        "curve": loss_curve(run_dir),
        "recipe": cfg.to_dict(),
    }  # fmt: skip
    if trainer.is_global_zero:
        save_encoder(encoder, run_dir / "encoder", card)
    return run_dir / "encoder"
