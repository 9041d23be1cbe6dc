"""Learning curves: stratified nested label draws, a resumable run (library and CLI), the tables' comparison line
and where a job's label count sits on the average curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gnnpt.cli.main import app
from gnnpt.finetune.curves import CurvesConfig, run_curves, stratified_order, subsample
from gnnpt.finetune.curves_table import average_curve, comparison, markdown, place_on_curve, write
from gnnpt.finetune.grid import done_cells


def _parts(seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(600) < 0.15).astype(np.float32)  # a minority class of about 15%
    rows = rng.permutation(600)
    return {"train": rows[:480], "valid": rows[480:540], "test": rows[540:]}, y


def test_stratified_order_puts_both_classes_first_and_keeps_the_shares() -> None:
    y = np.array([1.0] * 10 + [0.0] * 90)
    rows = np.arange(100) + 1000
    order = stratified_order(rows, y, np.random.default_rng(3))
    assert sorted(order) == list(rows)
    labels = y[order - 1000]
    assert set(labels[:2]) == {0.0, 1.0}  # every prefix of two or more holds both classes
    assert 4 <= labels[:50].sum() <= 6  # half the rows, about half the minority class
    again = stratified_order(rows, y, np.random.default_rng(3))
    other = stratified_order(rows, y, np.random.default_rng(4))
    assert (order == again).all() and not (order == other).all()


def test_budgets_are_nested_stratified_and_keep_the_parts_apart() -> None:
    parts, y = _parts()
    previous = None
    for labels in ("32", "64", "128", "256"):
        drawn = subsample(parts, y, labels, [0, 1])
        n_valid = min(60, max(2, round(0.2 * int(labels))))
        assert len(drawn["valid"]) == n_valid and len(drawn["train"]) == int(labels) - n_valid
        assert set(drawn["train"]) <= set(parts["train"]) and set(drawn["valid"]) <= set(parts["valid"])
        assert (drawn["test"] == parts["test"]).all()  # the test part is never subsampled
        assert set(y[drawn["train"]]) == {0.0, 1.0} and set(y[drawn["valid"]]) == {0.0, 1.0}
        if previous is not None:  # the 64 labels hold the 32
            assert set(previous["train"]) <= set(drawn["train"]) and set(previous["valid"]) <= set(drawn["valid"])
        previous = drawn
    assert subsample(parts, y, "all", [0, 1]) is parts and subsample(parts, y, "600", [0, 1]) is parts
    assert not (subsample(parts, y, "64", [1, 1])["train"] == subsample(parts, y, "64", [0, 1])["train"]).all()


def test_config_refuses_what_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="unknown methods"):
        CurvesConfig(methods=["forest", "gin"])
    with pytest.raises(ValueError, match="one-task classification"):
        CurvesConfig(datasets=["esol"])
    with pytest.raises(ValueError, match="label budgets"):
        CurvesConfig(sizes=["32", "lots"])
    cells = CurvesConfig(datasets=["hia_hou"], methods=["forest", "auto"], sizes=["32", "all"], repeats=2).cells()
    assert cells[:2] == [("hia_hou", "0", "32", "forest"), ("hia_hou", "0", "all", "forest")] and len(cells) == 8


def test_a_run_resumes_and_writes_its_tables(tdc_dir, tmp_path) -> None:
    cfg = CurvesConfig(datasets=["bioavailability_ma"], methods=["forest"], sizes=["32", "64"], repeats=1)
    cells = run_curves(cfg, tmp_path, log=None)
    assert list(cells.labels) == ["32", "64"] and set(cells.method) == {"forest"}
    assert list(cells.n_train + cells.n_valid) == [32, 64] and (cells.n_test > 40).all()
    assert cells.test.between(0, 100).all() and cells.commit.notna().all()
    args = ["--datasets", "bioavailability_ma", "--methods", "forest", "--sizes", "32,64,128", "--repeats", "1"]
    result = CliRunner().invoke(app, ["benchmark", "learning-curves", *args, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 cells done, 1 to run" in result.output  # only the new budget runs
    assert done_cells(tmp_path / "cells.csv", ("dataset", "split", "labels", "method")) == {
        ("bioavailability_ma", "0", n, "forest") for n in ("32", "64", "128")
    }
    assert (tmp_path / "chart.png").stat().st_size > 0
    assert "64 labels: not measured" in (tmp_path / "tables.md").read_text()
    placed = place_on_curve(tmp_path / "curve.csv", 80)
    assert [p.method for p in placed] == ["forest"] and placed[0].low <= placed[0].expected <= placed[0].high


def _cells(means: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Cells of two endpoints x two repeats: ``means[method][labels]``, endpoint b 10 points below a, repeats ± 1."""
    rows = [{"dataset": d, "split": str(r), "labels": n, "method": m, "metric": "roc_auc",
             "test": v - 10 * (d == "b") + (1 if r else -1), "wall_s": 1.0, "n_train": 0, "n_valid": 0,
             "commit": "abc", "cpu": "cpu"}
            for m, by_size in means.items() for n, v in by_size.items() for d in "ab" for r in (0, 1)]  # fmt: skip
    return pd.DataFrame(rows).assign(n_train=lambda f: [int(n) if n != "all" else 900 for n in f.labels])


