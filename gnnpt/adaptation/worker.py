"""The worker: a process that takes queued adaptation jobs one at a time and runs them.

``gnnpt serve`` starts ``adaptation_workers`` of them beside the web workers (so scoring stays responsive while
models train) as a :class:`WorkerPool`, which replaces a worker that dies; ``gnnpt adapt worker`` runs one on its
own. On start a worker re-queues the jobs a dead worker left running (see :meth:`JobStore.recover`).

A pool's workers end with the server that started them, however it ends (SIGKILL included): the kernel's parent-death
signal where there is one (Linux; SIGKILL, so that no Python code has to run in a busy worker), and a watchdog thread
that notices the parent is gone everywhere. Worker ``i`` of
a pool also holds the lock ``worker-<i>.lock`` in the jobs folder while it runs, so a jobs folder never has more
workers than ``adaptation_workers`` (a second server on the same folder, or a restart while an old worker is still
ending, waits for the slot instead of adding a worker).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO

from gnnpt.adaptation.jobs import JobStore, jobs_dir
from gnnpt.adaptation.runner import run_job

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one server per jobs folder is then the operator's to keep
    fcntl = None  # type: ignore[assignment]

WATCH_S = 1.0  # how often a pool's worker checks that its server is still there

log = logging.getLogger(__name__)


def work(
    root: str | Path | None = None,
    poll_s: float = 1.0,
    max_jobs: int | None = None,
    threads: int = 0,
    parent: int | None = None,
    slot: int | None = None,
) -> int:
    """Run queued jobs until ``max_jobs`` have run (None: forever); returns how many ran. ``threads``: torch threads
    (0 keeps torch's default). ``parent``: end when that process (the server) ends. ``slot``: run only while holding
    the jobs folder's lock of that worker number, waiting for it first."""
    if parent is not None:
        end_with(parent)
    if slot is not None:
        _hold_slot(jobs_dir(root), slot, poll_s)
    if threads:
        import torch

        torch.set_num_threads(threads)
    store = JobStore(root)
    store.recover()
    ran = 0
    while max_jobs is None or ran < max_jobs:
        job = store.claim(os.getpid())
        if job is None:
            time.sleep(poll_s)
            continue
        run_job(store, job)
        ran += 1
    return ran


def end_with(parent: int) -> None:
    """End this process at once when ``parent`` ends: a parent-death SIGKILL (Linux) and a watchdog thread.

    At once means SIGTERM exits without cleanup (Lightning would otherwise answer it by ending ``fit`` early and the
    job would register a model trained for fewer epochs); the job stays 'running' until the next worker's
    :meth:`JobStore.recover` re-queues it, to resume from its last stage and checkpoint."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(128 + signal.SIGTERM))
    if sys.platform.startswith("linux"):  # SIGKILL on the parent's death: no Python code has to run to end
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent ended before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="gnnpt-parent-watchdog", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_S)
    log.warning("the server (pid %d) that started this adaptation worker ended; ending too", parent)
    os._exit(1)


_held: list[IO] = []  # the slot lock's file, open for the life of the process


def _hold_slot(root: Path, slot: int, poll_s: float) -> None:
    """Wait until this process holds ``root/worker-<slot>.lock`` (released by the kernel when it ends)."""
    if fcntl is None:
        return
    root.mkdir(parents=True, exist_ok=True)
    handle = (root / f"worker-{slot}.lock").open("a")
    waited = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not waited:
                log.warning("adaptation worker slot %d of %s is held by another process (a second server on this "
                            "jobs folder, or a worker still ending); waiting for it", slot, root)  # fmt: skip
                waited = True
            time.sleep(poll_s)
    _held.append(handle)


class WorkerPool:
    """``count`` worker processes (spawned: no state shared with the web server; daemons of this process that end
    with it, each holding its slot's lock), kept at that number: a supervising thread reaps a worker that died
    (killed, out of memory) and starts another, whose :meth:`JobStore.recover` re-queues the job the dead one left, to
    resume from its last stage and checkpoint."""

    def __init__(self, count: int, root: str | Path | None = None, threads: int = 1, check_s: float = 2.0):
        self.count, self.root, self.threads, self.check_s = count, str(root) if root else None, threads, check_s
        self.procs: list[mp.Process] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="gnnpt-adaptation-supervisor", daemon=True)

    def _spawn(self, index: int) -> mp.Process:
        kwargs = {"root": self.root, "threads": self.threads, "parent": os.getpid(), "slot": index}
        proc = mp.get_context("spawn").Process(target=work, kwargs=kwargs, name=f"gnnpt-adaptation-{index}",
                                               daemon=True)  # fmt: skip
        proc.start()
        return proc

    def start(self) -> WorkerPool:
        self.procs = [self._spawn(i) for i in range(self.count)]
        if self.count:
            self._thread.start()
        return self

    def _supervise(self) -> None:
        while not self._stop.wait(self.check_s):
            for i, proc in enumerate(self.procs):
                if not proc.is_alive() and not self._stop.is_set():  # is_alive() reaps a dead child (no zombie)
                    log.warning("adaptation worker %s (pid %s) died with code %s; starting another",
                                proc.name, proc.pid, proc.exitcode)  # fmt: skip
                    self.procs[i] = self._spawn(i)
                    self.restarts += 1

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers at once; a job one was running stays 'running' until the next start re-queues it and it
        resumes from its last finished stage and checkpoint.

        SIGKILL, not SIGTERM: Lightning answers SIGTERM by ending ``fit`` early and cleanly, so a job cut off that way
        went on to register a model trained for fewer epochs than asked, as if it had succeeded."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.join(timeout)
