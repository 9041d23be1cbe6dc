"""Named datasets: every mirror file verifies and loads with the MANIFEST's shape; bad copies are refused."""

from __future__ import annotations

import gzip
import http.server
import shutil
import threading
from functools import partial

import numpy as np
import pytest

from gnnpt.datasets import ChecksumError, fetch, get_spec, list_datasets, load
from gnnpt.datasets.download import content_sha256

# rows and number of tasks, from ../shared/datasets/moleculenet/MANIFEST.md
EXPECTED = {
    "bbbp": (2050, 1), "tox21": (7831, 12), "toxcast": (8615, 617), "sider": (1427, 27), "clintox": (1484, 2),
    "hiv": (41127, 1), "muv": (93087, 17), "bace": (1513, 1), "esol": (1128, 1), "freesolv": (642, 1),
    "lipophilicity": (4200, 1),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_dataset_verifies_and_loads(name: str, moleculenet_dir) -> None:
    ds = load(name, data_dir=moleculenet_dir)
    rows, tasks = EXPECTED[name]
    assert len(ds) == rows and len(ds.smiles) == rows
    assert ds.targets.shape == (rows, tasks) and len(ds.task_names) == tasks
    assert all(s == s.strip() for s in ds.smiles)


def test_registry_lists_the_eight_classification_sets_and_three_regression_sets() -> None:
    kinds = {n: get_spec(n).task_type for n in list_datasets()}
    assert sorted(n for n, k in kinds.items() if k == "classification") == sorted(
        ["bbbp", "tox21", "toxcast", "sider", "clintox", "muv", "hiv", "bace"]
    )
    with pytest.raises(KeyError, match="registered"):
        get_spec("tox22")


def test_oddities(moleculenet_dir) -> None:
    hiv = load("hiv", data_dir=moleculenet_dir)  # CRLF line endings followed by blank lines
    assert len(hiv) == 41127 and set(np.unique(hiv.targets)) == {0.0, 1.0}
    tox21 = load("tox21", data_dir=moleculenet_dir)
    assert np.isnan(tox21.targets).mean() == pytest.approx(0.17, abs=0.01)
    esol = load("esol", data_dir=moleculenet_dir)  # trailing spaces are stripped
    assert esol.task_names == ["measured log solubility in mols per litre"]


def test_bace_accepts_the_upstream_mol_column(moleculenet_dir, tmp_path) -> None:
    import pandas as pd

    frame = pd.read_csv(moleculenet_dir / "bace.csv.gz").rename(columns={"smiles": "mol"})
    from gnnpt.datasets.labeled import find_smiles_column

    assert find_smiles_column(list(frame.columns), get_spec("bace").smiles_columns) == "mol"


def test_a_changed_byte_is_refused(moleculenet_dir, tmp_path) -> None:
    raw = gzip.decompress((moleculenet_dir / "bbbp.csv.gz").read_bytes())
    broken = raw.replace(b"p_np", b"p_nq", 1)
    (tmp_path / "bbbp.csv.gz").write_bytes(gzip.compress(broken))
    with pytest.raises(ChecksumError, match="expected"):
        load("bbbp", data_dir=tmp_path)


def test_download_verifies_and_caches(moleculenet_dir, tmp_path, monkeypatch) -> None:
    """A plain-CSV 'upstream' served on 127.0.0.1: verified on download, then read from the cache."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "BBBP.csv").write_bytes(gzip.decompress((moleculenet_dir / "bbbp.csv.gz").read_bytes()))
    (served / "wrong.csv").write_bytes(b"smiles,p_np\nCCO,1\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        spec = get_spec("bbbp")
        dest = tmp_path / "cache" / "bbbp.csv.gz"
        with pytest.raises(ChecksumError, match=r"wrong\.csv"):
            fetch([base + "wrong.csv"], spec.sha256, dest)
        assert not dest.exists()
        fetch([base + "wrong.csv", base + "BBBP.csv"], spec.sha256, dest)  # falls through to the good copy
        assert content_sha256(dest) == spec.sha256
        with pytest.raises(ConnectionError, match="mirror"):
            fetch(["http://127.0.0.1:9/nothing.csv"], spec.sha256, tmp_path / "x.csv.gz")
    finally:
        server.shutdown()
    monkeypatch.setenv("GNNPT_CACHE_DIR", str(tmp_path / "cache-root"))
    monkeypatch.delenv("GNNPT_DATA_DIR", raising=False)
    (tmp_path / "cache-root" / "data").mkdir(parents=True)
    shutil.copy(dest, tmp_path / "cache-root" / "data" / "bbbp.csv.gz")
    assert len(load("bbbp")) == 2050  # served from the cache, no network
