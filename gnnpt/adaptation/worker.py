"""The worker: a process that takes queued adaptation jobs one at a time and runs them.

``gnnpt serve`` starts ``adaptation_workers`` of them beside the web workers (so scoring stays responsive while
models train); ``gnnpt adapt worker`` runs one on its own. On start a worker re-queues the jobs a dead worker left
running (see :meth:`JobStore.recover`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

from gnnpt.adaptation.jobs import JobStore
from gnnpt.adaptation.runner import run_job


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


def start_workers(count: int, root: str | Path | None = None, threads: int = 1) -> list[mp.Process]:
    """``count`` worker processes (spawned: no state shared with the web server), daemons of this process."""
    context = mp.get_context("spawn")
    procs = [context.Process(target=work, kwargs={"root": str(root) if root else None, "threads": threads},
                             name=f"gnnpt-adaptation-{i}", daemon=True) for i in range(count)]  # fmt: skip
    for p in procs:
        p.start()
    return procs


def stop_workers(procs: list[mp.Process], timeout: float = 10.0) -> None:
    """Stop the workers at once; a job one was running stays 'running' until the next start re-queues it and it
    resumes from its last finished stage and checkpoint.

    SIGKILL, not SIGTERM: Lightning answers SIGTERM by ending ``fit`` early and cleanly, so a job cut off that way
    went on to register a model trained for fewer epochs than asked, as if it had succeeded."""
    for p in procs:
        p.kill()
    for p in procs:
        p.join(timeout)
