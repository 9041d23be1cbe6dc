"""What an adaptation job reports: auto's recipe with the adapted encoder, cross-validated by scaffold beside the
recipe without it and two peers, a paired verdict, coverage on held-out folds and the library's domain; the page and
the JSON carry the same numbers; a fold with one class and a set of 20 labels still give a report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnnpt.adaptation.evaluation import paired
from gnnpt.adaptation.jobs import Job, JobStore
from gnnpt.adaptation.progress import Cancelled, StageProgress
from gnnpt.adaptation.recipe import ADAPTED, BLEND_MIN
from gnnpt.adaptation.report import number, report_html
from gnnpt.adaptation.runner import plan, run_job
from gnnpt.adaptation.spec import AdaptationSpec
from gnnpt.adaptation.submit import submit_job
from gnnpt.datasets import load
from gnnpt.datasets.splits import scaffold_folds
from gnnpt.models.card import read_card
from gnnpt.models.store import model_path


@pytest.fixture(scope="module")
def bbbp(moleculenet_dir) -> pd.DataFrame:
    ds = load("bbbp")
    rows = slice(None, 80 * 13, 13)  # every 13th molecule: both classes in every fold
    return pd.DataFrame({"smiles": ds.smiles[rows], "p_np": ds.targets[rows, 0]})


def run(tmp_path, monkeypatch, labels: pd.DataFrame, unlabeled: list[str] | None = None, **settings) -> Job:
    """Submit and run a job (no continued pretraining and a 3-fold report unless ``settings`` say otherwise)."""
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "models"))
    store = JobStore(tmp_path / "jobs")
    labels.to_csv(tmp_path / "labels.csv", index=False)
    library = None
    if unlabeled is not None:
        library = tmp_path / "library.csv"
        pd.DataFrame({"smiles": unlabeled}).to_csv(library, index=False)
    spec = AdaptationSpec(**{"name": "mine", "targets": ["p_np"], "adapt_minutes": 0, "folds": 3, **settings})
    job = submit_job(store, "alice", spec, tmp_path / "labels.csv", library)
    run_job(store, store.claim(worker_pid=1))
    return store.get(job.id)


def numbers(value) -> list[float]:
    """Every number in a JSON value."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


@pytest.mark.slow  # 57-72 s of the default run; `-m slow` runs it
def test_the_report_says_what_adaptation_bought_with_the_same_numbers_in_json_and_html(tmp_path, monkeypatch,
                                                                                       bbbp) -> None:  # fmt: skip
    library = load("bbbp").smiles[1000:1060]
    job = run(tmp_path, monkeypatch, bbbp, library, candidates=["trees", "forest"], adapt_minutes=0.02)
    assert job.status == "succeeded", job.error
    m = job.metrics
    cv = m["cross_validation"]
    assert set(cv["methods"]) == {"recipe", "without_adaptation", "forest"}
    for method in cv["methods"].values():
        scores = [s for s in method["folds"] if s is not None]
        assert len(method["folds"]) == 3 and method["mean"] == pytest.approx(np.mean(scores), abs=1e-4)
        assert method["std"] == pytest.approx(np.std(scores, ddof=1), abs=1e-4)
    comparison = cv["comparison"]
    gains = [a - b for a, b in zip(cv["methods"]["recipe"]["folds"], cv["methods"]["without_adaptation"]["folds"],
                                   strict=True)]  # fmt: skip
    assert comparison["gains"] == pytest.approx(gains, abs=2e-4)
    lo, hi = comparison["ci"]
    assert lo <= comparison["mean"] <= hi
    if lo <= 0 <= hi:
        assert comparison["verdict"].startswith(("no evidence", "no difference"))
    assert ADAPTED in m["model_choice"]["candidates"]
    assert m["adaptation"]["molecules"] == len(set(library) | set(bbbp["smiles"]))  # the library and the labeled
    calibration = cv["calibration"]
    assert 0 <= calibration["ece_after"] <= 1 and {"inactive", "active"} <= set(calibration["0.90"])
    assert m["domain"]["molecules"] == 60 and m["domain"]["share"] == pytest.approx(m["domain"]["in_domain"] / 60,
                                                                                   abs=1e-4)  # fmt: skip
    card = read_card(model_path("mine"))
    assert card["adaptation"]["job"] == job.id and card["adaptation"]["cv"] == cv["methods"]["recipe"]["mean"]
    page = report_html(job, [])
    shown = [m["domain"], cv["methods"], cv["comparison"], cv["calibration"], m["model_choice"]]
    for value in numbers(shown):
        assert number(value) in page, value
    assert comparison["verdict"] in page.replace("&#x27;", "'")


@pytest.mark.slow
def test_the_default_recipe_reports_both_peers(tmp_path, monkeypatch, bbbp) -> None:
    """The job's defaults (auto's candidates, the shipped encoder frozen, two minutes of continued pretraining)."""
    job = run(tmp_path, monkeypatch, bbbp, load("bbbp").smiles[1000:1300], folds=5, adapt_minutes=2.0)
    assert job.status == "succeeded", job.error
    methods = job.metrics["cross_validation"]["methods"]
    assert set(methods) == {"recipe", "without_adaptation", "forest", "minimol"}
    assert set(job.metrics["model_choice"]["candidates"]) == {"trees", "forest", "minimol", "minimol_trees",
                                                              "encoder", ADAPTED}  # fmt: skip
    assert all(len(m["folds"]) == 5 for m in methods.values())


