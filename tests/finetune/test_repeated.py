"""The repeated-split evaluation: cells on shared splits, resumable runs, metrics per endpoint, ranks and tables."""

from __future__ import annotations

import math
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from gnnpt.finetune.repeated import (
    CELLS,
    HU,
    RepeatedConfig,
    done_cells,
    endpoint_score,
    load_endpoint,
    run_repeated,
)
from gnnpt.finetune.repeated_table import auto_against_peers, markdown, mean_ranks, summarize


@pytest.fixture(scope="module")
def tdc(tdc_dir, moleculenet_dir):
    return tdc_dir


def test_endpoint_score_reads_the_endpoints_metric() -> None:
    y = np.array([[0], [1], [1], [0], [1], [0]], float)
    p = np.array([[0.1], [0.8], [0.3], [0.4], [0.9], [0.2]])
    assert endpoint_score("roc_auc", y, p) == pytest.approx(100 * roc_auc_score(y[:, 0], p[:, 0]))
    assert endpoint_score("pr_auc", y, p) == pytest.approx(100 * average_precision_score(y[:, 0], p[:, 0]))
    assert endpoint_score("roc_auc", y, p) != pytest.approx(endpoint_score("pr_auc", y, p))
    assert endpoint_score("rmse", np.array([[1.0], [2.0]]), np.array([[1.0], [4.0]])) == pytest.approx(math.sqrt(2))
    assert math.isnan(endpoint_score("roc_auc", np.ones((3, 1)), np.full((3, 1), 0.5)))  # one class: undefined


def test_config_refuses_unknown_methods_and_datasets() -> None:
    with pytest.raises(ValueError, match="unknown methods"):
        RepeatedConfig(methods=["forest", "xgboost"])
    with pytest.raises(KeyError, match="unknown dataset"):
        RepeatedConfig(datasets=["bbbp", "nope"])


def test_cells_run_method_by_method_and_hu_only_for_moleculenet() -> None:
    cells = RepeatedConfig(datasets=["bbbp", "hia_hou"], methods=["forest", "auto"], splits=2).cells()
    assert cells[:5] == [("bbbp", "0", "forest"), ("bbbp", "1", "forest"), ("bbbp", HU, "forest"),
                         ("hia_hou", "0", "forest"), ("hia_hou", "1", "forest")]  # fmt: skip
    assert len(cells) == 10 and ("hia_hou", HU, "forest") not in cells


def test_endpoint_is_deduplicated_and_its_splits_share_no_row(tdc) -> None:
    ep = load_endpoint("bbb_martins")
    assert len(ep.smiles) < 2039  # 2,039 raw rows, 1,975 unique SMILES
    assert ep.metric == "roc_auc" and ep.task_type == "classification"
    tests = []
    for split in ("0", "1", "2", "3", "4"):
        parts = ep.parts(split)
        assert not set(parts["train"]) & set(parts["test"]) and not set(parts["valid"]) & set(parts["test"])
        tests.append(frozenset(parts["test"].tolist()))
    assert len(set(tests)) == 5  # each seed a different test part
    assert "merged" in ep.notes or "duplicate" in ep.notes


def test_a_run_resumes_and_writes_every_table(tdc, tmp_path) -> None:
    lines: list[str] = []
    cells = run_repeated(RepeatedConfig(datasets=["bioavailability_ma"], methods=["forest"], splits=2), tmp_path,
                         log=lines.append)  # fmt: skip
    assert len(cells) == 2 and set(cells.split) == {"0", "1"}
    assert cells.test.between(50, 100).all()  # ROC-AUC in %, better than chance on oral bioavailability
    assert (cells.n_test > 40).all() and cells.commit.notna().all()
    assert any("min left" in line for line in lines)
    assert "max_features" in cells.chosen.iloc[0]  # what the grid chose is on the row
    again: list[str] = []  # one more method: only its cell runs
    rerun = run_repeated(RepeatedConfig(datasets=["bioavailability_ma"], methods=["forest", "lightgbm"], splits=2),
                         tmp_path, log=again.append)  # fmt: skip
    assert again[0].startswith("2 cells done, 2 to run") and len(rerun) == 4
    assert done_cells(tmp_path / CELLS) == {("bioavailability_ma", s, m) for s in "01" for m in ("forest", "lightgbm")}
    text = markdown(rerun)
    assert "bioavailability_ma (ROC-AUC %)" in text and "mean rank" in text


def _summary(rows: list[tuple[str, str, float]], metric: str = "roc_auc") -> pd.DataFrame:
    cells = pd.DataFrame([{"dataset": d, "split": str(s), "method": m, "metric": metric, "test": v + s,
                           "wall_s": 1.0} for d, m, v in rows for s in (0, 1)])  # fmt: skip
    return summarize(cells)


def test_mean_ranks_over_endpoints_and_direction_of_rmse() -> None:
    summary = _summary([("a", "forest", 70), ("a", "auto", 80), ("b", "forest", 60), ("b", "auto", 60)])
    ranks = mean_ranks(summary)
    assert ranks["auto"] == pytest.approx(1.25) and ranks["forest"] == pytest.approx(1.75)
    rmse = mean_ranks(_summary([("c", "forest", 0.5), ("c", "auto", 0.9)], metric="rmse"))
    assert rmse["forest"] == 1 and rmse["auto"] == 2  # lower RMSE ranks first


def test_auto_is_compared_with_the_best_single_peer_per_endpoint() -> None:
    summary = _summary([("a", "forest", 70), ("a", "minimol", 75), ("a", "auto", 76),
                        ("b", "forest", 65), ("b", "lightgbm", 66), ("b", "auto", 64)])  # fmt: skip
    text = auto_against_peers(summary)
    assert "| a | 76.5 | 75.5 | minimol | +1.0 |" in text
    assert "| b | 64.5 | 66.5 | lightgbm | -2.0 |" in text
    assert "**1 of 2**" in text


@pytest.mark.skipif(find_spec("ray") is None, reason="Ray is not installed (pip install 'gnnpt[ray]')")
@pytest.mark.slow
def test_ray_engine_gives_the_local_engines_rows(tdc, tmp_path) -> None:
    cfg = RepeatedConfig(datasets=["hia_hou"], methods=["lightgbm"], splits=2)
    local = run_repeated(cfg, tmp_path / "local", log=None)
    remote = run_repeated(cfg, tmp_path / "ray", engine="ray", log=None)
    merged = local.merge(remote, on=["dataset", "split", "method"], suffixes=("", "_ray"))
    assert len(merged) == 2
    np.testing.assert_allclose(merged.test, merged.test_ray)
