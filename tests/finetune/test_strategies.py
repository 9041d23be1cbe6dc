"""Fine-tuning strategies: exact trainable counts, what optimizer steps move, LLRD rates, frozen batch-norm stats."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import gnnpt
from gnnpt.featurization.schemes import HU_NUM_ATOM_TYPES, HU_NUM_BOND_DIRS, HU_NUM_BOND_TYPES, HU_NUM_CHIRALITY
from gnnpt.finetune.strategies import STRATEGIES, Strategy, apply_strategy, count_trainable, set_train_mode
from gnnpt.nn import GraphModel, HuEncoder, LinearHead, make_pooling

D, L, TASKS = 8, 2, 3
EMBEDDINGS = (HU_NUM_ATOM_TYPES + HU_NUM_CHIRALITY) * D
GIN_LAYER = (D * 2 * D + 2 * D) + (2 * D * D + D) + (HU_NUM_BOND_TYPES + HU_NUM_BOND_DIRS) * D
BATCH_NORM = 2 * D
HEAD = D * TASKS + TASKS
TOTAL = EMBEDDINGS + L * (GIN_LAYER + BATCH_NORM) + HEAD
LORA_LAYER = 4 * (D + 2 * D) + 4 * (2 * D + D)  # rank 4 on Linear(D, 2D) and Linear(2D, D)
ADAPTER_LAYER = (D * 4 + 4) + (4 * D + D)  # bottleneck 4

EXPECTED_TRAINABLE = {
    "full": TOTAL,
    "linear_probe": HEAD,
    "freeze:0": TOTAL - EMBEDDINGS,
    "freeze:1": GIN_LAYER + BATCH_NORM + HEAD,
    "freeze:2": HEAD,
    "llrd:0.5": TOTAL,
    "lora:4": L * (LORA_LAYER + BATCH_NORM) + HEAD,
    "adapter:4": L * (ADAPTER_LAYER + BATCH_NORM) + HEAD,
}


@pytest.fixture(scope="module")
def batch():
    return gnnpt.featurize(["CCO", "c1ccccc1O", "CC(=O)N"]).gather(torch.arange(3))


def make_model(pooling: str = "mean") -> GraphModel:
    torch.manual_seed(0)
    return GraphModel(HuEncoder(num_layer=L, emb_dim=D), make_pooling(pooling, D), LinearHead(D, TASKS))


def train_steps(model: GraphModel, groups: list[dict], batch, steps: int = 2) -> None:
    """Two steps: LoRA ``A`` and adapter ``down`` get no gradient until ``B``/``up`` have left zero."""
    optimizer = torch.optim.Adam(groups, lr=1.0)
    set_train_mode(model)
    for _ in range(steps):
        optimizer.zero_grad()
        model(batch).pow(2).mean().backward()
        optimizer.step()


@pytest.mark.parametrize("text", list(EXPECTED_TRAINABLE))
def test_trainable_parameter_count_matches_the_module_shapes(text: str) -> None:
    model = make_model()
    groups = apply_strategy(model, Strategy.parse(text), lr=1e-3)
    assert count_trainable(model) == EXPECTED_TRAINABLE[text]
    params = [p for g in groups for p in g["params"]]
    assert all(p.requires_grad for p in params)
    assert len({id(p) for p in params}) == len(params)
    assert sum(p.numel() for p in params) == EXPECTED_TRAINABLE[text]


def test_linear_probe_trains_attention_pooling_with_the_head() -> None:
    model = make_model("attention")
    apply_strategy(model, Strategy("linear_probe"), lr=1e-3)
    assert count_trainable(model) == HEAD + (D + 1)


def test_reapplying_a_strategy_resets_what_is_frozen() -> None:
    model = make_model()
    apply_strategy(model, Strategy("linear_probe"), lr=1e-3)
    apply_strategy(model, Strategy("full"), lr=1e-3)
    assert count_trainable(model) == TOTAL


@pytest.mark.parametrize("text", list(EXPECTED_TRAINABLE))
def test_a_step_moves_exactly_the_trainable_parameters(text: str, batch) -> None:
    model = make_model()
    groups = apply_strategy(model, Strategy.parse(text), lr=1e-2)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    train_steps(model, groups, batch)
    params = dict(model.named_parameters())
    for name, param in params.items():
        assert torch.equal(param, before[name]) != param.requires_grad, name
    for prefix, norm in (("encoder.batch_norms.0", model.encoder.batch_norms[0]), ("encoder.batch_norms.1",
                         model.encoder.batch_norms[1])):  # fmt: skip
        frozen = not norm.weight.requires_grad
        assert torch.equal(norm.running_mean, before[f"{prefix}.running_mean"]) == frozen, prefix
        assert torch.equal(norm.num_batches_tracked, before[f"{prefix}.num_batches_tracked"]) == frozen, prefix


def test_llrd_learning_rates_decay_per_layer() -> None:
    model = make_model()
    groups = apply_strategy(model, Strategy.parse("llrd:0.5"), lr=1.0)
    assert [(g["name"], g["lr"]) for g in groups] == [
        ("head", 1.0),
        ("layer1", 0.5),
        ("layer0", 0.25),
        ("embeddings", 0.125),
    ]
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    expected = {"head.": 1.0, "encoder.gnns.1.": 0.5, "encoder.batch_norms.1.": 0.5, "encoder.gnns.0.": 0.25,
                "encoder.batch_norms.0.": 0.25, "encoder.x_embedding": 0.125}  # fmt: skip
    named = list(model.named_parameters())
    assert len(lr_of) == len(named)
    for name, param in named:
        (lr,) = [lr for prefix, lr in expected.items() if name.startswith(prefix)]
        assert lr_of[id(param)] == lr, name


def test_set_train_mode_keeps_frozen_batch_norms_at_their_running_statistics(batch) -> None:
    model = make_model()
    apply_strategy(model, Strategy.parse("freeze:1"), lr=1e-3)
    frozen, trained = model.encoder.batch_norms
    stats = frozen.running_mean.clone(), trained.running_mean.clone()
    set_train_mode(model.eval())
    assert model.training and model.encoder.training and trained.training and not frozen.training
    model(batch)
    assert torch.equal(frozen.running_mean, stats[0])
    assert not torch.equal(trained.running_mean, stats[1])


def test_set_train_mode_puts_a_linear_probed_encoder_in_eval(batch) -> None:
    model = make_model()
    apply_strategy(model, Strategy("linear_probe"), lr=1e-3)
    set_train_mode(model)
    assert model.training and model.head.training
    assert not any(m.training for m in model.encoder.modules())


@pytest.mark.parametrize("name", STRATEGIES)
def test_the_base_state_dict_keys_survive_every_strategy(name: str) -> None:
    model = make_model()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    apply_strategy(model, Strategy(name), lr=1e-3)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in base.items())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("full", Strategy()),
        ("linear_probe", Strategy("linear_probe")),
        ("freeze:2", Strategy("freeze", freeze_layers=2)),
        ("llrd:0.7", Strategy("llrd", lr_decay=0.7)),
        ("llrd", Strategy("llrd", lr_decay=0.8)),
        ("lora:4", Strategy("lora", lora_rank=4)),
        ("lora", Strategy("lora", lora_rank=8)),
        (" adapter:32 ", Strategy("adapter", adapter_dim=32)),
    ],
)
def test_parse(text: str, expected: Strategy) -> None:
    assert Strategy.parse(text) == expected


@pytest.mark.parametrize("text", ["", "bogus", "freeze", "full:2", "freeze:x", "freeze:-1", "llrd:1.5", "lora:0"])
def test_parse_rejects_bad_forms_and_lists_the_valid_ones(text: str) -> None:
    with pytest.raises(ValueError, match="valid forms: full, linear_probe, freeze:K"):
        Strategy.parse(text)


def test_layer_strategies_need_an_encoder_with_layers_by_depth_and_enough_of_them() -> None:
    with pytest.raises(ValueError, match="cannot freeze 3"):
        apply_strategy(make_model(), Strategy("freeze", freeze_layers=3), lr=1e-3)
    model = GraphModel(nn.Linear(2, D), make_pooling("mean", D), LinearHead(D, TASKS))
    assert apply_strategy(model, Strategy("linear_probe"), lr=1e-3)[0]["params"] == list(model.head.parameters())
    with pytest.raises(TypeError, match="needs an encoder with layers by depth"):
        apply_strategy(model, Strategy("lora"), lr=1e-3)
