"""Core counting and the torch thread setting around a block."""

from __future__ import annotations

import pytest
import torch

from gnnpt.runtime import available_cores, spare_cores, torch_threads


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
