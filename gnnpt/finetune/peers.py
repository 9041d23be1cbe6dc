"""Peer methods run on our splits for the benchmark tables: Chemprop v2 trained from scratch with its defaults.

Chemprop is what a chemist would pick instead of gnnpt, so it runs exactly as its users run it — the ``chemprop
train`` command line, default settings, on the CPU — on the same split (``--splits-column``) and seeds, and its test
predictions are scored by the same metric code as every other row. It is an optional dependency
(``pip install chemprop``), only the benchmark uses it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gnnpt.datasets.splits import Split

CHEMPROP_MAIN = "import sys; from chemprop.cli.main import main; sys.exit(main())"  # the `chemprop` command


def chemprop_test_predictions(
    smiles: Sequence[str], targets: np.ndarray, split: Split, task_type: str, seed: int = 0,
    workdir: str | Path | None = None, valid: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Train Chemprop v2 on ``split.train`` (validation: ``split.valid``) and return its predictions for
    ``split.test`` [test rows, tasks] (probabilities or values; NaN rows for molecules left out by ``valid``)."""
    if task_type not in ("classification", "regression"):
        raise ValueError(f"the Chemprop peer runs classification or regression, not {task_type!r}")
    targets = np.asarray(targets, np.float64).reshape(len(smiles), -1)
    keep = np.ones(len(smiles), bool) if valid is None else np.asarray(valid, bool)
    part = np.full(len(smiles), "", dtype=object)
    for name, label in (("train", "train"), ("valid", "val"), ("test", "test")):
        part[np.asarray(getattr(split, name))] = label
    rows = np.flatnonzero(keep & (part != ""))
    columns = [f"t{j}" for j in range(targets.shape[1])]
    frame = pd.DataFrame(targets[rows], columns=columns)
    frame.insert(0, "smiles", [smiles[i] for i in rows])
    frame["split"] = part[rows]
    with tempfile.TemporaryDirectory(dir=workdir, prefix="chemprop-") as tmp:
        data = Path(tmp) / "data.csv"
        frame.to_csv(data, index=False)
        command = [sys.executable, "-c", CHEMPROP_MAIN, "train", "--data-path", str(data), "--smiles-columns",
                   "smiles", "--target-columns", *columns, "--splits-column", "split", "-t", task_type,
                   "--accelerator", "cpu", "--pytorch-seed", str(seed), "-o", str(Path(tmp) / "out")]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"chemprop train failed ({done.returncode}): {done.stderr[-2000:]}")
        predicted = pd.read_csv(Path(tmp) / "out" / "model_0" / "test_predictions.csv")
    test_rows_in_order = [smiles[r] for r in rows if part[r] == "test"]
    if predicted["smiles"].astype(str).tolist() != test_rows_in_order:
        raise RuntimeError("chemprop's test_predictions.csv does not list the test molecules in input order")
    test = np.asarray(split.test)
    out = np.full((len(test), targets.shape[1]), np.nan)
    position = {row: k for k, row in enumerate(test)}
    test_rows = [position[r] for r in rows if part[r] == "test"]
    out[test_rows] = predicted[columns].to_numpy(np.float64)
    return out
