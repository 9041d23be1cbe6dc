"""How many CPU cores this process may use, and how many torch threads a model gets beside other busy processes.

More torch threads than free cores make them wait on each other: OpenMP's default is to spin while waiting, so on the
project's 2-core machines a model scoring beside two featurization processes ran a third slower with two torch threads
than with one. With ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep; ``gnnpt screen`` sets it before torch loads)
the model can use every core and takes the time the featurization processes leave idle.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

WAIT_POLICY = "OMP_WAIT_POLICY"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def spare_cores(busy: int) -> int:
    """Cores left when ``busy`` of them are taken by other processes or threads (at least 1)."""
    return max(1, available_cores() - busy)


def prefer_sleeping_threads() -> None:
    """Ask OpenMP to let waiting threads sleep, unless the user chose a policy. OpenMP reads the policy once, as torch
    loads it, so this does nothing once torch is imported: command-line entry points call it first."""
    if "torch" not in sys.modules:
        os.environ.setdefault(WAIT_POLICY, "PASSIVE")


def model_threads(busy: int) -> int:
    """torch threads for a model beside ``busy`` other busy processes: every core when waiting OpenMP threads sleep
    (``OMP_WAIT_POLICY=PASSIVE``), else the cores the others leave (at least 1)."""
    if os.environ.get(WAIT_POLICY, "").upper() == "PASSIVE":
        return available_cores()
    return spare_cores(busy)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads (at least 1), then restore the caller's setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
