"""Run a pretraining recipe end to end: corpus -> packed cache -> Lightning fit -> encoder + model card."""

from __future__ import annotations

import json
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger
from torch import nn

import gnnpt
from gnnpt.datasets import load_corpus
from gnnpt.nn import resolve_encoder, save_encoder
from gnnpt.pretraining.config import PretrainConfig
from gnnpt.pretraining.data import PackedDataModule
from gnnpt.pretraining.module import PretrainModule
from gnnpt.pretraining.objectives import AttributeMasking, Combined, GraphContrastive
from gnnpt.store.cache import cached_featurize, input_hash


def build_encoder(cfg: PretrainConfig) -> nn.Module:
    """A fresh encoder from ``cfg.encoder``, or the ``cfg.init`` one to continue (domain adaptation)."""
    kwargs = dict(cfg.encoder)
    spec = cfg.init or f"none:{kwargs.pop('gnn_type', 'gin')}"
    kwargs.pop("gnn_type", None)
    return resolve_encoder(spec, gnn_type=cfg.init_gnn_type, **kwargs)


def build_objective(cfg: PretrainConfig, encoder: nn.Module) -> nn.Module:
    """One objective, or a weighted ``Combined`` of several, from ``cfg.objectives``."""
    makers = {"masking": AttributeMasking, "contrastive": GraphContrastive}
    built, weights = {}, {}
    for name, options in cfg.objectives.items():
        options = dict(options)
        weights[name] = float(options.pop("weight", 1.0))
        if name not in makers:
            raise ValueError(f"unknown objective {name!r}; choose from {sorted(makers)}")
        built[name] = makers[name](encoder, **options)
    if not built:
        raise ValueError("a recipe needs at least one objective")
    return Combined(built, weights)


def _hardware(trainer: pl.Trainer) -> str:
    if torch.cuda.is_available() and trainer.root_device.type == "cuda":
        return f"{trainer.world_size} x {torch.cuda.get_device_name(trainer.root_device)}"
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


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
    data = PackedDataModule(store, cfg.batch_size, cfg.seed)
    steps_per_epoch = len(data.ids) // cfg.batch_size
    total = cfg.max_steps or steps_per_epoch * cfg.epochs
    module = PretrainModule(objective, cfg.lr, cfg.weight_decay, cfg.warmup_steps, total, cfg.seed, cfg.schedule)
    on_gpu = torch.cuda.is_available() and cfg.accelerator in ("auto", "gpu", "cuda")
    precision = cfg.precision if cfg.precision != "auto" else ("bf16-mixed" if on_gpu else "32-true")
    checkpoints = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=0,
                                  every_n_train_steps=cfg.checkpoint_every_n_steps)  # fmt: skip
    trainer = pl.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        precision=precision,
        max_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        gradient_clip_val=cfg.grad_clip,
        callbacks=[checkpoints, *(callbacks or [])],
        logger=CSVLogger(run_dir, name="logs"),  # logs/version_N/metrics.csv, a new N for each (resumed) fit
        use_distributed_sampler=False,  # PackedDataModule shards by rank itself
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        log_every_n_steps=cfg.log_every_n_steps,
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    trainer.fit(module, datamodule=data, ckpt_path=str(last) if cfg.resume and last.exists() else None)
    trainer.save_checkpoint(last)  # the end state, so a longer run of the same recipe can continue from it

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
        "hyper_parameters": {k: getattr(cfg, k) for k in (
            "batch_size", "lr", "weight_decay", "warmup_steps", "grad_clip", "seed", "precision", "max_atoms")},
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "hardware": _hardware(trainer),
        "wall_time_s": round(time.perf_counter() - start, 2),
        "final_metrics": final,
        "recipe": cfg.to_dict(),
    }  # fmt: skip
    if trainer.is_global_zero:
        save_encoder(encoder, run_dir / "encoder", card)
    return run_dir / "encoder"
