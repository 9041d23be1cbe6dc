"""Batch gather from the packed store vs PyG collation of ``Data`` objects, side by side.

Measures graphs/s for random batches of 256 and 4096 graphs: ``PackedGraphs.gather`` (vectorized
index ops, on CPU and, when present, on the GPU with the store resident there) against
``torch_geometric.data.Batch.from_data_list`` over a pre-built list of ``Data`` (what a PyG
``DataLoader`` does per batch, without worker processes).

    python benchmarks/gather_throughput.py --n 100000
"""

from __future__ import annotations

import argparse
import time

import torch
from torch_geometric.data import Batch

import gnnpt
from gnnpt.datasets.corpora import load_corpus


def _graphs_per_s(fn, batches: list[torch.Tensor], sync: bool = False) -> float:
    fn(batches[0])  # warm-up
    if sync:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for ids in batches:
        fn(ids)
    if sync:
        torch.cuda.synchronize()
    return sum(len(b) for b in batches) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--graphs", type=int, default=200_000, help="graphs gathered per measurement")
    args = ap.parse_args()

    smiles = load_corpus("moses")["smiles"].sample(args.n, random_state=0).tolist()
    store = gnnpt.featurize(smiles, workers=2)
    data_list = store.to_pyg().to_data_list()
    gen = torch.Generator().manual_seed(0)
    print(f"store: {len(store):,} graphs, {store.num_nodes:,} nodes, {store.num_edges:,} edges")
    print(
        "| batch size | PyG Batch.from_data_list (graphs/s) | gnnpt gather CPU (graphs/s) | ratio CPU "
        "| gnnpt gather GPU (graphs/s) |"
    )
    print("|---:|---:|---:|---:|---:|")
    for bs in (256, 4096):
        batches = [torch.randint(0, len(store), (bs,), generator=gen) for _ in range(max(1, args.graphs // bs))]
        pyg = _graphs_per_s(lambda ids: Batch.from_data_list([data_list[i] for i in ids.tolist()]), batches[:50])
        cpu = _graphs_per_s(store.gather, batches)
        gpu = "n/a (no CUDA device)"
        if torch.cuda.is_available():
            on_gpu = store.to("cuda")
            gpu_batches = [b.cuda() for b in batches]
            gpu = f"{_graphs_per_s(on_gpu.gather, gpu_batches, sync=True):,.0f}"
        print(f"| {bs} | {pyg:,.0f} | {cpu:,.0f} | {cpu / pyg:.1f}x | {gpu} |")


if __name__ == "__main__":
    main()
