"""The worker: a process that takes queued adaptation jobs one at a time and runs them.

``gnnpt serve`` starts ``adaptation_workers`` of them beside the web workers (so scoring stays responsive while
models train) as a :class:`WorkerPool`, which replaces a worker that dies; ``gnnpt adapt worker`` runs one on its
own. On start a worker re-queues the jobs a dead worker left running (see :meth:`JobStore.recover`).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import time
from pathlib import Path

from gnnpt.adaptation.jobs import JobStore
from gnnpt.adaptation.runner import run_job

log = logging.getLogger(__name__)


def work(root: str | Path | None = None, poll_s: float = 1.0, max_jobs: int | None = None, threads: int = 0) -> int:
    """Run queued jobs until ``max_jobs`` have run (None: forever); returns how many ran. ``threads``: torch threads
    (0 keeps torch's default)."""
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


class WorkerPool:
    """``count`` worker processes (spawned: no state shared with the web server; daemons of this process), kept at
    that number: a supervising thread reaps a worker that died (killed, out of memory) and starts another, whose
    :meth:`JobStore.recover` re-queues the job the dead one left, to resume from its last stage and checkpoint."""

    def __init__(self, count: int, root: str | Path | None = None, threads: int = 1, check_s: float = 2.0):
        self.count, self.root, self.threads, self.check_s = count, str(root) if root else None, threads, check_s
        self.procs: list[mp.Process] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="gnnpt-adaptation-supervisor", daemon=True)

    def _spawn(self, index: int) -> mp.Process:
        proc = mp.get_context("spawn").Process(target=work, kwargs={"root": self.root, "threads": self.threads},
                                               name=f"gnnpt-adaptation-{index}", daemon=True)  # fmt: skip
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
