"""Named datasets: every mirror file verifies and loads with the MANIFEST's shape; bad copies are refused;
downloads (file:// and a 127.0.0.1 server, never the network) verify and land in the cache."""

from __future__ import annotations

import gzip
import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnnpt.datasets import CORPORA, DATASETS, ChecksumError, content_sha256, fetch, get_spec, list_datasets, load
from gnnpt.datasets.download import file_sha256

# rows and number of tasks, from shared/datasets/moleculenet/MANIFEST.md
EXPECTED = {
    "bbbp": (2050, 1), "tox21": (7831, 12), "toxcast": (8615, 617), "sider": (1427, 27), "clintox": (1484, 2),
    "hiv": (41127, 1), "muv": (93087, 17), "bace": (1513, 1), "esol": (1128, 1), "freesolv": (642, 1),
    "lipophilicity": (4200, 1),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_dataset_verifies_and_loads(name: str, moleculenet_dir) -> None:
    spec = get_spec(name)
    mirror = moleculenet_dir / spec.filename
    assert file_sha256(mirror) == spec.mirror_sha256  # the MANIFEST's sha256 of the .csv.gz
    assert content_sha256(mirror) == spec.sha256  # the rule a plain-CSV download is checked by
    ds = load(name, data_dir=moleculenet_dir)
    rows, tasks = EXPECTED[name]
    assert (spec.n_rows, spec.n_tasks) == (rows, tasks)
    assert len(ds) == rows and len(ds.smiles) == rows and len(ds.frame) == rows
    assert ds.targets.shape == (rows, tasks) and ds.targets.dtype == np.float32
    assert len(ds.task_names) == tasks and ds.task_type == spec.task_type and ds.spec is spec
    assert all(isinstance(s, str) and s == s.strip() for s in ds.smiles)


def test_registry_names_types_and_unknown_name() -> None:
    moleculenet = [get_spec(n) for n in list_datasets() if get_spec(n).collection == "moleculenet"]
    kinds = {s.name: s.task_type for s in moleculenet}
    assert sorted(n for n, k in kinds.items() if k == "classification") == sorted(
        ["bbbp", "tox21", "toxcast", "sider", "clintox", "muv", "hiv", "bace"]
    )
    assert sorted(n for n, k in kinds.items() if k == "regression") == ["esol", "freesolv", "lipophilicity"]
    assert {s.name: s.metric for s in moleculenet} == {n: "roc_auc" if k == "classification" else "rmse"
                                                       for n, k in kinds.items()}  # fmt: skip
    assert get_spec("BBBP").name == "bbbp"
    for spec in moleculenet:
        assert spec.filename == f"{spec.name}.csv.gz" and spec.mirror == "data"
        assert spec.urls[0].startswith("https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/")
        assert spec.urls[1].startswith("https://raw.githubusercontent.com/")
    with pytest.raises(KeyError, match="registered: bbbp, tox21"):
        get_spec("tox22")


def test_oddities_are_handled(moleculenet_dir) -> None:
    raw = gzip.decompress((moleculenet_dir / "hiv.csv.gz").read_bytes())
    assert raw.count(b"\r\n\n") == 41128  # header + rows, each followed by a blank line
    hiv = load("hiv", data_dir=moleculenet_dir)
    assert len(hiv) == 41127 and set(np.unique(hiv.targets)) == {0.0, 1.0}
    assert hiv.task_names == ["HIV_active"]  # `activity` is the raw class, not a task

    esol = load("esol", data_dir=moleculenet_dir)
    assert esol.frame["smiles"].str.endswith(" ").sum() == 212  # the raw frame keeps the file as is
    assert esol.task_names == ["measured log solubility in mols per litre"]
    assert esol.smiles[0] == "OCC3OC(OCC2OC(OC(C#N)c1ccccc1)C(O)C(O)C2O)C(O)C(O)C3O"

    tox21 = load("tox21", data_dir=moleculenet_dir)
    assert np.isnan(tox21.targets).mean() == pytest.approx(0.17, abs=0.01)
    toxcast = load("toxcast", data_dir=moleculenet_dir)
    header = list(toxcast.frame.columns)
    assert toxcast.task_names == header[1:] and header[0] == "smiles"
    assert toxcast.task_names[0] == "ACEA_T47D_80hr_Negative" and toxcast.task_names[-1] == "Tanguay_ZF_120hpf_YSE_up"
    clintox = load("clintox", data_dir=moleculenet_dir)
    assert clintox.smiles[0].startswith("*")  # kept as upstream has it: row 0 is not dropped


def test_bace_loads_with_the_upstream_mol_column(moleculenet_dir, tmp_path, monkeypatch) -> None:
    """Upstream names bace's SMILES column `mol`; a verified copy with that header loads the same."""
    content = gzip.decompress((moleculenet_dir / "bace.csv.gz").read_bytes())
    assert content.startswith(b"smiles,")
    renamed = b"mol," + content[len(b"smiles,") :]
    (tmp_path / "bace.csv.gz").write_bytes(gzip.compress(renamed))
    spec = get_spec("bace")
    with pytest.raises(ChecksumError):  # the registered checksum is of the `smiles` copy
        load("bace", data_dir=tmp_path)
    monkeypatch.setitem(DATASETS, "bace", replace(spec, sha256=hashlib.sha256(renamed).hexdigest()))
    upstream = load("bace", data_dir=tmp_path)
    assert "mol" in upstream.frame.columns and "smiles" not in upstream.frame.columns
    mirror = load("bace", data_dir=moleculenet_dir)
    assert upstream.smiles == mirror.smiles and np.array_equal(upstream.targets, mirror.targets)


def test_a_changed_byte_is_refused(moleculenet_dir, tmp_path) -> None:
    raw = gzip.decompress((moleculenet_dir / "bbbp.csv.gz").read_bytes())
    (tmp_path / "bbbp.csv.gz").write_bytes(gzip.compress(raw.replace(b"p_np", b"p_nq", 1)))
    spec = get_spec("bbbp")
    with pytest.raises(ChecksumError) as info:
        load("bbbp", data_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "bbbp.csv.gz") in message and spec.sha256 in message
    assert content_sha256(tmp_path / "bbbp.csv.gz") in message and "replace it" in message

    gz = bytearray((moleculenet_dir / "bbbp.csv.gz").read_bytes())
    gz[len(gz) // 2] ^= 0xFF  # a flipped byte inside the compressed stream
    (tmp_path / "bbbp.csv.gz").write_bytes(bytes(gz))
    with pytest.raises(ChecksumError, match="expected"):
        load("bbbp", data_dir=tmp_path)


def test_download_through_file_url_then_cache_hit(moleculenet_dir, tmp_path, empty_cache, monkeypatch) -> None:
    """A plain-CSV 'upstream' behind file:// verifies, is cached gzipped, and the next load needs no source."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "BBBP.csv").write_bytes(gzip.decompress((moleculenet_dir / "bbbp.csv.gz").read_bytes()))
    (upstream / "other.csv").write_bytes(b"smiles,p_np\nCCO,1\n")
    urls = ((upstream / "other.csv").as_uri(), (upstream / "BBBP.csv").as_uri())
    monkeypatch.setitem(DATASETS, "bbbp", replace(get_spec("bbbp"), urls=urls))

    first = load("bbbp")  # the first URL has other bytes and is skipped
    cached = empty_cache / "data" / "bbbp.csv.gz"
    assert cached.read_bytes()[:2] == b"\x1f\x8b" and content_sha256(cached) == get_spec("bbbp").sha256
    assert sorted(p.name for p in cached.parent.iterdir()) == ["bbbp.csv.gz"]  # no partial files left
    (upstream / "BBBP.csv").unlink()
    again = load("bbbp")  # served from the cache
    assert len(again) == len(first) == 2050 and again.smiles == first.smiles

    cached.write_bytes(gzip.compress(b"smiles,p_np\nCCO,1\n"))
    with pytest.raises(ChecksumError, match=r"bbbp\.csv\.gz"):  # a damaged cache file is refused too
        load("bbbp")


def test_fetch_over_http(moleculenet_dir, served, tmp_path) -> None:
    folder, base = served
    spec = get_spec("tox21")
    (folder / "tox21.csv.gz").write_bytes((moleculenet_dir / "tox21.csv.gz").read_bytes())
    (folder / "wrong.csv").write_bytes(b"smiles,NR-AR\nCCO,1\n")
    dest = tmp_path / "cache" / "tox21.csv.gz"

    with pytest.raises(ChecksumError, match=r"wrong\.csv: content sha256 is [0-9a-f]{64}, expected " + spec.sha256):
        fetch([base + "wrong.csv"], spec.sha256, dest)
    assert not dest.exists() and not list(dest.parent.iterdir())

    fetch([base + "missing.csv", base + "wrong.csv", base + "tox21.csv.gz"], spec.sha256, dest)
    assert file_sha256(dest) == spec.mirror_sha256  # a gzipped upstream is cached byte for byte

    with pytest.raises(ConnectionError, match=r"missing\.csv"):
        fetch([base + "missing.csv"], spec.sha256, tmp_path / "x.csv.gz")

    with zipfile.ZipFile(folder / "tox21.zip", "w") as zf:  # a zipped release: the member's content is checked
        zf.writestr("tox21.csv", gzip.decompress(dest.read_bytes()))
    zipped = fetch([base + "tox21.zip"], spec.sha256, tmp_path / "z" / "tox21.csv.gz", member="tox21.csv")
    assert pd.read_csv(zipped).shape == (7831, 14)


def test_dataset_cards_match_the_registry() -> None:
    """datasets/README.md has a card per dataset and corpus, with the registered checksums and sources."""
    cards = (Path(__file__).resolve().parents[2] / "datasets" / "README.md").read_text()
    for spec in DATASETS.values():
        assert f"### {spec.name}:" in cards and spec.sha256 in cards and spec.mirror_sha256 in cards
        assert spec.urls[0].rsplit("/", 1)[1] in cards and spec.urls[-1].split("/")[4] in cards  # file, repo
    for corpus in CORPORA.values():
        assert corpus.name in cards and corpus.sha256 in cards and corpus.stored_sha256 in cards
