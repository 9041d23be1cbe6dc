"""The scatter-op pooling and GAT softmax equal PyG's (which scoring no longer imports, for start-up time)."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.utils import softmax

from gnnpt.nn.conv import segment_softmax
from gnnpt.nn.pooling import Pool


@pytest.mark.parametrize("kind,reference", [("mean", global_mean_pool), ("sum", global_add_pool),
                                            ("max", global_max_pool)])  # fmt: skip
def test_pooling_equals_pyg(kind, reference) -> None:
    torch.manual_seed(0)
    h = torch.randn(40, 7)
    batch = torch.sort(torch.randint(0, 6, (40,))).values
    batch[batch == 3] = 4  # graph 3 has no nodes
    for size in (None, 8):
        torch.testing.assert_close(Pool(kind)(h, batch, size), reference(h, batch, size))


def test_segment_softmax_equals_pyg() -> None:
    torch.manual_seed(0)
    scores = torch.randn(50, 2) * 10
    index = torch.randint(0, 9, (50,))
    torch.testing.assert_close(segment_softmax(scores, index, 9), softmax(scores, index, num_nodes=9))
