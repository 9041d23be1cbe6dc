"""Versions as labels arrive: an update trains ``name@v2`` from v1's labels plus the new ones and scores v1 on the new
molecules before it saw them; a cancelled update leaves v1 the latest; what cannot be updated is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnnpt.adaptation.jobs import Job, JobStore
from gnnpt.adaptation.runner import run_job
from gnnpt.adaptation.spec import AdaptationSpec
from gnnpt.adaptation.submit import submit_job
from gnnpt.adaptation.versions import TRAINING_LABELS
from gnnpt.datasets import load
from gnnpt.finetune.blend import Scorer
from gnnpt.models.scoring import load_model, score_molecules
from gnnpt.models.store import model_path


@pytest.fixture(scope="module")
def labels(moleculenet_dir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first labels (60 molecules) and the next ones (30 new molecules and 5 of the first, relabelled)."""
    ds = load("bbbp")
    frame = pd.DataFrame({"smiles": ds.smiles[: 90 * 13 : 13], "p_np": ds.targets[: 90 * 13 : 13, 0]})
    first, later = frame.iloc[:60], frame.iloc[60:].copy()
    again = frame.iloc[:5].assign(p_np=1 - frame["p_np"].iloc[:5])
    return first.reset_index(drop=True), pd.concat([later, again], ignore_index=True)


def job(tmp_path, store: JobStore, frame: pd.DataFrame, **settings) -> Job:
    path = tmp_path / f"labels{len(store.list())}.csv"
    frame.to_csv(path, index=False)
    spec = AdaptationSpec(**{"name": "mine", "targets": ["p_np"], "candidates": ["trees", "forest"],
                             "adapt_minutes": 0, "folds": 2, **settings})  # fmt: skip
    return submit_job(store, "alice", spec, path)


@pytest.fixture()
def first(tmp_path, monkeypatch, labels) -> JobStore:
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "models"))
    store = JobStore(tmp_path / "jobs")
    done = job(tmp_path, store, labels[0])
    run_job(store, store.claim(worker_pid=1))
    assert store.get(done.id).status == "succeeded", store.get(done.id).error
    return store


def test_an_update_trains_v2_from_old_and_new_labels_and_checks_v1_on_the_new_rows(tmp_path, labels, first) -> None:
    before = load_model("mine@v1")
    update = job(tmp_path, first, labels[1], update="mine")
    run_job(first, first.claim(worker_pid=1))
    done = first.get(update.id)
    assert done.status == "succeeded", done.error
    assert done.metrics["model"] == "mine@v2" and model_path("mine@v2") == model_path("mine")
    trained = pd.read_csv(first.folder(update.id) / TRAINING_LABELS)
    assert len(trained) == 90 and done.metrics["labels"] == 90  # the 5 relabelled molecules once, with new labels
    versions = done.metrics["versions"]
    check = versions["prospective"]
    assert versions["previous"] == "mine@v1" and check["rows"] == 30 and check["model"] == "mine@v1"
    new = labels[1].iloc[:30]
    scores = score_molecules(before, new["smiles"].tolist()).mean
    assert check["score"] == pytest.approx(Scorer("classification", new[["p_np"]].to_numpy())(scores), abs=1e-4)
    assert versions["cv"] == done.metrics["cross_validation"]["methods"]["recipe"]["mean"]
    assert versions["change"] == pytest.approx(versions["cv"] - versions["previous_cv"], abs=2e-4)
    np.testing.assert_allclose(score_molecules(load_model("mine@v1"), new["smiles"].tolist()).mean, scores)


def test_a_cancelled_update_registers_nothing_and_v1_stays_the_latest(tmp_path, labels, first, monkeypatch) -> None:
    update = job(tmp_path, first, labels[1], update="mine@v1")
    real = JobStore.update

    def cancel_when_building(self, job_id, **values):  # the owner cancels once the build has begun
        real(self, job_id, **values)
        if values.get("stage") == "build":
            self.cancel(job_id)

    monkeypatch.setattr(JobStore, "update", cancel_when_building)
    run_job(first, first.claim(worker_pid=1))
    done = first.get(update.id)
    assert (done.status, done.error, done.stage) == ("cancelled", "cancelled by its owner", "build")
    with pytest.raises(FileNotFoundError, match="mine has no version v2"):
        model_path("mine@v2")
    assert model_path("mine") == model_path("mine@v1")


def test_what_cannot_be_updated_is_refused_at_submission(tmp_path, labels, first) -> None:
    with pytest.raises(ValueError, match="an update trains the next version of 'mine': name it 'mine'"):
        AdaptationSpec(name="other", targets=["p_np"], update="mine")
    renamed = labels[1].rename(columns={"p_np": "logbb"})
    with pytest.raises(ValueError, match=r"predicts \['p_np'\], not \['logbb'\]"):
        job(tmp_path, first, renamed, targets=["logbb"], update="mine")
    with pytest.raises(ValueError, match="not made by an adaptation job"):
        job(tmp_path, first, labels[1], name="tox21-fast", update="tox21-fast")
