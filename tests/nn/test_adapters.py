"""LoRA and bottleneck adapters: identity at insertion, exact merge, parameter counts, published key layout kept."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import gnnpt
from gnnpt.nn import HuEncoder
from gnnpt.nn.adapters import BottleneckAdapter, LoRALinear, add_adapters, add_lora, merge_lora

GNN_TYPES = ["gin", "gcn", "graphsage", "gat"]


@pytest.fixture(scope="module")
def batch():
    return gnnpt.featurize(["CCO", "c1ccccc1O", "CC(=O)N"]).gather(torch.arange(3))


def encode(encoder: nn.Module, batch) -> torch.Tensor:
    return encoder(batch.x, batch.edge_index, batch.edge_attr)


def encoder(gnn_type: str, num_layer: int = 2, emb_dim: int = 8) -> HuEncoder:
    torch.manual_seed(0)
    return HuEncoder(num_layer=num_layer, emb_dim=emb_dim, gnn_type=gnn_type).eval()


def test_lora_linear_is_output_identical_at_init_and_shares_base_weights() -> None:
    torch.manual_seed(0)
    base, x = nn.Linear(5, 7), torch.randn(4, 5)
    lora = LoRALinear(base, rank=3, alpha=6.0)
    assert torch.equal(lora(x), base(x))
    assert lora.weight is base.weight and lora.bias is base.bias
    assert lora.lora_a.shape == (3, 5) and lora.lora_b.shape == (7, 3)
    assert lora.lora_a.abs().sum() > 0 and not lora.lora_b.any()
    assert lora.scale == 2.0
    assert set(lora.state_dict()) == {"weight", "bias", "lora_a", "lora_b"}


def test_lora_merge_is_output_identical_after_a_training_step() -> None:
    torch.manual_seed(0)
    lora, x = LoRALinear(nn.Linear(5, 7), rank=2, alpha=4.0, dropout=0.1), torch.randn(16, 5)
    optimizer = torch.optim.SGD([lora.lora_a, lora.lora_b], lr=0.01)
    for _ in range(2):  # the first step moves only B (A gets no gradient while B is zero)
        optimizer.zero_grad()
        lora(x).pow(2).sum().backward()
        optimizer.step()
    assert lora.lora_b.any()
    lora.eval()
    expected = nn.functional.linear(x, lora.weight, lora.bias) + 2.0 * x @ lora.lora_a.T @ lora.lora_b.T
    merged = lora.merge()
    assert type(merged) is nn.Linear
    torch.testing.assert_close(lora(x), expected)
    torch.testing.assert_close(merged(x), lora(x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(merged(x), nn.functional.linear(x, lora.weight, lora.bias), rtol=1e-3, atol=1e-3)
    assert torch.equal(merged.bias, lora.bias)


def test_lora_rejects_rank_zero() -> None:
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(3, 3), rank=0)


def test_bottleneck_adapter_is_identity_until_trained() -> None:
    torch.manual_seed(0)
    adapter, x = BottleneckAdapter(6, bottleneck=3), torch.randn(4, 6)
    assert torch.equal(adapter(x), x)
    adapter.up.weight.data.normal_()
    assert not torch.allclose(adapter(x), x)
    assert sum(p.numel() for p in adapter.parameters()) == 6 * 3 + 3 + 3 * 6 + 6


@pytest.mark.parametrize("gnn_type", GNN_TYPES)
def test_add_lora_wraps_each_layers_linear_maps_without_changing_outputs(gnn_type: str, batch) -> None:
    enc = encoder(gnn_type)
    before, keys = encode(enc, batch), enc.state_dict()
    assert add_lora(enc, rank=4) is enc
    wrapped = [name for name, m in enc.named_modules() if isinstance(m, LoRALinear)]
    expected = {
        "gin": ["gnns.0.mlp.0", "gnns.0.mlp.2", "gnns.1.mlp.0", "gnns.1.mlp.2"],
        "gcn": ["gnns.0.linear", "gnns.1.linear"],
        "graphsage": ["gnns.0.linear", "gnns.1.linear"],
        "gat": ["gnns.0.weight_linear", "gnns.1.weight_linear"],
    }[gnn_type]
    assert wrapped == expected
    assert torch.equal(encode(enc, batch), before)
    state = enc.state_dict()
    assert all(torch.equal(state[k], v) for k, v in keys.items())
    assert set(state) - set(keys) == {f"{name}.{p}" for name in wrapped for p in ("lora_a", "lora_b")}
    lora_params = sum(m.lora_a.numel() + m.lora_b.numel() for m in enc.modules() if isinstance(m, LoRALinear))
    per_layer = {"gin": 4 * (8 + 16) + 4 * (16 + 8), "gcn": 4 * 16, "graphsage": 4 * 16, "gat": 4 * (8 + 16)}
    assert lora_params == 2 * per_layer[gnn_type]
    add_lora(enc, rank=4)  # already wrapped layers are kept
    assert [name for name, m in enc.named_modules() if isinstance(m, LoRALinear)] == expected


@pytest.mark.parametrize("gnn_type", GNN_TYPES)
def test_merge_lora_restores_the_published_layout_with_the_same_outputs(gnn_type: str, batch) -> None:
    enc = add_lora(encoder(gnn_type), rank=2)
    keys = set(HuEncoder(num_layer=2, emb_dim=8, gnn_type=gnn_type).state_dict())
    with torch.no_grad():
        for m in enc.modules():
            if isinstance(m, LoRALinear):
                m.lora_b.normal_()
    adapted = encode(enc, batch)
    assert set(merge_lora(enc).state_dict()) == keys
    assert not any(isinstance(m, LoRALinear) for m in enc.modules())
    torch.testing.assert_close(encode(enc, batch), adapted, rtol=1e-5, atol=1e-5)
    fresh = HuEncoder(num_layer=2, emb_dim=8, gnn_type=gnn_type)
    fresh.load_state_dict(enc.state_dict(), strict=True)


@pytest.mark.parametrize("gnn_type", GNN_TYPES)
def test_add_adapters_are_identity_at_insertion_and_applied_to_each_conv(gnn_type: str, batch) -> None:
    enc = encoder(gnn_type)
    before, keys = encode(enc, batch), enc.state_dict()
    assert add_adapters(enc, bottleneck=4) is enc
    assert torch.equal(encode(enc, batch), before)
    state = enc.state_dict()
    assert all(torch.equal(state[k], v) for k, v in keys.items())
    new = {k for k in state if k not in keys}
    assert new == {
        f"gnns.{i}.adapter.{lin}.{p}" for i in range(2) for lin in ("down", "up") for p in ("weight", "bias")
    }
    assert sum(state[k].numel() for k in new) == 2 * (8 * 4 + 4 + 4 * 8 + 8)
    with torch.no_grad():
        enc.gnns[1].adapter.up.bias.fill_(1.0)
    assert not torch.allclose(encode(enc, batch), before)
    with pytest.raises(ValueError, match="already"):
        add_adapters(enc)


def test_published_state_dict_loads_into_an_adapted_encoder(batch) -> None:
    published = encoder("gin").state_dict()
    enc = add_adapters(add_lora(HuEncoder(num_layer=2, emb_dim=8)), bottleneck=4)
    result = enc.load_state_dict(published, strict=False)
    assert not result.unexpected_keys
    assert all(k.endswith(("lora_a", "lora_b")) or ".adapter." in k for k in result.missing_keys)
    torch.testing.assert_close(encode(enc.eval(), batch), encode(encoder("gin"), batch), rtol=0, atol=0)


def test_adapters_need_an_encoder_that_names_its_layers() -> None:
    with pytest.raises(TypeError, match="does not name its layers"):
        add_lora(nn.Linear(3, 3))
    with pytest.raises(TypeError, match="does not name its layers"):
        add_adapters(nn.Sequential(nn.Linear(3, 3)))
