"""Fine-tuning speed: gnnpt's ``finetune`` (packed store, device-side gather, Lightning) vs the plain PyG loop.

Both train the same model (Hu GIN 5x300, mean pooling, linear head, dropout 0.5, Adam 1e-3, batch 32) on the
same scaffold split for the same epochs, and score the valid and test parts after every epoch, as Hu et al.'s
``finetune.py`` does. The plain loop is what a PyG user writes: a list of ``Data`` and
``torch_geometric.loader.DataLoader(batch_size=32, shuffle=True)``. Prints seconds per epoch for each and the
ratio, and the time the whole Hu et al. table (8 datasets x 10 seeds x 100 epochs) would take at each rate.

The plain loop runs fp32; gnnpt runs at each ``--precisions`` value (``auto``: bf16 mixed precision where the
device computes bf16 natively, as ``gnnpt finetune`` does; a bf16 row on a CPU without it is skipped). ``--ceiling``
fine-tunes each gnnpt row for one more epoch under the profiler and adds the ratio it would reach if only its matrix
products took time (``matmul_share.py``): the bound a CPU's matrix-product speed sets.

    python benchmarks/finetune_speed.py --dataset bbbp --epochs 3 --precisions fp32 auto --ceiling
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch_geometric.loader import DataLoader

from gnnpt.datasets import get_spec, load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.featurization.cache import cached_featurize
from gnnpt.finetune.tasks import masked_bce
from gnnpt.finetune.train import FinetuneConfig, finetune
from gnnpt.models.finetuned import build_graph_model
from gnnpt.nn import HuEncoder, hu2020
from gnnpt.nn.precision import native_bf16, training_precision
from gnnpt.runtime import device_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matmul_share import matmul_seconds, print_rates

HU_DATASETS = ("bbbp", "tox21", "toxcast", "sider", "clintox", "muv", "hiv", "bace")


@contextmanager
def upstream_dropout() -> Iterator[None]:
    """The encoder with ``F.dropout``, as upstream's model has it (gnnpt's encoders draw their masks faster on a
    CPU: :mod:`gnnpt.nn.dropout`); the plain loop is what a user gets without gnnpt."""
    ours = hu2020.dropout
    hu2020.dropout = torch.nn.functional.dropout
    try:
        yield
    finally:
        hu2020.dropout = ours


def plain_loop(store, targets: np.ndarray, split, epochs: int, device: torch.device) -> float:
    """Seconds per epoch (train + scoring valid and test) of the plain PyG loop."""
    with upstream_dropout():
        return _plain_loop(store, targets, split, epochs, device)


def _plain_loop(store, targets: np.ndarray, split, epochs: int, device: torch.device) -> float:
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
    ap.add_argument("--precisions", nargs="+", default=["fp32", "auto"], choices=["fp32", "bf16", "auto"])
    ap.add_argument("--ceiling", action="store_true",
                    help="add the ratio each gnnpt row would reach if only its matrix products took time")  # fmt: skip
    args = ap.parse_args()
    if args.ceiling:
        print_rates()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ds = load(args.dataset)
    store, split = cached_featurize(ds.smiles), scaffold_split(ds.smiles)
    rows = sum(get_spec(name).n_rows for name in HU_DATASETS)
    name = device_name(device)
    print(f"device: {name} (native bf16: {native_bf16(device)}); {args.dataset} ({len(ds):,} rows, "
          f"{len(split.train):,} train), {args.epochs} epochs")  # fmt: skip
    print("| pipeline | precision | s / epoch | graphs / s (train part) | full 8 x 10 x 100 table, one process (h) "
          "| ratio vs plain |" + (" matrix products only |" if args.ceiling else ""))  # fmt: skip
    print("|---|---|---:|---:|---:|---:|" + ("---:|" if args.ceiling else ""))

    def row(label: str, precision: str, sec: float, ratio: float, ceiling: str = "") -> None:
        hours = sec * rows / len(ds) * 10 * 100 / 3600
        print(f"| {label} | {precision} | {sec:.2f} | {len(split.train) / sec:,.0f} | {hours:,.1f} | {ratio:.2f}x |"
              + ceiling, flush=True)  # fmt: skip

    plain = plain_loop(store, ds.targets, split, args.epochs, device)
    row("plain PyG loop", "fp32", plain, 1.0, " |" if args.ceiling else "")
    for precision in args.precisions:
        lightning = {"fp32": "32-true", "bf16": "bf16-mixed", "auto": "auto"}[precision]
        resolved = training_precision(lightning, "auto")
        if resolved == "bf16-mixed" and not native_bf16(device):
            print(f"| gnnpt finetune | {precision} | skipped: this CPU has no native bf16 | | | |")
            continue
        cfg = FinetuneConfig(epochs=args.epochs, precision=lightning)
        start = time.perf_counter()
        finetune(store, ds.targets, split, "classification", ds.task_names, cfg)
        ours = (time.perf_counter() - start) / args.epochs
        ceiling = ""
        if args.ceiling:
            one_epoch = partial(finetune, store, ds.targets, split, "classification", ds.task_names,
                                FinetuneConfig(epochs=1, precision=lightning))  # fmt: skip
            matmul = matmul_seconds(one_epoch)
            ceiling = f" {plain / matmul:.2f}x |"
        row("gnnpt finetune", f"{precision} ({resolved})", ours, plain / ours, ceiling)


if __name__ == "__main__":
    main()
