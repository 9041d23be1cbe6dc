"""How many CPU cores this process may use, and how many torch threads a model gets beside other busy processes.

More torch threads than free cores make them wait on each other: OpenMP's default is to spin while waiting, so on the
project's 2-core machines a model scoring beside two featurization processes ran a third slower with two torch threads
than with one. With ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep; ``gnnpt screen`` sets it before torch loads)
the model can use every core and takes the time the featurization processes leave idle.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

WAIT_POLICY = "OMP_WAIT_POLICY"
KERNEL_CACHES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), for the hardware line of cards and benchmark figures."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def device_name(device: object = "cpu") -> str:
    """What a figure was measured on: the GPU's name, or the CPU's model name with torch's thread count."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {cpu_name()}, {torch.get_num_threads()} threads"


def spare_cores(busy: int) -> int:
    """Cores left when ``busy`` of them are taken by other processes or threads (at least 1)."""
    return max(1, available_cores() - busy)


def runtime_defaults(sleeping_threads: bool = False) -> None:
    """Defaults for what OpenMP and oneDNN read once, as torch loads them (a value the user set stands; nothing
    happens once torch is imported, so command-line entry points call this first).

    - oneDNN and PyTorch's ideep layer keep at most 16 compiled kernels each (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``,
      ``LRU_CACHE_CAPACITY``; defaults 1024): bf16 layers get a kernel, with its scratch memory, per batch shape,
      and batches of molecules rarely repeat a shape, so the default caches grew a screening process from 2.4 GB at
      100k molecules to 6 GB at 1M (tox21 in bf16; fp32 stayed flat). Same speed with the small caches.
    - ``sleeping_threads``: waiting OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``), for a model that shares the
      cores with other busy processes.
    """
    if "torch" in sys.modules:
        return
    for cache in KERNEL_CACHES:
        os.environ.setdefault(cache, "16")
    if sleeping_threads:
        os.environ.setdefault(WAIT_POLICY, "PASSIVE")


def model_threads(busy: int) -> int:
    """torch threads for a model beside ``busy`` other busy processes: every core when waiting OpenMP threads sleep
    (``OMP_WAIT_POLICY=PASSIVE``), else the cores the others leave (at least 1)."""
    if os.environ.get(WAIT_POLICY, "").upper() == "PASSIVE":
        return available_cores()
    return spare_cores(busy)


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the OS (glibc's ``malloc_trim``; nothing elsewhere).

    A model scoring batches of different sizes leaves freed activation buffers scattered in the heap, which glibc
    keeps: without this, a screening process's memory grew with the number of batches it had scored.
    """
    if _libc is not None and hasattr(_libc, "malloc_trim"):
        _libc.malloc_trim(0)


def die_with_parent(parent: int) -> None:
    """End this (worker) process when the process that started it dies, even by SIGKILL (Linux's
    ``PR_SET_PDEATHSIG``; nothing elsewhere), so that a killed run leaves no workers behind holding its pipes open.
    ``parent``: the starter's pid, to catch a parent that died before this call."""
    if _libc is None:
        return
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def start_worker(parent: int) -> None:
    """Set up a forked worker process: it ends with ``parent`` (:func:`die_with_parent`) and runs torch on one thread.

    One thread because a forked child must never enter an OpenMP parallel region: GNU OpenMP's thread team does not
    survive ``fork``, so the child's first multi-threaded kernel waits forever for threads that exist only in the
    parent. MiniMol's featurizer runs torch matrix products (random-walk encodings), and `gnnpt screen --model tox21`
    hung that way in its featurization workers. A worker pool gives each process a core anyway."""
    die_with_parent(parent)
    if "torch" in sys.modules:  # a worker that never imported torch cannot reach OpenMP through it
        import torch

        torch.set_num_threads(1)


def _load_libc() -> object | None:
    """The C library of this process, on Linux (None elsewhere, or when it cannot be loaded)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


_libc = _load_libc()


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
