"""Featurization worker processes end with the process that started them, even when it is SIGKILLed, and run torch
kernels after a fork without hanging."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from gnnpt.featurization.pipeline import worker_pool
    pool = worker_pool(2)
    [f.result() for f in [pool.submit(os.getpid) for _ in range(8)]]  # both workers are up
    print(" ".join(map(str, sorted(set(pool._processes)))), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie waiting for its (new) parent to reap it has ended too
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_end_when_their_parent_is_killed() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    workers = [int(p) for p in proc.stdout.split()]
    assert len(workers) == 2
    deadline = time.time() + 10
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in workers)


TORCH_AFTER_FORK = textwrap.dedent(
    """
    import torch
    from gnnpt.featurization.pipeline import worker_pool
    torch.set_num_threads(2)
    x = torch.randn(1024, 1024)
    x @ x  # this process's OpenMP team of threads is up, as after a model has scored

    def products():  # large enough to run on every thread it is given (MiniMol's featurizer runs such products)
        a = torch.randn(8, 256, 256)
        for _ in range(3):
            a = torch.tanh(a @ a)
        return torch.get_num_threads()

    print(worker_pool(1).submit(products).result(), flush=True)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_a_forked_worker_runs_torch_products_on_one_thread_without_hanging() -> None:
    """GNU OpenMP's thread team does not survive fork: a worker whose torch used two threads waited forever in its
    first matrix product (``gnnpt screen --model tox21`` hung so). Killed at the deadline, the workers end with it."""
    try:
        proc = subprocess.run([sys.executable, "-c", TORCH_AFTER_FORK], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a forked worker hung in a torch matrix product")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1"]
