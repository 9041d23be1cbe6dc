"""Attribute-masking pretraining throughput: gnnpt's packed pipeline vs the PyG-DataLoader pipeline, side by side.

Same model (Hu GIN 5x300 + linear atom head, Adam 1e-3), same initial weights, same MOSES sample:

- gnnpt: the store (on the training device) gathers each batch by index and ``mask_atoms`` masks it with
  tensor ops;
- PyG: a list of ``Data`` + ``torch_geometric.loader.DataLoader`` with worker processes and a per-molecule
  masking transform (pretrain-gnns' ``MaskAtom``: ``int(n * 0.15 + 1)`` atoms via ``random.sample``).

Prints graphs/s per batch size and the mean loss over the first and last steps of each pipeline. The PyG row is
fp32 (what the plain pipeline gives); gnnpt rows run at each ``--precisions`` value: ``auto`` is bf16 autocast where
the device computes bf16 natively (GPU, AVX512-BF16/AMX CPU; what ``gnnpt pretrain`` uses), else fp32. A bf16 row
on a CPU without native bf16 is skipped (emulated bf16 is slower than fp32) unless ``--force-bf16``. ``--compile``
adds each gnnpt row again with ``torch.compile`` on the encoder. The gnnpt rows of one batch size start from the same
weights and see the same batches and masks, so their loss curves (printed per 10 steps) compare step for step.
``--ceiling STEPS`` profiles STEPS more steps of each gnnpt row and adds the ratio it would reach if only its matrix
products took time (``matmul_share.py``): the bound a CPU's matrix-product speed sets.

    python benchmarks/pretrain_throughput.py --n 20000 --batch-sizes 256 1024 --steps 60 --workers 2 \
        --precisions fp32 auto --compile --ceiling 10
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

import gnnpt
from gnnpt.datasets.corpora import load_corpus
from gnnpt.featurization.schemes import HU_MASK_ATOM
from gnnpt.nn import HuEncoder
from gnnpt.nn.precision import native_bf16, resolve_precision
from gnnpt.pretraining import mask_atoms
from gnnpt.runtime import device_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matmul_share import matmul_seconds, print_rates


class MaskAtom:
    """pretrain-gnns ``MaskAtom`` (atoms only), written as a PyG user would: Python per molecule."""

    def __init__(self, rate: float = 0.15):
        self.rate = rate

    def __call__(self, data: Data) -> Data:
        n = data.num_nodes
        idx = random.sample(range(n), int(n * self.rate + 1))
        data = data.clone()
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
        data.mask_label = data.x[mask, 0].clone()
        data.x[mask] = torch.tensor([HU_MASK_ATOM, 0])
        data.node_mask = mask
        return data


class MaskedList(torch.utils.data.Dataset):
    def __init__(self, graphs: list[Data], transform: MaskAtom):
        self.graphs, self.transform = graphs, transform

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i: int) -> Data:
        return self.transform(self.graphs[i])


def _model(device: torch.device) -> tuple[HuEncoder, torch.nn.Linear]:
    torch.manual_seed(0)
    return HuEncoder().to(device), torch.nn.Linear(300, HU_MASK_ATOM).to(device)


def _train(
    batches, encoder, head, steps: int, device, bf16: bool = False, warmup: int = 3, ceiling_steps: int = 0
) -> tuple[float, list[float], float | None]:
    """(graphs/s over ``steps`` timed steps, every step's loss, seconds of matrix products per graph over
    ``ceiling_steps`` further profiled steps, or None without them)."""
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-3)
    it = iter(batches)

    def step() -> tuple[float, int]:
        x, edge_index, edge_attr, node_mask, target, n_graphs = next(it)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            h = encoder(x, edge_index, edge_attr)
            loss = F.cross_entropy(head(h[node_mask]).float(), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item(), n_graphs

    losses = [step()[0] for _ in range(warmup)]  # warm-up steps (and torch.compile's compilation) are not timed
    if device.type == "cuda":
        torch.cuda.synchronize()
    start, graphs = time.perf_counter(), 0
    for _ in range(steps):
        loss, n_graphs = step()
        losses.append(loss)
        graphs += n_graphs
    if device.type == "cuda":
        torch.cuda.synchronize()
    rate = graphs / (time.perf_counter() - start)
    if not ceiling_steps:
        return rate, losses, None
    profiled: list[int] = []
    seconds = matmul_seconds(lambda: profiled.extend(step()[1] for _ in range(ceiling_steps)))
    return rate, losses, seconds / sum(profiled)


def _gnnpt_batches(store, bs: int, device: torch.device, seed: int = 0):
    on_device = store.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    ids = torch.as_tensor(store.valid_ids, device=device)
    while True:
        perm = ids[torch.randperm(len(ids), generator=gen, device=device)]
        for k in range(0, len(perm) - bs + 1, bs):
            m = mask_atoms(on_device.gather(perm[k : k + bs]), 0.15, False, gen)
            node_mask = torch.zeros(m.batch.num_nodes, dtype=torch.bool, device=device)
            node_mask[m.atom_index] = True
            yield m.batch.x, m.batch.edge_index, m.batch.edge_attr, node_mask, m.atom_target, bs


def _pyg_batches(graphs: list[Data], bs: int, workers: int, device: torch.device):
    loader = DataLoader(MaskedList(graphs, MaskAtom()), batch_size=bs, shuffle=True, num_workers=workers,
                        drop_last=True, persistent_workers=workers > 0)  # fmt: skip
    while True:
        for b in loader:
            b = b.to(device, non_blocking=True)
            yield b.x, b.edge_index, b.edge_attr, b.node_mask, b.mask_label, b.num_graphs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--precisions", nargs="+", default=["fp32", "auto"], choices=["fp32", "bf16", "auto"])
    ap.add_argument("--force-bf16", action="store_true", help="time bf16 even where the CPU only emulates it")
    ap.add_argument("--compile", action="store_true",
                    help="also time each gnnpt row with torch.compile(dynamic=True) on the encoder (gnnpt pretrain "
                         "compile=true); compilation is in the untimed warm-up")  # fmt: skip
    ap.add_argument("--ceiling", type=int, default=0, metavar="STEPS",
                    help="profile STEPS more steps of each gnnpt row and add the ratio it would reach if only its "
                         "matrix products took time (benchmarks/matmul_share.py)")  # fmt: skip
    args = ap.parse_args()
    if args.ceiling:
        print_rates()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    smiles = load_corpus("moses")["smiles"].sample(args.n, random_state=0).tolist()
    store = gnnpt.featurize(smiles, workers=2)
    graphs = store.to_pyg(store.valid_ids).to_data_list()
    name = device_name(device)
    native = native_bf16(device)
    print(f"device: {name} (native bf16: {native}); {len(graphs):,} MOSES graphs; Hu GIN 5x300 + attribute masking")
    ceiling_column = " matrix products only |" if args.ceiling else ""
    print(
        "| batch | PyG DataLoader fp32 (graphs/s) | gnnpt precision | gnnpt packed (graphs/s) | ratio "
        "| loss first 5 steps PyG / gnnpt | loss last 5 steps PyG / gnnpt |" + ceiling_column
    )
    print("|---:|---:|---|---:|---:|---|---|" + ("---:|" if args.ceiling else ""))

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    curves: dict[tuple[int, str], list[float]] = {}
    for bs in args.batch_sizes:
        random.seed(0)
        encoder, head = _model(device)
        start_state = copy.deepcopy((encoder.state_dict(), head.state_dict()))
        pyg = _pyg_batches(graphs, bs, args.workers, device)
        pyg_rate, pyg_losses, _ = _train(pyg, encoder, head, args.steps, device)
        for precision, compiled in [(p, c) for c in (False, True)[: 1 + args.compile] for p in args.precisions]:
            resolved = resolve_precision(precision, device)
            if resolved == "bf16" and not native and not args.force_bf16:
                print(f"| {bs} | {pyg_rate:,.0f} | {precision} | skipped: this CPU has no native bf16 | | | |")
                continue
            encoder, head = _model(device)
            encoder.load_state_dict(start_state[0])
            head.load_state_dict(start_state[1])
            if compiled:
                encoder.forward = torch.compile(encoder.forward, dynamic=True)
            batches = _gnnpt_batches(store, bs, device)
            rate, losses, matmul = _train(batches, encoder, head, args.steps, device, bf16=resolved == "bf16",
                                          warmup=5 if compiled else 3, ceiling_steps=args.ceiling)  # fmt: skip
            label = f"{precision} ({resolved}){' + compile' if compiled else ''}"
            if not compiled:
                curves[bs, resolved] = losses
            print(f"| {bs} | {pyg_rate:,.0f} | {label} | {rate:,.0f} | {rate / pyg_rate:.2f}x "
                  f"| {mean(pyg_losses[:5]):.3f} / {mean(losses[:5]):.3f} "
                  f"| {mean(pyg_losses[-5:]):.3f} / {mean(losses[-5:]):.3f} |"
                  + (f" {1 / pyg_rate / matmul:.2f}x |" if matmul else ""), flush=True)  # fmt: skip
    # the gnnpt rows of one batch size see the same batches and masks from the same weights: their curves compare
    # step for step, so a precision's effect on training shows as the gap between them
    for bs in args.batch_sizes:
        if (bs, "fp32") in curves and (bs, "bf16") in curves:
            windows = [(k, min(k + 10, args.steps + 3)) for k in range(0, args.steps + 3, 10)]  # warm-up included
            fp32, bf16 = curves[bs, "fp32"], curves[bs, "bf16"]
            pairs = " ".join(f"{mean(fp32[a:b]):.3f}/{mean(bf16[a:b]):.3f}" for a, b in windows)
            print(f"batch {bs}, gnnpt loss per 10 steps, fp32/bf16: {pairs}")


if __name__ == "__main__":
    main()
