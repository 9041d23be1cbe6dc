"""The job store and runner without HTTP: upload checks, claim/cancel, recovery after a crash, a resumed stage."""

from __future__ import annotations

import json
import multiprocessing as mp
import time

import pandas as pd
import pytest

from gnnpt.adaptation.jobs import MAX_ATTEMPTS, JobStore
from gnnpt.adaptation.runner import run_job
from gnnpt.adaptation.spec import MIN_LABELED, AdaptationSpec, check_labeled
from gnnpt.adaptation.submit import submit_job
from gnnpt.datasets import load


@pytest.fixture(scope="module")
def bbbp(moleculenet_dir):
    ds = load("bbbp")
    rows = slice(None, 80 * 13, 13)  # every 13th molecule: both classes in every part of the scaffold split
    return pd.DataFrame({"smiles": ds.smiles[rows], "p_np": ds.targets[rows, 0]})


def write(tmp_path, frame: pd.DataFrame, name: str = "labeled.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def spec(**kw) -> AdaptationSpec:
    return AdaptationSpec(**{"name": "mine", "targets": ["p_np"], "epochs": 2, "batch_size": 16, **kw})


def test_upload_report_lists_invalid_smiles_and_non_numeric_labels(tmp_path, bbbp) -> None:
    frame = bbbp.astype({"p_np": object}).copy()
    frame.loc[3, "smiles"] = "not a smiles("
    frame.loc[5, "p_np"] = "active"
    frame.loc[7, "p_np"] = None
    clean, report = check_labeled(write(tmp_path, frame), spec())
    problems = {p["row"]: p["problem"] for p in report.problems}
    assert problems[3].startswith("invalid SMILES") and "not numbers: {'p_np': 'active'}" in problems[5]
    assert problems[7] == "no label"
    assert report.rows == 80 and report.usable == len(clean) == 80 - len(problems)
    assert clean["p_np"].notna().all()
    with pytest.raises(ValueError, match="target columns \\['toxic'\\] are not in"):
        check_labeled(write(tmp_path, frame), spec(targets=["toxic"]))
    with pytest.raises(ValueError, match=f"at least {MIN_LABELED}"):
        check_labeled(write(tmp_path, frame.head(10)), spec())


def test_owners_do_not_see_each_others_jobs_and_cancel_a_queued_job(tmp_path, bbbp) -> None:
    store = JobStore(tmp_path / "jobs")
    a = submit_job(store, "alice", spec(), write(tmp_path, bbbp))
    assert store.get(a.id, "bob") is None and store.list("bob") == [] and store.cancel(a.id, "bob") is None
    assert [j.id for j in store.list("alice")] == [a.id] and a.status == "queued"
    assert store.cancel(a.id, "alice").status == "cancelled"
    assert store.claim(worker_pid=1) is None  # nothing queued any more


def test_a_job_left_running_by_a_dead_worker_is_requeued_then_failed_after_max_attempts(tmp_path, bbbp) -> None:
    store = JobStore(tmp_path / "jobs")
    job = submit_job(store, "alice", spec(), write(tmp_path, bbbp))
    dead = mp.get_context("spawn").Process(target=int)
    dead.start()
    dead.join()  # a pid that no longer runs
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert store.claim(dead.pid).attempts == attempt
        assert JobStore(tmp_path / "jobs").recover() == [job.id]  # a restarted service finds it
        expected = "queued" if attempt < MAX_ATTEMPTS else "failed"
        assert store.get(job.id).status == expected
    assert "interrupted 2 times" in store.get(job.id).error


def test_from_scratch_comparison_is_like_for_like_and_judged_over_seeds(tmp_path, bbbp, monkeypatch) -> None:
    """A GCN encoder is compared with a GCN (same width, depth and strategy) trained from scratch, not a GIN."""
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "models"))
    store = JobStore(tmp_path / "jobs")
    job = submit_job(store, "alice", spec(encoder="hu2020:gcn_contextpred", strategy="freeze:1", seeds=2, epochs=1),
                     write(tmp_path, bbbp))  # fmt: skip
    run_job(store, store.claim(worker_pid=1))
    done = store.get(job.id)
    assert done.status == "succeeded", done.error
    scratch = json.loads((store.folder(job.id) / "from_scratch" / "card.json").read_text())
    assert scratch["hyperparameters"]["encoder"] == "none:gcn" and scratch["hyperparameters"]["strategy"] == "freeze:1"
    assert (scratch["encoder_config"]["gnn_type"], scratch["encoder_config"]["emb_dim"]) == ("gcn", 300)
    assert isinstance(done.metrics["negative_transfer"], bool)  # two seeds: judged by the spread


def test_resumed_job_skips_its_finished_pretraining_and_registers(tmp_path, bbbp, monkeypatch) -> None:
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "models"))
    store = JobStore(tmp_path / "jobs")
    unlabeled = write(tmp_path, pd.DataFrame({"smiles": bbbp["smiles"][:40]}), "unlabeled.csv")
    job = submit_job(store, "alice", spec(pretrain_epochs=1), write(tmp_path, bbbp), unlabeled)
    run_job(store, store.claim(worker_pid=1))
    done = store.get(job.id)
    assert done.status == "succeeded", done.error
    assert done.metrics["model"] == "mine@v1" and done.metrics["pretrained_on_domain"]
    assert {"adapted", "from_scratch", "negative_transfer"} <= set(done.metrics)
    assert len(done.metrics["adapted"]["curve"]) == 2
    # the same job again (as after a crash during fine-tuning): pretraining is not redone
    store.update(job.id, status="queued")
    run_job(store, store.claim(worker_pid=1))
    log = (store.folder(job.id) / "log.txt").read_text()
    assert "pretraining already done (resumed job)" in log and store.get(job.id).metrics["model"] == "mine@v2"


def test_a_killed_worker_is_reaped_and_replaced_and_its_job_resumes(tmp_path) -> None:
    """Issue 16, item 4: after SIGKILL the worker was a zombie and its job stayed 'running' until a restart."""
    import os
    import signal

    from gnnpt.adaptation.worker import WorkerPool

    store = JobStore(tmp_path)
    pool = WorkerPool(1, tmp_path, check_s=0.2).start()
    try:
        first = pool.procs[0]
        deadline = time.time() + 120
        while time.time() < deadline and not first.is_alive():
            time.sleep(0.1)
        store.submit("j1", "anonymous", {"name": "x"}, {})
        with store._db() as db:  # as if the worker had claimed it and then been killed mid-job
            db.execute("UPDATE jobs SET status = 'running', worker_pid = ?, attempts = 1 WHERE id = 'j1'",
                       (first.pid,))  # fmt: skip
        os.kill(first.pid, signal.SIGKILL)
        while time.time() < deadline and (pool.procs[0] is first or store.get("j1").worker_pid == first.pid):
            time.sleep(0.2)
        assert pool.restarts == 1 and pool.procs[0].pid != first.pid
        assert first.exitcode == -signal.SIGKILL  # reaped: no zombie left behind
        job = store.get("j1")
        assert job.worker_pid != first.pid and job.attempts >= 1  # re-queued by the new worker's recover()
    finally:
        pool.stop()
