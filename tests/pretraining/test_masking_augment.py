"""Pretraining building blocks: Hu-style masking, GraphCL augmentations, NT-Xent, objectives."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import gnnpt
from gnnpt.nn import HuEncoder
from gnnpt.pretraining import (
    AUGMENTATIONS,
    AttributeMasking,
    Combined,
    DescriptorPrediction,
    GraphContrastive,
    GraphMAE,
    drop_edges,
    drop_nodes,
    mask_atoms,
    nt_xent,
    scaled_cosine_error,
    subgraph,
)
from gnnpt.pretraining.graph_ops import random_rank
from gnnpt.store.packed import GraphBatch

SMILES = ["CC(=O)Nc1ccc(O)cc1", "CCO", "c1ccccc1", "C", "[Na+].[Cl-]", "CN1CCC[C@H]1c1cccnc1", "OCC(O)CO"]


@pytest.fixture(scope="module")
def batch():
    return gnnpt.featurize(SMILES).gather(range(len(SMILES)))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _sizes(gb) -> list[int]:
    return (gb.ptr[1:] - gb.ptr[:-1]).tolist()


def _check_consistent(gb) -> None:
    """ptr/edge_ptr/batch agree, edges stay inside their graph."""
    counts = _sizes(gb)
    assert gb.batch.tolist() == [g for g, c in enumerate(counts) for _ in range(c)]
    src, dst = gb.edge_index
    assert torch.equal(gb.batch[src], gb.batch[dst])
    edge_counts = torch.bincount(gb.batch[src], minlength=gb.num_graphs).tolist()
    assert edge_counts == (gb.edge_ptr[1:] - gb.edge_ptr[:-1]).tolist()
    assert gb.edge_attr.shape[0] == src.numel()


def test_random_rank_is_a_permutation_inside_each_graph(batch) -> None:
    rank = random_rank(batch.batch, batch.ptr, _gen())
    for g, n in enumerate(_sizes(batch)):
        assert sorted(rank[batch.batch == g].tolist()) == list(range(n))
    assert not torch.equal(rank, random_rank(batch.batch, batch.ptr, _gen(1)))


@pytest.mark.parametrize("mask_edges", [False, True])
def test_mask_atoms_follows_pretrain_gnns(batch, mask_edges: bool) -> None:
    m = mask_atoms(batch, 0.15, mask_edges, _gen())
    per_graph = torch.bincount(batch.batch[m.atom_index], minlength=batch.num_graphs).tolist()
    assert per_graph == [int(n * 0.15 + 1) for n in _sizes(batch)]  # MaskAtom's sample size
    assert torch.equal(m.atom_target, batch.x[m.atom_index, 0])
    assert (m.batch.x[m.atom_index] == torch.tensor([119, 0])).all()
    untouched = torch.ones(batch.num_nodes, dtype=torch.bool)
    untouched[m.atom_index] = False
    assert torch.equal(m.batch.x[untouched], batch.x[untouched])
    src, dst = batch.edge_index
    touched = torch.isin(src, m.atom_index) | torch.isin(dst, m.atom_index)
    if mask_edges:
        assert (m.batch.edge_attr[touched] == torch.tensor([5, 0])).all()
        assert m.bond_index.shape[1] == int(touched.sum()) // 2 and bool((m.bond_index[0] < m.bond_index[1]).all())
        assert m.bond_target.max() <= 3
    else:
        assert torch.equal(m.batch.edge_attr, batch.edge_attr) and m.bond_target.numel() == 0
    again = mask_atoms(batch, 0.15, mask_edges, _gen())
    assert torch.equal(again.atom_index, m.atom_index)  # deterministic with a seeded generator


def test_drop_nodes_and_subgraph_sizes(batch) -> None:
    for fn in (drop_nodes, subgraph):
        view = fn(batch, 0.2, _gen())
        assert _sizes(view) == [n - math.floor(n * 0.2) for n in _sizes(batch)]
        _check_consistent(view)


def test_subgraph_is_connected(batch) -> None:
    view = subgraph(batch, 0.4, _gen(3))
    for g in range(view.num_graphs):
        nodes = (view.batch == g).nonzero().flatten().tolist()
        if len(nodes) <= 1 or SMILES[g] == "[Na+].[Cl-]":
            continue
        adj = {u: set() for u in nodes}
        for u, v in view.edge_index.T.tolist():
            if u in adj:
                adj[u].add(v)
        seen, stack = {nodes[0]}, [nodes[0]]
        while stack:
            for v in adj[stack.pop()] - seen:
                seen.add(v)
                stack.append(v)
        assert seen == set(nodes), SMILES[g]


def test_drop_edges_removes_whole_bonds(batch) -> None:
    view = drop_edges(batch, 0.25, _gen())
    _check_consistent(view)
    pairs = set(map(tuple, view.edge_index.T.tolist()))
    assert all((v, u) in pairs for u, v in pairs)  # both directions kept or dropped together
    bonds_before = (batch.edge_ptr[1:] - batch.edge_ptr[:-1]) // 2
    bonds_after = (view.edge_ptr[1:] - view.edge_ptr[:-1]) // 2
    assert bonds_after.tolist() == [b - math.floor(b * 0.25) for b in bonds_before.tolist()]


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_every_augmentation_keeps_graph_order_and_validity(batch, name: str) -> None:
    view = AUGMENTATIONS[name](batch, 0.2, _gen())
    assert view.num_graphs == batch.num_graphs
    _check_consistent(view)
    with pytest.raises(ValueError, match="ratio"):
        AUGMENTATIONS[name](batch, 1.0, _gen())


def test_nt_xent_matches_a_loop_reference() -> None:
    torch.manual_seed(0)
    z1, z2 = torch.randn(5, 8), torch.randn(5, 8)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    losses = []
    for i in range(10):
        j = (i + 5) % 10
        logits = torch.stack([z[i] @ z[k] / 0.5 for k in range(10) if k != i])
        target = [k for k in range(10) if k != i].index(j)
        losses.append(-torch.log_softmax(logits, 0)[target])
    torch.testing.assert_close(nt_xent(z1, z2, 0.5), torch.stack(losses).mean())
    assert nt_xent(z1, z1, 0.1) < nt_xent(z1, z2, 0.1)  # identical views score better


def test_objectives_train_the_shared_encoder(batch) -> None:
    torch.manual_seed(0)
    encoder = HuEncoder(num_layer=2, emb_dim=32)
    objective = Combined(
        {"masking": AttributeMasking(encoder, mask_edges=True), "contrastive": GraphContrastive(encoder)},
        {"masking": 1.0, "contrastive": 0.5},
    )
    optimizer = torch.optim.Adam(objective.parameters(), lr=1e-2)
    first = None
    for step in range(30):
        out = objective(batch, _gen(step % 3))
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        first = first if first is not None else out["loss"].item()
    assert out["loss"].item() < first
    assert {"masking/atom_acc", "masking/bond_acc", "contrastive/contrastive_loss"} <= set(out)
    with pytest.raises(ValueError, match="share one encoder"):
        Combined({"a": AttributeMasking(encoder), "b": AttributeMasking(HuEncoder(num_layer=1))}, {"a": 1, "b": 1})


def test_scaled_cosine_error_matches_its_definition() -> None:
    pred, target = torch.randn(6, 5, generator=_gen()), torch.randn(6, 5, generator=_gen(1))
    cos = F.cosine_similarity(pred, target, dim=-1)
    torch.testing.assert_close(scaled_cosine_error(pred, target, 2.0), ((1 - cos) ** 2).mean())
    assert scaled_cosine_error(target, 3 * target).item() == pytest.approx(0.0, abs=1e-6)  # scale-free


def test_graphmae_decoder_never_sees_the_masked_atoms_own_representation(batch) -> None:
    """Re-masking: the decoder input at masked atoms is zero, so their encoder outputs cannot leak the answer."""
    torch.manual_seed(0)
    objective = GraphMAE(HuEncoder(num_layer=2, emb_dim=16), mask_rate=0.25)
    seen = {}

    def keep_input(_module, args) -> None:
        seen["z"] = args[0].detach()

    objective.decoder.register_forward_pre_hook(keep_input)
    out = objective(batch, _gen(3))
    masked = mask_atoms(batch, 0.25, False, _gen(3)).atom_index
    assert masked.numel() > 0 and (seen["z"][masked] == 0).all()
    unmasked = torch.ones(batch.num_nodes, dtype=torch.bool)
    unmasked[masked] = False
    assert (seen["z"][unmasked].abs().sum(-1) > 0).any()
    assert {"loss", "sce_loss", "atom_acc"} <= set(out) and 0 <= out["loss"].item() <= 2


def test_graphmae_and_descriptor_objectives_learn(batch) -> None:
    torch.manual_seed(0)
    encoder = HuEncoder(num_layer=2, emb_dim=32)
    targets = torch.randn(batch.num_graphs, 4, generator=_gen(5))
    targets[1, 2] = float("nan")  # a descriptor RDKit could not compute is skipped, not learned as 0
    labeled = GraphBatch(batch.x, batch.edge_index, batch.edge_attr, batch.batch, batch.ptr, batch.edge_ptr, targets)
    objective = Combined({"mae": GraphMAE(encoder), "desc": DescriptorPrediction(encoder, 4)}, {"mae": 1, "desc": 1})
    optimizer = torch.optim.Adam(objective.parameters(), lr=1e-2)
    history = []
    for step in range(60):
        out = objective(labeled, _gen(step % 3))
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        history.append(out["desc/descriptor_loss"].item())
    assert torch.isfinite(out["loss"]) and history[-1] < 0.2 * history[0]
    with pytest.raises(ValueError, match="4 descriptors per graph"):
        DescriptorPrediction(encoder, 4)(batch)
