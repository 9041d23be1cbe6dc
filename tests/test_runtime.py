"""Core counting, the OpenMP/oneDNN defaults, the torch thread setting around a block, and heap trimming."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from gnnpt.runtime import (
    available_cores,
    model_threads,
    release_free_memory,
    runtime_defaults,
    spare_cores,
    torch_threads,
)


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


def test_runtime_defaults_are_set_only_before_torch_loads(monkeypatch) -> None:
    names = ("OMP_WAIT_POLICY", "ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    runtime_defaults(sleeping_threads=True)  # torch is loaded in this process: OpenMP and oneDNN would not see them
    assert not any(name in os.environ for name in names)
    code = ("import os, sys, gnnpt.runtime as r; r.runtime_defaults(sleeping_threads=sys.argv[1] == '1'); "
            "print(os.environ.get('OMP_WAIT_POLICY'), os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'], "
            "os.environ['LRU_CACHE_CAPACITY'])")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in names}

    def run(sleeping: str) -> str:
        return subprocess.run([sys.executable, "-c", code, sleeping], capture_output=True, text=True, env=env).stdout

    assert run("1") == "PASSIVE 16 16\n" and run("0") == "None 16 16\n"
    env["OMP_WAIT_POLICY"], env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = "ACTIVE", "64"  # the user's choice stands
    assert run("1") == "ACTIVE 64 16\n"


def test_release_free_memory_runs() -> None:
    release_free_memory()  # glibc's malloc_trim where there is one; a no-op elsewhere
