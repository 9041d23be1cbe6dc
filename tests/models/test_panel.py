"""The shipped model panel (issue 17): each an ``auto`` ensemble with its card, domain, calibration and conformal
data, small enough to ship, scoring through the one path with prediction sets or intervals."""

from __future__ import annotations

import numpy as np
import pytest

import gnnpt
from gnnpt.datasets.endpoints import endpoints
from gnnpt.models.card import read_card
from gnnpt.models.packaged import packaged_dir, packaged_models

PANEL = {"tox21": 12, "tox21-fingerprints": 12, "clintox": 2, "sider": 27, "esol": 1, "lipophilicity": 1}


def test_the_panel_ships_under_30_mb() -> None:
    assert set(PANEL) <= set(packaged_models())
    size = sum(p.stat().st_size for name in PANEL for p in (packaged_dir() / name).iterdir())
    assert size < 30_000_000


@pytest.mark.parametrize("name", sorted(PANEL))
def test_each_panel_model_records_what_it_chose_and_how_sure_it_is(name: str) -> None:
    card = read_card(packaged_dir() / name)
    auto = card["auto"]
    assert card["kind"] == "ensemble" and len(card["task_names"]) == PANEL[name]
    assert card["split"]["kind"] == "scaffold" and set(auto["chosen"]) <= set(auto["candidates"])
    for row in auto["candidates"].values():  # every candidate's validation and test score is on the card
        assert np.isfinite(row["valid"]) and np.isfinite(row["test"])
    assert set(auto["conformal"]) == {"test_coverage_0.80", "test_coverage_0.90"}
    if card["task_type"] == "classification":
        assert auto["calibration"]["ece_after_test"] < auto["calibration"]["ece_before_test"]
    for level in (0.8, 0.9):  # the sets / intervals keep their promise on the test part, to 3 points
        assert auto["conformal"][f"test_coverage_{level:.2f}"] >= level - 0.03
    assert ("minimol" in auto["chosen"]) == any("MiniMol" in note for note in card["notes"])
    assert [e["task"] for e in endpoints(card)] == card["task_names"]  # what each score means
    assert (packaged_dir() / name / "domain.safetensors").is_file()


@pytest.mark.parametrize("name", ["clintox", "esol"])
def test_a_panel_model_scores_with_sets_or_intervals_and_row_errors(name: str) -> None:
    predictor = gnnpt.load(name, confidence=0.8)
    frame = predictor.predict(["CCO", "not a molecule", "CC(=O)Oc1ccccc1C(=O)O"])
    task = predictor.card["task_names"][0]
    assert frame[task].notna().tolist() == [True, False, True] and "unparsable" in frame["error"].iloc[1]
    if predictor.card["task_type"] == "classification":
        assert set(frame[f"{task}_set"].iloc[[0, 2]]) <= {"active", "inactive", "both", "none"}
    else:
        assert (frame[f"{task}_lo"] < frame[task]).iloc[[0, 2]].all() and (frame[task] < frame[f"{task}_hi"]).iloc[
            [0, 2]
        ].all()
    assert frame["max_similarity"].iloc[[0, 2]].between(0, 1).all()
