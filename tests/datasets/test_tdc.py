"""The ten TDC ADMET classification sets: each verifies and loads from $GNNPT_TDC_DIR with its MANIFEST's rows,
labels, metric and checksums; de-duplication finds the MANIFEST's unique molecules and conflicts; bad copies are
refused and a plain .tab download verifies (file:// only, never the network)."""

from __future__ import annotations

import gzip
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gnnpt.datasets import DATASETS, ChecksumError, DedupReport, content_sha256, deduplicate, get_spec, load
from gnnpt.datasets.download import file_sha256

NAMES = [
    "hia_hou", "pgp_broccatelli", "bioavailability_ma", "bbb_martins", "cyp2c9_veith", "cyp2d6_veith",
    "cyp3a4_veith", "cyp2c9_substrate_carbonmangels", "cyp2d6_substrate_carbonmangels",
    "cyp3a4_substrate_carbonmangels",
]  # fmt: skip
PINNED = "https://raw.githubusercontent.com/ersilia-os/zeroshot-xgboost/c33334714c221fd771b06389ec8e14c7a1d6aa6c/data/"
METRICS = {"ROC-AUC": "roc_auc", "PR-AUC": "pr_auc"}


def _manifest(tdc_dir: Path) -> dict[str, dict]:
    """The MANIFEST's rows per file stem: raw rows, unique SMILES, conflicts, Y counts, metric, sha256 of the .gz."""
    text = (tdc_dir / "MANIFEST.md").read_text()
    rows = {}
    for m in re.finditer(r"^\| `(\w+)\.tab\.gz` \|[^|]+\| (\d+) \| (\d+) \| (\d+) \| 0: (\d+), 1: (\d+) \| ([\w-]+) \|",
                         text, re.M):  # fmt: skip
        name, raw, unique, conflicts, zeros, ones, metric = m.groups()
        rows[name] = {"raw": int(raw), "unique": int(unique), "conflicts": int(conflicts),
                      "y": (int(zeros), int(ones)), "metric": METRICS[metric]}  # fmt: skip
    for name, sha in re.findall(r"^\| `(\w+)\.tab\.gz` \| `([0-9a-f]{64})` \|", text, re.M):
        rows[name]["gz_sha256"] = sha
    return rows


@pytest.fixture(scope="module")
def manifest(tdc_dir) -> dict[str, dict]:
    return _manifest(tdc_dir)


def test_the_registry_has_the_ten_sets(manifest) -> None:
    assert sorted(manifest) == sorted(NAMES)
    assert sorted(n for n, s in DATASETS.items() if s.collection == "tdc") == sorted(NAMES)
    for name in NAMES:
        spec = get_spec(name)
        assert spec.filename == f"{name}.tab.gz" and spec.sep == "\t" and spec.mirror == "tdc"
        assert spec.urls == (PINNED + f"{name}.tab",)
        assert spec.smiles_columns == ("Drug",) and spec.tasks == ("Y",)
    with pytest.raises(ValueError, match="does not fit classification"):
        replace(get_spec("hia_hou"), metric="rmse")


@pytest.mark.parametrize("name", NAMES)
def test_each_set_loads_from_the_tdc_mirror_as_its_manifest_says(name, tdc_dir, manifest, monkeypatch) -> None:
    monkeypatch.setenv("GNNPT_TDC_DIR", str(tdc_dir))
    monkeypatch.delenv("GNNPT_DATA_DIR", raising=False)
    spec, expected = get_spec(name), manifest[name]
    mirror = tdc_dir / spec.filename
    assert file_sha256(mirror) == spec.mirror_sha256 == expected["gz_sha256"]
    assert content_sha256(mirror) == spec.sha256  # the rule the plain .tab at the pinned URL is checked by
    ds = load(name)  # no data_dir: found through $GNNPT_TDC_DIR
    rows = expected["raw"]
    assert spec.n_rows == len(ds) == len(ds.frame) == rows and ds.targets.shape == (rows, 1)
    assert ds.task_type == "classification" and spec.metric == expected["metric"] and ds.task_names == ["Y"]
    assert ((ds.targets == 0).sum(), (ds.targets == 1).sum()) == expected["y"]
    assert ds.smiles == ds.frame["Drug"].tolist()  # row-aligned with the file: no row dropped

    unique, report = deduplicate(ds)
    assert report.rows_in == rows and report.merged == rows - expected["unique"]
    assert report.conflicts == report.dropped == expected["conflicts"]  # one task: a conflict leaves no label
    assert len(unique) == report.rows_out == expected["unique"] - expected["conflicts"]


def test_bbb_martins_unique_molecules(tdc_dir) -> None:
    """The MANIFEST's 1,975 unique SMILES less the 10 whose rows disagree; every molecule left has a label."""
    unique, report = deduplicate(load("bbb_martins", data_dir=tdc_dir))
    assert report == DedupReport(rows_in=2039, rows_out=1975 - 10, merged=2039 - 1975, conflicts=10, dropped=10)
    assert len(set(unique.smiles)) == len(unique) == 1965 and not np.isnan(unique.targets).any()


def test_a_changed_byte_is_refused(tdc_dir, tmp_path, monkeypatch) -> None:
    raw = gzip.decompress((tdc_dir / "hia_hou.tab.gz").read_bytes())
    (tmp_path / "hia_hou.tab.gz").write_bytes(gzip.compress(raw.replace(b"\t1\n", b"\t0\n", 1)))
    with pytest.raises(ChecksumError, match=get_spec("hia_hou").sha256):
        load("hia_hou", data_dir=tmp_path)
    monkeypatch.setenv("GNNPT_TDC_DIR", str(tmp_path))  # a bad mirror is refused too, not passed over
    with pytest.raises(ChecksumError, match=r"hia_hou\.tab\.gz"):
        load("hia_hou")


def test_a_plain_tab_download_verifies_and_is_cached(tdc_dir, tmp_path, empty_cache, monkeypatch) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "hia_hou.tab").write_bytes(gzip.decompress((tdc_dir / "hia_hou.tab.gz").read_bytes()))
    monkeypatch.setitem(DATASETS, "hia_hou", replace(get_spec("hia_hou"), urls=((upstream / "hia_hou.tab").as_uri(),)))
    downloaded = load("hia_hou")
    cached = empty_cache / "data" / "hia_hou.tab.gz"
    assert content_sha256(cached) == get_spec("hia_hou").sha256
    mirror = load("hia_hou", data_dir=tdc_dir)
    assert downloaded.smiles == mirror.smiles and np.array_equal(downloaded.targets, mirror.targets)
