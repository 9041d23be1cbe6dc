"""Chemprop v2 (``chemprop train``, defaults, CPU) on one dataset and seed of Hu et al.'s scaffold split, through the
same function the benchmark's Chemprop row uses, scored by the same metric code:

    python benchmarks/chemprop_peer_seed.py bace 0

Prints the test ROC-AUC (%), the test part's expected calibration error and the wall time. Needs ``chemprop``
(``pip install "gnnpt[peers]"``) and ``GNNPT_DATA_DIR`` (or internet) for the dataset.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_split
from gnnpt.featurization.cache import cached_featurize
from gnnpt.finetune.metrics import mean_roc_auc
from gnnpt.finetune.peers import chemprop_test_predictions
from gnnpt.models.calibration import expected_calibration_error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("seed", type=int)
    args = parser.parse_args()
    ds = load(args.dataset)
    smiles, targets = list(ds.smiles), ds.targets
    split = scaffold_split(smiles)
    start = time.perf_counter()
    pred = chemprop_test_predictions(smiles, targets, split, "classification", args.seed,
                                     valid=cached_featurize(smiles).valid)  # fmt: skip
    seconds = time.perf_counter() - start
    test = np.asarray(split.test)
    auc, ece = 100 * mean_roc_auc(targets[test], pred), expected_calibration_error(pred, targets[test])
    print(f"{args.dataset} seed {args.seed}: test ROC-AUC {auc:.2f}, ECE {ece:.3f}, {seconds:.0f} s")


if __name__ == "__main__":
    main()