def test_the_table_says_whether_pretrained_features_lead_the_forest_by_five_points() -> None:
    cells = _cells({"forest": {"64": 70, "128": 75}, "minimol": {"64": 73, "128": 81},
                    "encoder": {"64": 72, "128": 76}, "auto": {"64": 74, "128": 80}})  # fmt: skip
    curve = average_curve(cells)
    row = curve[(curve.method == "minimol") & (curve.labels == "64")].iloc[0]
    assert row["mean"] == pytest.approx(68.0) and row["std"] == pytest.approx(1.0) and row.sets == 2
    text = comparison(curve)
    assert ("64 labels: best pretrained-feature row minimol 68.0 against ECFP4 + forest 65.0: +3.0 points, "
            "**short of the 5-point lead by 2.0 points** (auto against the forest: auto +4.0).") in text  # fmt: skip
    assert (
        "128 labels: best pretrained-feature row minimol 76.0 against ECFP4 + forest 70.0: +6.0 points, leads by 5"
        in text
    )
    assert text in markdown(cells)


def test_average_curve_needs_every_endpoint_and_places_all_at_the_median_labels() -> None:
    cells = _cells({"forest": {"32": 60, "all": 80}})
    curve = average_curve(cells)
    assert list(curve.x) == [32, 900]
    partial = average_curve(cells[~((cells.dataset == "b") & (cells.labels == "32"))])
    assert list(partial.labels) == ["all"]  # 32 labels lack endpoint b: no average


def test_place_on_curve_interpolates_on_log_labels(tmp_path) -> None:
    curve = pd.DataFrame({"method": ["forest", "forest"], "labels": ["32", "128"], "x": [32.0, 128.0],
                          "mean": [60.0, 70.0], "std": [2.0, 4.0], "sets": [10, 10]})  # fmt: skip
    curve.to_csv(tmp_path / "curve.csv", index=False)
    (p,) = place_on_curve(tmp_path / "curve.csv", 64)
    assert (p.low, p.expected, p.high) == pytest.approx((62.0, 65.0, 68.0)) and not p.note
    (low,) = place_on_curve(curve, 10)
    assert low.expected == pytest.approx(60.0) and "fewest labels (32)" in low.note
    with pytest.raises(ValueError, match="at least one label"):
        place_on_curve(curve, 0)


def test_write_puts_the_curve_beside_the_tables(tmp_path) -> None:
    cells = _cells({"forest": {"32": 60, "64": 65}, "encoder": {"32": 62, "64": 70}})
    text = write(cells, tmp_path, charts=False)
    assert text == (tmp_path / "tables.md").read_text() and "## Average over the 2 endpoints" in text
    assert len(pd.read_csv(tmp_path / "curve.csv")) == 4 and not (tmp_path / "chart.png").exists()
