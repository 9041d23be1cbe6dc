"""Adaptation jobs persisted in SQLite: submit, claim, progress, cancel, finish, and recovery after a crash.

One file (``jobs.sqlite`` in the jobs directory) holds every job; each job also has a folder with its uploads, logs
and stage outputs. Every call opens its own connection, so the service, worker processes and the CLI share the file
safely (SQLite locks it; WAL mode lets readers run beside the writer). A job belongs to an ``owner`` (the digest of
the API key that submitted it): reads by another owner find nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gnnpt.config import settings

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL = ("succeeded", "failed", "cancelled")
MAX_ATTEMPTS = 2  # a job interrupted this many times (service crashes) is failed, not retried again

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    spec TEXT NOT NULL,
    report TEXT,
    stage TEXT,
    stage_fraction REAL,
    eta_s REAL,
    progress REAL NOT NULL DEFAULT 0,
    metrics TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    worker_pid INTEGER,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, created);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created);
"""
_ADDED = {"stage_fraction": "REAL", "eta_s": "REAL"}  # columns a job store made by an earlier version lacks


def jobs_dir(root: str | Path | None = None) -> Path:
    """``root``, else ``$GNNPT_JOBS_DIR``, else ``<cache_dir>/jobs`` (:mod:`gnnpt.config`)."""
    return Path(root) if root else settings().jobs()


@dataclass
class Job:
    """A row of the jobs table, JSON fields decoded."""

    id: str
    owner: str
    name: str
    status: str
    spec: dict[str, Any]
    report: dict[str, Any] | None
    stage: str | None
    stage_fraction: float | None
    eta_s: float | None
    progress: float
    metrics: dict[str, Any] | None
    error: str | None
    attempts: int
    cancel_requested: bool
    worker_pid: int | None
    created: float
    started: float | None
    finished: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        data = dict(row)
        for key in ("spec", "report", "metrics"):
            data[key] = json.loads(data[key]) if data[key] else ({} if key == "spec" else None)
        data["cancel_requested"] = bool(data["cancel_requested"])
        return cls(**data)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStore:
    """The jobs table and the job folders under ``root``. ``busy_timeout``: seconds a call waits for another
    connection's write lock before ``sqlite3.OperationalError`` ("database is locked")."""

    def __init__(self, root: str | Path | None = None, busy_timeout: float = 30.0):
        self.root, self.busy_timeout = jobs_dir(root), busy_timeout
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "jobs.sqlite"
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            have = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
            for column, kind in _ADDED.items():
                if column not in have:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    def folder(self, job_id: str) -> Path:
        """The job's folder (uploads, log, stage outputs)."""
        return self.root / job_id

    def new_id(self) -> str:
        return uuid.uuid4().hex[:16]

    def submit(self, job_id: str, owner: str, spec: dict[str, Any], report: dict[str, Any]) -> Job:
        """Queue a job whose uploads are already in :meth:`folder`."""
        with self._db() as db:
            db.execute("INSERT INTO jobs (id, owner, name, status, spec, report, created) "
                       "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                       (job_id, owner, spec["name"], json.dumps(spec), json.dumps(report), time.time()))  # fmt: skip
        return self.get(job_id)

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, or None (also when it belongs to another ``owner``; None = any owner)."""
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return Job.from_row(row)

    def list(self, owner: str | None = None, limit: int = 100) -> list[Job]:
        """Newest first; only ``owner``'s jobs when given."""
        query, args = "SELECT * FROM jobs", ()
        if owner is not None:
            query, args = query + " WHERE owner = ?", (owner,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
        return [Job.from_row(r) for r in rows]

    def claim(self, worker_pid: int, job_id: str | None = None) -> Job | None:
        """Atomically take the oldest queued job (or job ``job_id`` if queued) for the process ``worker_pid``."""
        query, args = "SELECT id FROM jobs WHERE status = 'queued'", ()
        if job_id is not None:
            query, args = query + " AND id = ?", (job_id,)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(query + " ORDER BY created LIMIT 1", args).fetchone()
            if row is None:
                db.execute("COMMIT")
                return None
            db.execute("UPDATE jobs SET status = 'running', worker_pid = ?, attempts = attempts + 1, "
                       "started = COALESCE(started, ?) WHERE id = ?", (worker_pid, time.time(), row["id"]))  # fmt: skip
            db.execute("COMMIT")
        return self.get(row["id"])

    def update(self, job_id: str, **values: Any) -> None:
        """Set columns (``stage``, ``progress``, ``metrics``, ...) of a job."""
        if not values:
            return
        for key in ("metrics", "report"):
            if key in values and values[key] is not None:
                values[key] = json.dumps(values[key])
        columns = ", ".join(f"{k} = ?" for k in values)
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {columns} WHERE id = ?", (*values.values(), job_id))

    def finish(self, job_id: str, status: str, error: str | None = None, metrics: dict[str, Any] | None = None) -> None:
        if status not in FINAL:
            raise ValueError(f"a finished job is one of {FINAL}, not {status!r}")
        values: dict[str, Any] = {"status": status, "error": error, "finished": time.time(), "worker_pid": None,
                                  "eta_s": None}  # fmt: skip
        if status == "succeeded":
            values.update(progress=1.0, stage_fraction=1.0)
        if metrics is not None:
            values["metrics"] = metrics
        self.update(job_id, **values)

    def cancel(self, job_id: str, owner: str | None = None) -> Job | None:
        """Cancel a queued job now; ask a running one to stop (its worker stops at its next progress report)."""
        job = self.get(job_id, owner)
        if job is None or job.status in FINAL:
            return job
        with self._db() as db:
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            db.execute("UPDATE jobs SET status = 'cancelled', finished = ? WHERE id = ? AND status = 'queued'",
                       (time.time(), job_id))  # fmt: skip
        return self.get(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        with self._db() as db:
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row["cancel_requested"])

    def recover(self) -> list[str]:
        """Jobs left 'running' by a worker that no longer exists (a crash or restart): back to the queue, to resume
        from their last finished stage and checkpoint, or failed with the reason after ``MAX_ATTEMPTS``."""
        changed = []
        for job in [j for j in self.list(limit=10_000) if j.status == "running" and not _alive(j.worker_pid)]:
            if job.cancel_requested:
                self.finish(job.id, "cancelled", "cancelled; its worker stopped")
            elif job.attempts >= MAX_ATTEMPTS:
                self.finish(job.id, "failed", f"interrupted {job.attempts} times (the service or its worker stopped "
                                              "while it ran); not retried again")  # fmt: skip
            else:
                self.update(job.id, status="queued", worker_pid=None)
            changed.append(job.id)
        return changed
