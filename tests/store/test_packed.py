"""The packed store: gather == PyG batching, PyG round trips, select/concat, save/load and the cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

import gnnpt
from gnnpt.featurization.cache import cached_featurize
from gnnpt.store import PackedGraphs, load_packed, save_packed

SMILES = ["CCO", "C1CC", "c1ccccc1O", "[Na+].[Cl-]", "", "CC(=O)Nc1ccc(O)cc1", "F/C=C/F", "C"]


@pytest.fixture(scope="module")
def store() -> PackedGraphs:
    return gnnpt.featurize(SMILES)


def data_list(store: PackedGraphs, ids: list[int]) -> list[Data]:
    """One Data per graph, sliced straight from the flat arrays (the independent reference)."""
    out = []
    for i in ids:
        n0, n1 = store.node_ptr[i], store.node_ptr[i + 1]
        e0, e1 = store.edge_ptr[i], store.edge_ptr[i + 1]
        out.append(
            Data(
                x=store.x[n0:n1].long(),
                edge_index=store.edge_index[:, e0:e1].long(),
                edge_attr=store.edge_attr[e0:e1].long(),
                num_nodes=int(n1 - n0),
            )
        )
    return out


@pytest.mark.parametrize("ids", [[0, 2, 3, 5, 6, 7], [7, 5, 0], [6, 6, 2], [1, 4, 0]])
def test_gather_equals_pyg_batching(store: PackedGraphs, ids: list[int]) -> None:
    got = store.gather(ids)
    ref = Batch.from_data_list(data_list(store, ids))
    for name in ("x", "edge_index", "edge_attr", "batch", "ptr"):
        assert torch.equal(getattr(got, name), getattr(ref, name)), name
    assert got.num_graphs == len(ids)


def test_roundtrip_through_pyg_batch(store: PackedGraphs) -> None:
    ids = store.valid_ids
    pyg = store.to_pyg(ids)
    graphs = pyg.to_data_list()
    ref = data_list(store, ids.tolist())
    assert len(graphs) == len(ref)
    for a, b in zip(graphs, ref, strict=True):
        assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.edge_attr, b.edge_attr)
    back = PackedGraphs.from_pyg(Batch.from_data_list(ref))
    sub = store.select(ids)
    for name in ("x", "edge_index", "edge_attr", "node_ptr", "edge_ptr"):
        assert torch.equal(getattr(back, name), getattr(sub, name)), name
    from_list = PackedGraphs.from_pyg(ref)
    assert torch.equal(from_list.node_ptr, sub.node_ptr)


def test_from_pyg_refuses_features_it_would_change() -> None:
    """Float features used to be cast silently (0.7 -> 0); whole-number floats (e.g. from .float()) are kept."""
    edge_index = torch.tensor([[0, 1], [1, 0]])
    whole = Data(x=torch.tensor([[5.0, 0.0], [7.0, 1.0]]), edge_index=edge_index, edge_attr=torch.zeros(2, 2))
    assert PackedGraphs.from_pyg([whole]).x.tolist() == [[5, 0], [7, 1]]
    fractional = Data(x=torch.tensor([[0.7, 0.0], [1.0, 0.0]]), edge_index=edge_index, edge_attr=torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"x holds non-integer values \(e.g. 0.7\)"):
        PackedGraphs.from_pyg([fractional])
    wide = Data(x=torch.tensor([[40_000, 0], [1, 0]]), edge_index=edge_index, edge_attr=torch.tensor([[0.5, 0]] * 2))
    with pytest.raises(ValueError, match="x holds values outside the int16 range"):
        PackedGraphs.from_pyg([wide])
    with pytest.raises(ValueError, match="edge_attr holds non-integer"):
        PackedGraphs.from_pyg([Data(x=whole.x, edge_index=edge_index, edge_attr=torch.full((2, 2), 0.5))])


def test_select_and_concat(store: PackedGraphs) -> None:
    a, b = store.select([0, 1, 2]), store.select([3, 4, 5, 6, 7])
    assert [e.index for e in a.errors] == [1] and [e.index for e in b.errors] == [1]
    joined = PackedGraphs.concat([a, b])
    for name in ("x", "edge_index", "edge_attr", "node_ptr", "edge_ptr"):
        assert torch.equal(getattr(joined, name), getattr(store, name)), name
    assert joined.smiles == store.smiles and joined.errors == store.errors
    ogb = gnnpt.featurize(["CCO"], scheme="ogb")
    with pytest.raises(ValueError, match="different schemes"):
        PackedGraphs.concat([a, ogb])


def test_save_load_roundtrip_memory_mapped(store: PackedGraphs, tmp_path) -> None:
    path = save_packed(store, tmp_path / "store")
    loaded = load_packed(path)
    for name in ("x", "edge_index", "edge_attr", "node_ptr", "edge_ptr"):
        assert torch.equal(getattr(loaded, name), getattr(store, name)), name
    assert isinstance(np.load(path / "x.npy", mmap_mode="r"), np.memmap)
    assert loaded.smiles == store.smiles and loaded.errors == store.errors and loaded.scheme == "hu2020"
    assert torch.equal(loaded.gather([2, 5]).x, store.gather([2, 5]).x)
    with pytest.raises(FileNotFoundError, match="save_packed"):
        load_packed(tmp_path)


def test_cache_is_keyed_by_inputs_and_options(tmp_path, monkeypatch) -> None:
    first = cached_featurize(SMILES, cache_dir=tmp_path)
    entries = list(tmp_path.iterdir())
    assert len(entries) == 1

    def fail(*args, **kwargs):
        raise AssertionError("featurize must not run on a cache hit")

    monkeypatch.setattr("gnnpt.featurization.pipeline.featurize", fail)
    again = cached_featurize(SMILES, cache_dir=tmp_path)
    assert torch.equal(again.x, first.x) and again.errors == first.errors
    monkeypatch.undo()
    cached_featurize(SMILES, cache_dir=tmp_path, scheme="ogb")
    cached_featurize([*SMILES, "CCN"], cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 3


def test_to_device_keeps_contents(store: PackedGraphs) -> None:
    moved = store.to("cpu")
    assert torch.equal(moved.gather([0, 2]).edge_index, store.gather([0, 2]).edge_index)


@pytest.mark.gpu
def test_gather_on_gpu(store: PackedGraphs) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    gpu = store.to("cuda")
    got = gpu.gather(torch.tensor([0, 2, 5], device="cuda"))
    ref = store.gather([0, 2, 5])
    assert got.x.is_cuda and torch.equal(got.edge_index.cpu(), ref.edge_index)


def test_cache_defaults_to_gnnpt_cache_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GNNPT_CACHE_DIR", str(tmp_path))
    store = cached_featurize(["CCO", "C1CC"])
    assert len(store) == 2 and len(list((tmp_path / "stores").iterdir())) == 1


def test_select_with_repeated_ids_keeps_every_error(store: PackedGraphs) -> None:
    sub = store.select([1, 0, 1, 4])
    assert [(e.index, e.input) for e in sub.errors] == [(0, "C1CC"), (2, "C1CC"), (3, "")]
    assert sub.smiles == [None, "CCO", None, None] and sub.nodes_per_graph().tolist() == [0, 3, 0, 0]
