"""The job store and runner without HTTP: upload checks, claim/cancel, recovery after a crash, a resumed job, workers.
The report's numbers, small sets and updates are in ``test_report.py`` and ``test_versions.py``."""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import textwrap
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
    """A cheap job: two auto candidates, no continued pretraining unless asked, a 2-fold report."""
    return AdaptationSpec(**{"name": "mine", "targets": ["p_np"], "candidates": ["trees", "forest"], "adapt_minutes": 0,
                             "folds": 2, **kw})  # fmt: skip


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


def test_a_job_store_of_an_earlier_version_gains_the_progress_columns_and_its_old_jobs_fail_with_the_remedy(
    tmp_path,
) -> None:
    import sqlite3

    from gnnpt.adaptation.jobs import _SCHEMA

    old = _SCHEMA.replace("    stage_fraction REAL,\n    eta_s REAL,\n", "")
    assert "eta_s" not in old
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:
        db.executescript(old)
    store = JobStore(tmp_path)
    store.folder("old").mkdir()
    store.submit("old", "alice", {"name": "x", "targets": ["y"], "epochs": 30, "strategy": "full"}, {})
    run_job(store, store.claim(worker_pid=1))
    job = store.get("old")
    assert (job.stage_fraction, job.eta_s, job.status) == (None, None, "failed")
    assert "unknown adaptation settings ['epochs', 'strategy'] (a job queued by an earlier gnnpt" in job.error


def test_a_resumed_job_skips_its_finished_stages_and_registers_the_next_version(tmp_path, bbbp, monkeypatch) -> None:
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "models"))
    store = JobStore(tmp_path / "jobs")
    unlabeled = write(tmp_path, pd.DataFrame({"smiles": bbbp["smiles"][:40]}), "unlabeled.csv")
    job = submit_job(store, "alice", spec(adapt_minutes=0.02), write(tmp_path, bbbp), unlabeled)
    run_job(store, store.claim(worker_pid=1))
    done = store.get(job.id)
    assert done.status == "succeeded", done.error
    assert done.metrics["model"] == "mine@v1" and done.metrics["adaptation"]["steps"] > 0
    assert "encoder_adapted" in done.metrics["model_choice"]["candidates"]
    assert (done.stage, done.stage_fraction, done.progress, done.eta_s) == ("register", 1.0, 1.0, None)
    # the same job again (as after a crash before registering): nothing is trained again
    store.update(job.id, status="queued")
    run_job(store, store.claim(worker_pid=1))
    log = (store.folder(job.id) / "log.txt").read_text()
    assert "the model is already built (resumed job)" in log and store.get(job.id).metrics["model"] == "mine@v2"
    assert "the encoder is already continued (resumed job)" in log
    assert log.count("continuing gin-desc-v2") == 1 and log.count("building with auto's recipe") == 1


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


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie waits for PID 1, which may not reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _slot_held(root, slot: int = 0) -> bool:
    import fcntl

    path = root / f"worker-{slot}.lock"
    if not path.exists():
        return False
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_workers_end_with_the_server_that_started_them(tmp_path, how) -> None:
    """Issue 32, item 3: a SIGKILLed (or SIGTERMed) server's adaptation workers were reparented to PID 1 and kept
    running jobs; after a restart two ran where one was configured."""
    server = tmp_path / "server.py"
    server.write_text(textwrap.dedent(f"""
        import time
        from gnnpt.adaptation.worker import WorkerPool
        if __name__ == "__main__":
            pool = WorkerPool(1, {str(tmp_path)!r}, check_s=0.2).start()
            print(pool.procs[0].pid, flush=True)
            time.sleep(600)
    """))  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(server)], stdout=subprocess.PIPE, text=True)
    worker = int(proc.stdout.readline())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _slot_held(tmp_path):  # the worker is up and working
            time.sleep(0.1)
        assert _slot_held(tmp_path)
        proc.send_signal(getattr(signal, how))
        proc.wait(30)
        ended = time.monotonic() + 30
        while time.monotonic() < ended and _running(worker):
            time.sleep(0.1)
        assert not _running(worker), f"the worker outlived its server's {how}"
    finally:
        proc.kill()
        if _running(worker):
            os.kill(worker, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="advisory locks")
def test_a_jobs_folder_has_no_more_workers_than_configured(tmp_path) -> None:
    """A second pool on the same jobs folder (a second server, or a restart beside a worker still ending) waits for
    the slot: the first pool's worker takes every job until it ends, then the second's takes over."""
    from gnnpt.adaptation.worker import WorkerPool

    store = JobStore(tmp_path)

    def claimed_by(job_id: str) -> int:
        store.folder(job_id).mkdir()  # with no uploads in it: the job fails at once
        store.submit(job_id, "anonymous", AdaptationSpec(name="x", targets=["y"]).to_dict(), {})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and store.get(job_id).status in ("queued", "running"):
            time.sleep(0.1)
        return int(re.search(r"worker pid (\d+)", (store.folder(job_id) / "log.txt").read_text()).group(1))

    first = WorkerPool(1, tmp_path, check_s=0.2).start()
    second = WorkerPool(1, tmp_path, check_s=0.2)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _slot_held(tmp_path):
            time.sleep(0.1)
        assert _slot_held(tmp_path)
        second.start()
        while time.monotonic() < deadline and not second.procs[0].is_alive():
            time.sleep(0.1)
        assert [claimed_by(f"j{k}") for k in range(2)] == [first.procs[0].pid] * 2
        first.stop()
        assert claimed_by("j2") == second.procs[0].pid
    finally:
        first.stop()
        second.stop()
