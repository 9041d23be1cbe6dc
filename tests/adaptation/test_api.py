"""Adaptation jobs over REST: a small job end to end (submit, poll with progress, the report, predict with the new
model, an update to @v2), cancel, a restart in the middle of a job, invalid uploads, and two users who do not see each
other's jobs."""

from __future__ import annotations

import gzip
import io
import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from gnnpt.adaptation.jobs import JobStore
from gnnpt.api import Settings, create_app
from gnnpt.api.settings import hash_key
from gnnpt.datasets import load

FORM = {"name": "my_bbbp", "targets": "p_np", "candidates": "trees,forest", "adapt_minutes": "0.02", "folds": "2"}


@pytest.fixture(scope="module")
def files(moleculenet_dir) -> dict[str, bytes]:
    ds = load("bbbp")
    rows = slice(None, 80 * 13, 13)  # every 13th molecule: both classes in every part of the scaffold split
    labeled = pd.DataFrame({"smiles": ds.smiles[rows], "p_np": ds.targets[rows, 0]}).to_csv(index=False)
    unlabeled = pd.DataFrame({"smiles": ds.smiles[100:160]}).to_csv(index=False)
    later = slice(80 * 13 + 7, 110 * 13 + 7, 13)  # 30 molecules the first job did not see
    more = pd.DataFrame({"smiles": ds.smiles[later], "p_np": ds.targets[later, 0]}).to_csv(index=False)
    return {"labeled": labeled.encode(), "unlabeled": unlabeled.encode(), "more": more.encode()}


@pytest.fixture()
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "models"))  # the worker processes inherit it
    keys = tmp_path / "keys.txt"
    keys.write_text(f"alice: {hash_key('alice-key')}\nbob: {hash_key('bob-key')}\n")
    return Settings(jobs_dir=str(tmp_path / "jobs"), adaptation_workers=1, api_keys_file=str(keys))


ALICE, BOB = {"X-API-Key": "alice-key"}, {"X-API-Key": "bob-key"}


def submit(client: TestClient, files: dict[str, bytes], unlabeled: bool = True, **form: str):
    uploads = {"labeled": ("labels.csv", io.BytesIO(files["labeled"]), "text/csv")}
    if unlabeled:
        uploads["unlabeled"] = ("domain.csv", io.BytesIO(files["unlabeled"]), "text/csv")
    return client.post("/v1/adaptations", data={**FORM, **form}, files=uploads, headers=ALICE)


