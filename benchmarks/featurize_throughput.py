"""Featurization throughput on a MOSES sample, side by side in one run.

Compares, in 1 and in N worker processes: RDKit ``MolFromSmiles`` alone (the floor),
``gnnpt.featurize`` (hu2020 and ogb schemes), ``torch_geometric.utils.from_smiles`` and
``ogb.utils.smiles2graph``. The peers' multi-process rows use a ``multiprocessing.Pool`` over
chunks whose workers build the graphs but return only a count (a bias in the peers' favour:
gnnpt's workers send their arrays back and the parent packs them into one store).

    python benchmarks/featurize_throughput.py --n 100000 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import time
from collections.abc import Callable

from rdkit import Chem, RDLogger

import gnnpt
from gnnpt.datasets.corpora import load_corpus

RDLogger.DisableLog("rdApp.*")


def _parse_only(chunk: list[str]) -> int:
    ok = 0
    for s in chunk:
        ok += Chem.MolFromSmiles(s) is not None
    return ok


def _pyg(chunk: list[str]) -> int:
    from torch_geometric.utils import from_smiles

    return len([from_smiles(s) for s in chunk])


def _ogb(chunk: list[str]) -> int:
    from ogb.utils import smiles2graph

    return len([smiles2graph(s) for s in chunk])


def _pooled(fn: Callable[[list[str]], int], smiles: list[str], workers: int, chunk: int = 2048) -> None:
    """The peers in a process pool. Workers return only a count: shipping ~100k PyG ``Data`` objects back
    exhausts shared-memory handles, so the peers' multi-process rows omit the transfer gnnpt pays."""
    chunks = [smiles[i : i + chunk] for i in range(0, len(smiles), chunk)]
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(fn, chunks)


def _rate(run: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    run()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="molecules sampled from MOSES train")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    smiles = load_corpus("moses")["smiles"].sample(args.n, random_state=0).tolist()
    n, w = len(smiles), args.workers
    rows: list[tuple[str, float, float]] = []
    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("RDKit MolFromSmiles only (floor)", lambda: _parse_only(smiles), lambda: _pooled(_parse_only, smiles, w)),
        ("gnnpt.featurize hu2020", lambda: gnnpt.featurize(smiles), lambda: gnnpt.featurize(smiles, workers=w)),
        (
            "gnnpt.featurize hu2020 + canonical SMILES",
            lambda: gnnpt.featurize(smiles, canonical=True),
            lambda: gnnpt.featurize(smiles, canonical=True, workers=w),
        ),
        (
            "gnnpt.featurize ogb",
            lambda: gnnpt.featurize(smiles, scheme="ogb"),
            lambda: gnnpt.featurize(smiles, scheme="ogb", workers=w),
        ),
        ("torch_geometric.utils.from_smiles", lambda: _pyg(smiles), lambda: _pooled(_pyg, smiles, w)),
        ("ogb.utils.smiles2graph", lambda: _ogb(smiles), lambda: _pooled(_ogb, smiles, w)),
    ]
    for name, serial, parallel in cases:
        rows.append((name, _rate(serial, n), _rate(parallel, n)))
        print(f"  measured {name}", flush=True)

    floor1, floorw = rows[0][1], rows[0][2]
    pyg1, pygw = rows[4][1], rows[4][2]
    print(f"\n{n:,} MOSES molecules, {platform.processor() or platform.machine()}, {mp.cpu_count()} cores")
    print(
        f"| pipeline | 1 process (mol/s) | {w} processes (mol/s) | {w}p/1p | vs parse-only (1p / {w}p) "
        f"| vs PyG from_smiles (1p / {w}p) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, r1, rw in rows:
        print(
            f"| {name} | {r1:,.0f} | {rw:,.0f} | {rw / r1:.2f} | {r1 / floor1:.2f} / {rw / floorw:.2f} "
            f"| {r1 / pyg1:.2f} / {rw / pygw:.2f} |"
        )


if __name__ == "__main__":
    main()
