"""The local model store: versioned imports, list/show/export/rm, name resolution, and what it refuses."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
import torch

import gnnpt
from gnnpt.models.encoders import load_encoder, save_encoder
from gnnpt.models.finetuned import FinetunedModel, build_graph_model, load_finetuned
from gnnpt.models.hu2020 import load_hu2020_checkpoint
from gnnpt.models.packaged import packaged_dir
from gnnpt.models.store import RegistryError, export_model, import_model, list_models, remove, resolve, show, store_dir
from gnnpt.nn import HuEncoder


def _tiny_model(directory: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = FinetunedModel([build_graph_model(HuEncoder(num_layer=2, emb_dim=16), 2)], "classification", ["a", "b"])
    return model.save(directory)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return _tiny_model(tmp_path / "src" / "tiny")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _edit_card(directory: Path, **config: int) -> None:
    card = json.loads((directory / "card.json").read_text())
    card["encoder_config"].update(config)
    (directory / "card.json").write_text(json.dumps(card))


def test_store_location(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "env"))
    assert store_dir() == tmp_path / "env" and store_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("GNNPT_MODEL_DIR")
    assert store_dir() == Path(os.environ["GNNPT_CACHE_DIR"]) / "models"


def test_imports_add_versions_listed_and_shown(saved, root) -> None:
    first = import_model(saved, root=root)
    second = import_model(_tiny_model(saved.parent / "other", seed=1), name="tiny", root=root)
    assert (first.ref, second.ref) == ("tiny@v1", "tiny@v2")
    assert sorted(p.name for p in (root / "tiny" / "v2").iterdir()) == ["card.json", "model.safetensors"]
    entries = {e.ref: e for e in list_models(root)}
    assert not entries["tiny@v1"].latest and entries["tiny@v2"].latest
    assert entries["tiny@v2"].kind == "finetuned" and entries["tiny@v2"].tasks == ("a", "b")
    assert entries["tiny@v2"].architecture == "hu2020 gin 2x16" and entries["tiny@v2"].created
    assert entries["tox21-gnn"].shipped and entries["tox21-gnn"].version is None
    assert show("tiny", root=root)["registry"]["version"] == "v2"
    assert show("tiny@v1", root=root)["registry"]["imported_from"] == str(saved.resolve())
    assert show("tiny", version="1", root=root)["task_names"] == ["a", "b"]


def test_resolve_and_load_by_name(saved, root, monkeypatch) -> None:
    import_model(saved, root=root)
    import_model(saved, root=root)
    assert resolve("tiny@v1", root=root) == root / "tiny" / "v1"
    assert resolve("tiny", root=root) == root / "tiny" / "v2"
    assert resolve(saved, root=root) == saved and resolve("tox21-gnn", root=root).name == "tox21-gnn"
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(root))
    graphs = gnnpt.featurize(["CCO", "c1ccccc1O"]).gather([0, 1])
    expected = load_finetuned(saved).predict_graphs(graphs)
    assert torch.equal(gnnpt.load("tiny@v1").model.predict_graphs(graphs), expected)
    assert gnnpt.load("tiny").predict(["CCO"])[["a", "b"]].notna().all().all()


def test_unknown_names_say_what_exists(saved, root) -> None:
    import_model(saved, root=root)
    with pytest.raises(FileNotFoundError, match=r"nor in the model store .*tiny \(v1\)") as info:
        resolve("tinny", root=root)
    assert "tox21" in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"tiny has no version v3 .* it has v1"):
        resolve("tiny@v3", root=root)
    with pytest.raises(ValueError, match="expected v1, v2"):
        show("tiny@latest", root=root)


def test_export_and_remove(saved, root, tmp_path) -> None:
    import_model(saved, root=root)
    import_model(saved, root=root)
    out = export_model("tiny", tmp_path / "out", version="v1", root=root)
    assert load_finetuned(out).task_names == ["a", "b"] and json.loads((out / "card.json").read_text())["registry"]
    with pytest.raises(FileExistsError, match="not an empty directory"):
        export_model("tiny", out, root=root)
    assert remove("tiny@v1", root=root, dry_run=True) == [root / "tiny" / "v1"] and (root / "tiny" / "v1").exists()
    assert remove("tiny", version="v1", root=root) == [root / "tiny" / "v1"]
    assert [e.ref for e in list_models(root) if not e.shipped] == ["tiny@v2"]
    assert import_model(saved, root=root).ref == "tiny@v3"
    assert len(remove("tiny", root=root)) == 2 and not (root / "tiny").exists()
    with pytest.raises(RegistryError, match="shipped model"):
        remove("tox21-gnn", root=root)


def test_encoder_directory_import(tmp_path, root) -> None:
    enc_dir = save_encoder(HuEncoder(num_layer=2, emb_dim=8, gnn_type="gat"), tmp_path / "enc", {"name": "my enc"})
    entry = import_model(enc_dir, root=root)
    assert (entry.ref, entry.kind, entry.architecture, entry.tasks) == ("my_enc@v1", "encoder", "hu2020 gat 2x8", ())
    assert load_encoder(resolve("my_enc", root=root)).config()["gnn_type"] == "gat"


def test_half_precision_encoder_exports_in_the_published_layout(tmp_path, root) -> None:
    """A float16 encoder in the store exports as upstream's plain float32 state_dict: the 57 keys of a 5-layer GIN,
    in pretrain-gnns order, which the published-checkpoint loader reads back strictly."""
    torch.manual_seed(0)
    encoder = HuEncoder(num_layer=5, emb_dim=16)
    enc_dir = save_encoder(encoder, tmp_path / "enc", {"name": "half-gin"}, half=True)
    assert json.loads((enc_dir / "card.json").read_text())["dtype"] == "float16"
    import_model(enc_dir, root=root)
    pth = export_model("half-gin", tmp_path / "gin.pth", root=root, fmt="pth")
    state = torch.load(pth, weights_only=True)
    assert len(state) == 57 and list(state) == list(encoder.state_dict())
    assert all(v.dtype in (torch.float32, torch.int64) for v in state.values())
    back = load_hu2020_checkpoint(pth)
    for key, value in encoder.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value.half().to(value.dtype))
    with pytest.raises(FileExistsError):
        export_model("half-gin", pth, root=root, fmt="pth")
    with pytest.raises(RegistryError, match=r"not a Hu et al\. encoder"):
        export_model("tox21-gnn", tmp_path / "tox21.pth", root=root, fmt="pth")


@pytest.mark.parametrize("pickled", ["model.pt", "extra/state"])
def test_refuses_a_directory_with_a_pickle(saved, root, pickled) -> None:
    target = saved / pickled
    target.parent.mkdir(exist_ok=True)
    if pickled.endswith(".pt"):
        torch.save({"w": torch.zeros(2)}, target)
    else:
        target.write_bytes(pickle.dumps({"w": 1}, protocol=4))
    for call in (lambda: import_model(saved, root=root), lambda: resolve(saved, root=root)):
        with pytest.raises(RegistryError, match=f"contains {pickled}, a pickle-like file"):
            call()
    assert not (root / "tiny").exists()


def test_refuses_a_card_that_does_not_match_its_weights(saved, root, monkeypatch) -> None:
    _edit_card(saved, emb_dim=300)
    with pytest.raises(RegistryError, match="card says emb_dim 300 but the weights have 16"):
        import_model(saved, root=root)
    _edit_card(saved, emb_dim=16, num_layer=3)
    with pytest.raises(RegistryError, match="card says num_layer 3 but the weights have 2"):
        resolve(saved)
    good = import_model(_tiny_model(saved.parent / "good"), name="good", root=root)
    _edit_card(good.path, emb_dim=32)  # a store entry edited after import is refused too
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(root))
    with pytest.raises(RegistryError, match="card says emb_dim 32"):
        gnnpt.load("good")
    (good.path / "model.safetensors").write_bytes(pickle.dumps({"w": 1}, protocol=4))
    with pytest.raises(RegistryError, match="not a readable safetensors file"):
        resolve("good", root=root)


def _gzip_bomb(path: Path, megabytes: int) -> None:
    with gzip.open(path, "wb", compresslevel=9) as fh:
        block = bytes(1 << 20)
        for _ in range(megabytes):
            fh.write(block)


@pytest.mark.parametrize("forged_members", [False, True])
def test_refuses_a_tree_file_bomb_unread(root, tmp_path, forged_members) -> None:
    """A trees.json.gz of zeros is refused after counting at most its cap, holding none of it: the card's tree
    models (2 x 32 MiB for clintox) or, for a card forged to claim thousands of models, 64x the packed size."""
    bomb = shutil.copytree(packaged_dir() / "clintox", tmp_path / "bomb")
    _gzip_bomb(bomb / "trees.json.gz", 512)
    if forged_members:
        card = json.loads((bomb / "card.json").read_text())
        card["components"][0]["members"] = 10_000
        (bomb / "card.json").write_text(json.dumps(card))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(RegistryError, match=r"unpacks to more than .* \(a compression bomb\?\)"):
            import_model(bomb, root=root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 48 << 20, f"held {peak / 2**20:.0f} MiB while refusing a 512 MiB bomb"
    assert time.perf_counter() - start < 5
    assert not (root / "bomb").exists()


def test_refuses_bad_names(saved, root) -> None:
    with pytest.raises(RegistryError, match="shipped model"):
        import_model(saved, name="tox21-gnn", root=root)
    with pytest.raises(RegistryError, match="pass a name"):
        import_model(saved, name="../up", root=root)
    with pytest.raises(FileNotFoundError, match=r"neither a model directory nor a .pth file"):
        import_model(saved / "model.safetensors", root=root)


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pth_that_asks_to_run_code_is_refused_with_a_sentence(root, tmp_path, monkeypatch) -> None:
    """Issue 32, item 6: a malicious .pth answered with torch's raw UnpicklingError, which advises weights_only=False
    (running the file's code). The refusal names what the file asked for and never suggests loading it that way."""
    monkeypatch.chdir(tmp_path)
    torch.save({"x_embedding1.weight": torch.zeros(2, 2), "payload": _Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match=r"asks to call posix.system when unpickled\); gnnpt reads weights") as err:
        import_model(tmp_path / "evil.pth", root=root)
    assert "weights_only" not in str(err.value) and not (tmp_path / "pwned").exists()
    (tmp_path / "cut.pth").write_bytes((tmp_path / "evil.pth").read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        import_model(tmp_path / "cut.pth", root=root)


def _published(name: str) -> Path:
    folder = os.environ.get("GNNPT_CHECKPOINT_DIR")
    if not folder or not (Path(folder) / name).is_file():
        pytest.skip(f"{name} not found; set GNNPT_CHECKPOINT_DIR to the published Hu et al. checkpoints")
    return Path(folder) / name


def test_import_published_checkpoint_matches_direct_load(root, tmp_path) -> None:
    path = _published("gcn_contextpred.pth")
    entry = import_model(path, root=root)
    assert (entry.ref, entry.kind, entry.architecture) == ("gcn_contextpred@v1", "encoder", "hu2020 gcn 5x300")
    card = show("gcn_contextpred", root=root)
    assert card["source"]["file"] == "gcn_contextpred.pth" and len(card["source"]["sha256"]) == 64
    graphs = gnnpt.featurize(["CCO", "c1ccccc1O"]).gather([0, 1])
    stored, direct = load_encoder(resolve("gcn_contextpred", root=root)).eval(), load_hu2020_checkpoint(path).eval()
    with torch.no_grad():
        assert torch.equal(stored(graphs.x, graphs.edge_index, graphs.edge_attr),
                           direct(graphs.x, graphs.edge_index, graphs.edge_attr))  # fmt: skip
    assert import_model("hu2020:gcn_contextpred", root=root).ref == "gcn_contextpred@v2"
    unnamed = shutil.copyfile(path, tmp_path / "contextpred.pth")
    with pytest.raises(ValueError, match="gnn_type"):
        import_model(unnamed, root=root)
    assert import_model(unnamed, name="sage", gnn_type="graphsage", root=root).architecture == "hu2020 graphsage 5x300"
