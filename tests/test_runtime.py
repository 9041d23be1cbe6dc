"""Core counting, the OpenMP wait policy, and the torch thread setting around a block."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from gnnpt.runtime import available_cores, model_threads, prefer_sleeping_threads, spare_cores, torch_threads


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


def test_sleeping_threads_are_asked_for_only_before_torch_loads(monkeypatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    prefer_sleeping_threads()  # torch is loaded in this process: OpenMP would not read it any more
    assert "OMP_WAIT_POLICY" not in os.environ
    code = "import os, gnnpt.runtime as r; r.prefer_sleeping_threads(); print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout == "PASSIVE\n"
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # the user's choice stands
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout == "ACTIVE\n"
