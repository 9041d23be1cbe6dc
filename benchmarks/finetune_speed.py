"""Fine-tuning speed: gnnpt's ``finetune`` (packed store, device-side gather, Lightning) vs the plain PyG loop.

Both train the same model (Hu GIN 5x300, mean pooling, linear head, dropout 0.5, Adam 1e-3, batch 32) on the
same scaffold split for the same epochs, and score the valid and test parts after every epoch, as Hu et al.'s
``finetune.py`` does. The plain loop is what a PyG user writes: a list of ``Data`` and
``torch_geometric.loader.DataLoader(batch_size=32, shuffle=True)``. Prints seconds per epoch for each and the
ratio, and the time the whole Hu et al. table (8 datasets x 10 seeds x 100 epochs) would take at each rate.

    python benchmarks/finetune_speed.py --dataset bbbp --epochs 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch_geometric.loader import DataLoader

from gnnpt.datasets import get_spec, load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.finetune.model import build_graph_model
from gnnpt.finetune.tasks import masked_bce
from gnnpt.finetune.train import FinetuneConfig, finetune
from gnnpt.nn import HuEncoder
from gnnpt.store.cache import cached_featurize

HU_DATASETS = ("bbbp", "tox21", "toxcast", "sider", "clintox", "muv", "hiv", "bace")


def plain_loop(store, targets: np.ndarray, split, epochs: int, device: torch.device) -> float:
    """Seconds per epoch (train + scoring valid and test) of the plain PyG loop."""
    torch.manual_seed(0)
    graphs = {}
    for part in ("train", "valid", "test"):
        rows = np.asarray(getattr(split, part))
        rows = rows[store.valid[rows]]
        data = store.to_pyg(rows).to_data_list()
        for d, r in zip(data, rows, strict=True):
            d.y = torch.tensor(targets[r : r + 1])
        graphs[part] = data
    model = build_graph_model(HuEncoder(drop_ratio=0.5), targets.shape[1]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for batch in DataLoader(graphs["train"], batch_size=32, shuffle=True):
            batch = batch.to(device)
            loss = masked_bce(model(batch), batch.y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for part in ("valid", "test"):
                outs = [model(b.to(device)).cpu() for b in DataLoader(graphs[part], batch_size=32)]
                torch.cat(outs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="bbbp")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ds = load(args.dataset)
    store, split = cached_featurize(ds.smiles), scaffold_split(ds.smiles)
    plain = plain_loop(store, ds.targets, split, args.epochs, device)
    start = time.perf_counter()
    finetune(store, ds.targets, split, "classification", ds.task_names, FinetuneConfig(epochs=args.epochs))
    ours = (time.perf_counter() - start) / args.epochs
    rows = sum(get_spec(name).n_rows for name in HU_DATASETS)
    table_hours = {name: s * rows / len(ds) * 10 * 100 / 3600 for name, s in (("plain", plain), ("gnnpt", ours))}
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; {args.dataset} ({len(ds):,} rows, {len(split.train):,} train), {args.epochs} epochs")
    print("| pipeline | s / epoch | graphs / s (train part) | full 8 x 10 x 100 table, one process (h) |")
    print("|---|---:|---:|---:|")
    for label, key, sec in (("plain PyG loop", "plain", plain), ("gnnpt finetune", "gnnpt", ours)):
        print(f"| {label} | {sec:.2f} | {len(split.train) / sec:,.0f} | {table_hours[key]:,.1f} |")
    print(f"ratio (plain / gnnpt time): {plain / ours:.2f}x")


if __name__ == "__main__":
    main()