def wait(client: TestClient, job_id: str, states: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/v1/adaptations/{job_id}", headers=ALICE).json()
        if job["status"] in states:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not {states} after {timeout} s: {job}")


def test_small_job_end_to_end_then_served_by_name(settings, files) -> None:
    with TestClient(create_app(settings)) as client:
        response = submit(client, files)
        assert response.status_code == 202, response.text
        job = response.json()
        report = job["report"]
        assert job["status"] == "queued" and report["rows"] == 80 and report["unlabeled_rows"] == 60
        assert report["usable"] == 80 - report["problems_total"] and report["usable"] > 70
        done = wait(client, job["id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded", done["error"]
        metrics = done["metrics"]
        assert metrics["model"] == "my_bbbp@v1" and metrics["adaptation"]["steps"] > 0
        assert set(metrics["cross_validation"]["methods"]) == {"recipe", "without_adaptation", "forest"}
        assert metrics["domain"]["molecules"] == 60 and metrics["cross_validation"]["comparison"]["verdict"]
        assert (done["stage"], done["stage_fraction"], done["progress"], done["eta_s"]) == ("register", 1.0, 1.0, None)
        assert any("succeeded" in line for line in done["logs_tail"])
        page = client.get(done["result_page"], headers=ALICE)
        assert page.status_code == 200 and "Did adaptation pay?" in page.text and "ECFP4 + random forest" in page.text
        scored = client.post("/v1/models/my_bbbp/predict", json={"smiles": ["CCO", "bad("]}, headers=ALICE).json()
        assert scored["tasks"] == ["p_np"] and scored["results"][0]["error"] is None
        assert 0 <= scored["results"][0]["scores"]["p_np"] <= 1 and scored["results"][1]["error"]
        assert [j["id"] for j in client.get("/v1/adaptations", headers=ALICE).json()] == [job["id"]]
        assert client.get("/v1/adaptations", headers=BOB).json() == []
        assert client.get(f"/v1/adaptations/{job['id']}", headers=BOB).status_code == 404
        assert client.delete(f"/v1/adaptations/{job['id']}", headers=BOB).status_code == 404
        assert client.get("/v1/adaptations").status_code == 401
        # more labels arrive: the REST field `update` trains my_bbbp@v2 and checks v1 on the new molecules first
        more = {"labeled": files["more"], "unlabeled": files["unlabeled"]}
        response = submit(client, more, unlabeled=False, update="my_bbbp", adapt_minutes="0")
        assert response.status_code == 202, response.text
        done = wait(client, response.json()["id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded", done["error"]
        versions = done["metrics"]["versions"]
        assert done["metrics"]["model"] == "my_bbbp@v2" and versions["previous"] == "my_bbbp@v1"
        assert versions["prospective"]["rows"] == 30 and done["metrics"]["labels"] == report["usable"] + 30
        assert set(pd.read_csv(io.BytesIO(files["more"]))["p_np"]) == {1.0}  # new rows of one class: trained with v1's
        assert versions["prospective"]["note"] == "the new rows hold one class of every task: no roc_auc"
        page = client.get(done["result_page"], headers=ALICE).text
        assert "before it saw them" in page


def test_cancel_a_running_job(settings, files) -> None:
    with TestClient(create_app(settings)) as client:
        job = submit(client, files, unlabeled=False, adapt_minutes="10").json()  # long enough to be cancelled in it
        wait(client, job["id"], ("running",))
        assert client.delete(f"/v1/adaptations/{job['id']}", headers=ALICE).status_code == 200
        done = wait(client, job["id"], ("cancelled", "failed", "succeeded"), timeout=120)
        assert done["status"] == "cancelled" and done["error"] == "cancelled by its owner"


@pytest.mark.slow  # 57-72 s of the default run; `-m slow` runs it
def test_restart_in_the_middle_of_a_job_resumes_it(settings, files) -> None:
    with TestClient(create_app(settings)) as client:
        job = submit(client, files, adapt_minutes="0.3").json()  # long enough to be cut off in the middle
        running = wait(client, job["id"], ("running",))
        deadline = time.monotonic() + 240
        while running["progress"] <= 0:  # a stage has reported progress: cut off in the middle, not before it starts
            assert time.monotonic() < deadline and running["status"] == "running", running
            time.sleep(0.2)
            running = client.get(f"/v1/adaptations/{job['id']}", headers=ALICE).json()
    with TestClient(create_app(settings)) as client:  # the service comes back; its worker re-queues the job
        assert client.get(f"/v1/adaptations/{job['id']}", headers=ALICE).json()["status"] in ("running", "queued",
                                                                                               "succeeded")  # fmt: skip
        done = wait(client, job["id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded", done["error"]
        assert done["attempts"] == 2 and done["metrics"]["model"] == "my_bbbp@v1"


def test_invalid_uploads_are_refused_with_the_reason(settings, files) -> None:
    settings.adaptation_workers, settings.max_upload_bytes = 0, 20_000
    with TestClient(create_app(settings)) as client:
        response = submit(client, files, targets="toxic")
        assert response.status_code == 422 and "['toxic'] are not in" in response.json()["detail"]
        few = {**files, "labeled": b"smiles,p_np\nCCO,1\nCCN,0\n"}
        response = submit(client, few, unlabeled=False)
        assert response.status_code == 422 and "at least 20 are needed" in response.json()["detail"]
        binary = {**files, "labeled": b"\x00\x01PK" * 100}  # issue 32, item 6: the 422 named the server's path
        response = submit(client, binary, unlabeled=False)
        detail = response.json()["detail"]
        assert response.status_code == 422 and "labels.csv is a binary file" in detail
        assert settings.jobs_dir not in detail
        response = submit(client, files, encoder="/etc/passwd")
        assert response.status_code == 422 and "encoder" in response.json()["detail"]
        response = submit(client, files, name="../evil")
        assert response.status_code == 422
        # issue 16, item 7: what would fail only in the worker is refused at submission, with the reason
        response = submit(client, files, task_type="bogus")
        assert response.status_code == 422 and "unknown task type 'bogus'" in response.json()["detail"]
        response = submit(client, files, encoder="hu2020:nonexistent")
        detail = response.json()["detail"]
        assert response.status_code == 422 and "not available here" in detail and "/" not in detail.split("'")[2]
        response = submit(client, files, name="tox21-gnn")
        assert response.status_code == 422 and "taken by a shipped model" in response.json()["detail"]
        same = {**files, "labeled": ("smiles,p_np\n" + "CCO,1\nCCO,0\n" * 25).encode()}
        response = submit(client, same, unlabeled=False)
        assert response.status_code == 422 and "share one scaffold" in response.json()["detail"]
        noise = {**files, "labeled": files["labeled"] + "".join(f"C\u00e9{k}x,1\n" for k in range(30)).encode()}
        job = submit(client, noise, unlabeled=False, **{"name": "noisy"})
        assert job.status_code == 202 and job.json()["report"]["rows"] == 110
        refused = [p for p in job.json()["report"]["problems"] if p["row"] >= 80]
        assert len(refused) == 30 and all("printable ASCII" in p["problem"] for p in refused)
        client.delete(f"/v1/adaptations/{job.json()['id']}", headers=ALICE)
        bomb = gzip.compress(b"smiles,p_np\n" + b"CCO,1\n" * 1_000_000)  # 6 MB in a few KB (issue 32, item 2)
        assert len(bomb) < settings.max_upload_bytes
        uploads = {"labeled": ("labels.csv.gz", io.BytesIO(bomb), "application/gzip")}
        response = client.post("/v1/adaptations", data=FORM, files=uploads, headers=ALICE)
        assert response.status_code == 413, response.text
        assert "labels.csv.gz unpacks to more than 20,000 bytes" in response.json()["detail"]
        big = {**files, "unlabeled": files["unlabeled"] * 10}
        response = submit(client, big)
        assert response.status_code == 413 and "limit of 20000 bytes" in response.json()["detail"]
        assert [j["name"] for j in client.get("/v1/adaptations", headers=ALICE).json()] == ["noisy"]  # only it


def test_a_locked_job_store_answers_503_and_never_freezes_the_server(tmp_path, monkeypatch) -> None:
    """Issue 16, item 5: while another connection holds SQLite's write lock, DELETE waits off the event loop (the
    service keeps answering) and, past the busy timeout, gets 503 with Retry-After instead of a 500."""
    import sqlite3
    import threading

    import gnnpt.api.app

    monkeypatch.setattr(gnnpt.api.app, "BUSY_TIMEOUT_S", 1.0)
    settings = Settings(jobs_dir=str(tmp_path / "jobs"), adaptation_workers=0)
    with TestClient(create_app(settings)) as client:
        JobStore(tmp_path / "jobs").submit("abc", "anonymous", {"name": "x"}, {})
        lock = sqlite3.connect(tmp_path / "jobs" / "jobs.sqlite", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        answers: dict[str, object] = {}
        waiting = threading.Thread(target=lambda: answers.update(delete=client.delete("/v1/adaptations/abc")))
        waiting.start()
        assert client.get("/healthz").status_code == 200  # answered while the DELETE waits for the lock
        waiting.join(timeout=60)
        lock.rollback()
        lock.close()
        response = answers["delete"]
        assert response.status_code == 503 and response.headers["retry-after"] == "2"
        assert "busy" in response.json()["detail"]
        assert client.delete("/v1/adaptations/abc").json()["status"] == "cancelled"  # the lock is gone
