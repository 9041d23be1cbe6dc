"""How many CPU cores this process may use, how its thread pools wait, and how many torch threads a model gets.

Threads of a pool that spin while they wait for each other (OpenMP's default, ONNX Runtime's) lose their time slices
to any other busy process: beside four busy processes on 2 cores a LightGBM forest fit went from 1.6 s to 27.5 s
(and past 300 s with ``OMP_WAIT_POLICY=ACTIVE``), and ``--model auto`` or MiniMol scoring sat for many minutes at a
load of 8. So every gnnpt process lets waiting threads sleep (:func:`runtime_defaults`, from ``import gnnpt``;
ONNX Runtime sessions are built with spinning off) and sizes its pools by :func:`available_cores`, which counts a
cgroup CPU quota as well as the CPU affinity. With sleeping threads a model can use every core and takes the time
that other processes leave idle.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WAIT_POLICY = "OMP_WAIT_POLICY"
OMP_THREADS = "OMP_NUM_THREADS"
KERNEL_CACHES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")
OPENMP_MODULES = ("torch", "lightgbm", "sklearn")  # each loads a GNU OpenMP runtime, which reads its settings once
CGROUP = Path("/sys/fs/cgroup")  # the cgroup file system as a container sees its own cgroup (tests point it elsewhere)


def _affinity_cores() -> int:
    """CPUs this process may run on (its affinity where the OS reports one, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cgroup_cores() -> int | None:
    """Cores the CPU quota of this process's cgroup allows (``ceil(quota / period)``), None without a quota:
    cgroup v2's ``cpu.max`` ("quota period", or "max ..."), else v1's ``cpu/cpu.cfs_quota_us`` (-1: none) and
    ``cpu/cpu.cfs_period_us``, read under :data:`CGROUP`."""
    try:
        quota, period = (CGROUP / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (CGROUP / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (CGROUP / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:  # "max": no quota
        return None
    if quota_us <= 0 or period_us <= 0:
        return None
    return max(1, math.ceil(quota_us / period_us))


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota (a container's ``--cpus``), which
    OpenMP, torch and ONNX Runtime do not count, so that more threads than that would queue for the quota."""
    quota = cgroup_cores()
    return min(_affinity_cores(), quota) if quota else _affinity_cores()


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


def runtime_defaults() -> None:
    """Defaults for what the OpenMP runtimes and oneDNN read once, as they load: ``import gnnpt`` calls this, before
    any of torch, LightGBM or scikit-learn is imported through gnnpt, so that every entry point and notebook gets
    them. A value the user set stands; nothing is set once one of :data:`OPENMP_MODULES` is loaded, since it would
    not be read and :func:`model_threads` would then count on a policy that is not in force.

    - Waiting OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``; GNU OpenMP, which torch and LightGBM load, then
      does not spin at all, as with ``GOMP_SPINCOUNT=0``): its default spins for ~3 ms at every barrier, and a
      LightGBM fit crosses thousands of them, so beside four busy processes on 2 cores a forest fit took 17x its
      idle time with spinning threads and 3x with sleeping ones (``benchmarks/busy_neighbours.py``).
    - Under a cgroup CPU quota, ``OMP_NUM_THREADS`` is :func:`available_cores` (torch's intra-op threads and OpenMP
      count only the CPU affinity).
    - oneDNN and PyTorch's ideep layer keep at most 16 compiled kernels each (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``,
      ``LRU_CACHE_CAPACITY``; defaults 1024): bf16 layers get a kernel, with its scratch memory, per batch shape,
      and batches of molecules rarely repeat a shape, so the default caches grew a screening process from 2.4 GB at
      100k molecules to 6 GB at 1M (tox21 in bf16; fp32 stayed flat). Same speed with the small caches.
    """
    if any(name in sys.modules for name in OPENMP_MODULES):
        return
    for cache in KERNEL_CACHES:
        os.environ.setdefault(cache, "16")
    os.environ.setdefault(WAIT_POLICY, "PASSIVE")
    cores = available_cores()
    if cores < _affinity_cores():
        os.environ.setdefault(OMP_THREADS, str(cores))


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


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS and LAPACK (OpenBLAS, under numpy and scipy) on one thread, then restore them.

    OpenBLAS's threads busy-wait between calls; on a 2-core machine with one other busy process, MiniMol's Laplacian
    eigendecompositions (thousands of small ``geev`` calls, which gain nothing from threads) ran 25-50x slower with
    its default two threads: a model with MiniMol inputs took 20-43 s to load in the service against 0.8-1.8 s."""
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _blas_controller() -> object:
    """threadpoolctl's view of the loaded BLAS libraries (built once: ~1 ms), after scipy's LAPACK is loaded."""
    import scipy.linalg  # noqa: F401  (scipy's own OpenBLAS, beside numpy's)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