def test_a_fold_with_one_class_is_reported_as_such_and_left_out_of_the_mean(tmp_path, monkeypatch, bbbp) -> None:
    frame = bbbp.copy()
    first = scaffold_folds(frame["smiles"].tolist(), np.arange(len(frame)), 3, seed=0)[0]
    frame.loc[first, "p_np"] = 1.0  # the report's first fold holds actives only
    job = run(tmp_path, monkeypatch, frame, candidates=["trees", "forest"])
    assert job.status == "succeeded", job.error
    cv = job.metrics["cross_validation"]
    assert cv["methods"]["recipe"]["folds"][0] is None and None not in cv["methods"]["recipe"]["folds"][1:]
    assert any(n.startswith("fold 1 (") and "one class of every task" in n for n in job.metrics["notes"])
    assert cv["calibration"]["0.80"]["inactive"] is not None  # the other folds still say how the sets cover


def test_twenty_labels_finish_without_a_blend_and_with_fewer_folds_and_say_so(tmp_path, monkeypatch, bbbp) -> None:
    tiny = bbbp.iloc[::4].reset_index(drop=True)  # 20 molecules, both classes
    assert len(tiny) == 20 < BLEND_MIN
    job = run(tmp_path, monkeypatch, tiny, load("bbbp").smiles[1000:1020], adapt_minutes=1, folds=5)
    assert job.status == "succeeded", job.error
    m = job.metrics
    assert m["model_choice"]["weights"] == {"forest": 1.0} and "adaptation" not in m  # no minutes spent on it
    assert m["cross_validation"]["folds"] == 2
    notes = " ".join(m["notes"])
    assert "fewer than 50: no blend is chosen" in notes and "over 2 scaffold folds, not 5" in notes
    assert m["cross_validation"]["comparison"]["verdict"] == "no evidence: the adapted encoder was not a candidate"
    assert "no blend is chosen" in report_html(job, [])


def test_a_regression_job_reports_rmse_and_interval_coverage(tmp_path, monkeypatch, moleculenet_dir) -> None:
    ds = load("esol")
    frame = pd.DataFrame({"smiles": ds.smiles[:180:3], "logS": ds.targets[:180:3, 0]})
    job = run(tmp_path, monkeypatch, frame, targets=["logS"], candidates=["trees", "forest"], folds=2)
    assert job.status == "succeeded", job.error
    cv = job.metrics["cross_validation"]
    assert (cv["metric"], cv["higher_is_better"], job.metrics["domain"]) == ("rmse", False, None)
    assert all(s > 0 for s in cv["methods"]["recipe"]["folds"])  # RMSE as it reads, not signed
    assert set(cv["calibration"]["0.90"]) == {"coverage", "width"} and "ece_after" not in cv["calibration"]
    assert "lower is better" in report_html(job, [])


def test_the_paired_verdict_says_no_evidence_when_the_folds_disagree() -> None:
    assert paired([0.8, 0.7, 0.9], [0.75, 0.72, 0.85], 1)["verdict"].startswith("no evidence either way")
    paid = paired([0.80, 0.81, 0.82, 0.83], [0.70, 0.70, 0.71, 0.73], 1)
    assert paid["verdict"].startswith("adaptation paid") and paid["ci"][0] > 0
    assert paired([0.5, 0.6], [0.6, 0.7], -1)["verdict"].startswith("adaptation paid")  # RMSE: lower is better
    assert paired([0.8, None], [0.7, 0.6], 1)["verdict"] == "no evidence: fewer than 2 folds compare"


def test_progress_names_the_stage_its_fraction_and_the_time_left_and_stops_when_cancelled(tmp_path) -> None:
    store = JobStore(tmp_path)
    store.submit("j", "alice", {"name": "x"}, {})
    progress = StageProgress(store, "j", {"adapt": 60, "build": 30, "evaluate": 90})
    progress.begin("build")
    progress.update(0.5, force=True)
    job = store.get("j")
    assert (job.stage, job.stage_fraction, job.progress) == ("build", 0.5, pytest.approx(75 / 180, abs=1e-4))
    assert job.eta_s is not None and job.eta_s >= 0
    store.cancel("j")
    with pytest.raises(Cancelled):
        progress.update(0.6, force=True)
    with pytest.raises(KeyError, match="not in the job's plan"):
        progress.begin("register")


def test_the_plan_holds_the_stages_a_job_runs_in_order() -> None:
    update = AdaptationSpec(name="x", targets=["y"], update="x")
    stages = plan(update, 500, adapts=True)
    assert list(stages) == ["prospective", "adapt", "build", "evaluate", "register"]
    assert stages["adapt"] > update.adapt_minutes * 60 and stages["evaluate"] > stages["build"]
    assert list(plan(AdaptationSpec(name="x", targets=["y"]), 20, adapts=False)) == ["build", "evaluate", "register"]
