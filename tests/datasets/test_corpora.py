"""Corpora: MOSES from the molsets wheel (installed, or a downloaded wheel), ZINC250k, ChEMBL, mixtures,
user files and directories; every named file verified."""

from __future__ import annotations

import gzip
import importlib.metadata
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from gnnpt.datasets import CORPORA, ChecksumError, corpus_path, iter_corpus, load_corpus
from gnnpt.datasets import corpora as corpora_module
from gnnpt.datasets.download import content_sha256

MOSES_FIRST = ["CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1", "CC(C)(C)C(=O)C(Oc1ccc(Cl)cc1)n1ccnc1"]


def _installed_moses() -> Path:
    try:
        path = Path(str(importlib.metadata.distribution("molsets").locate_file(CORPORA["moses"].member)))
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("molsets is not installed (the README's test command installs it with --no-deps)")
    return path


def test_moses_reads_the_installed_wheel_without_importing_moses() -> None:
    _installed_moses()
    frame = load_corpus("moses", limit=1000)
    assert len(frame) == 1000 and (frame.source == "moses").all()
    assert frame.smiles.iloc[:2].tolist() == MOSES_FIRST  # the `SMILES` header line is not a molecule
    assert "moses" not in sys.modules


def test_moses_falls_back_to_the_wheel_when_molsets_is_missing(empty_cache, monkeypatch) -> None:
    """No molsets installed: pip downloads the wheel (faked here) and the member is read from the zip."""
    member = _installed_moses()
    calls = []

    def no_distribution(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    def fake_pip(cmd, **kwargs):
        calls.append(cmd)
        wheel_dir = Path(cmd[cmd.index("-d") + 1])
        with zipfile.ZipFile(wheel_dir / "molsets-0.3.1-py3-none-any.whl", "w", zipfile.ZIP_STORED) as zf:
            zf.write(member, CORPORA["moses"].member)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(importlib.metadata, "distribution", no_distribution)
    monkeypatch.setattr(corpora_module.subprocess, "run", fake_pip)
    assert load_corpus("moses", limit=2).smiles.tolist() == MOSES_FIRST
    assert calls and calls[0][-1] == "molsets==0.3.1" and "--no-deps" in calls[0]
    cached = empty_cache / "data" / "moses_train.csv.gz"
    assert sorted(p.name for p in cached.parent.iterdir()) == [cached.name]  # the wheel is not kept
    assert load_corpus("moses", limit=2).smiles.tolist() == MOSES_FIRST and len(calls) == 1  # cache hit

    def failing_pip(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: no network")

    cached.unlink()
    monkeypatch.setattr(corpora_module.subprocess, "run", failing_pip)
    with pytest.raises(ConnectionError, match=re.escape("pip install --no-deps molsets==0.3.1")):
        load_corpus("moses", limit=2)


def test_named_corpora_counts_and_chunks(corpus_dir) -> None:
    sizes = [len(c) for c in iter_corpus("zinc250k", chunk_size=100_000, data_dir=corpus_dir)]
    assert sizes == [100_000, 100_000, 49_456]
    first = load_corpus("zinc250k", limit=3, data_dir=corpus_dir)
    assert first.smiles.tolist()[0] == "CC(C)(C)c1ccc2occ(CC(=O)Nc3ccccc3F)c2c1"
    chunks = list(iter_corpus("chembl31_s4_valid", chunk_size=30_000, data_dir=corpus_dir))
    assert [len(c) for c in chunks] == [30_000, 30_000, 30_000, 10_000]  # last line has no newline upstream
    with pytest.raises(FileNotFoundError, match="registered corpus"):
        load_corpus("zinc999")


def test_mixtures_carry_their_source(corpus_dir) -> None:
    mix = load_corpus("chembl31_s4_mini_train+zinc250k", data_dir=corpus_dir)
    assert mix.source.value_counts().to_dict() == {"zinc250k": 249_456, "chembl31_s4_mini_train": 50_000}
    assert mix.source.iloc[0] == "chembl31_s4_mini_train" and mix.source.iloc[-1] == "zinc250k"
    as_list = load_corpus(["zinc250k", "chembl31_s4_mini_train"], limit=249_460, data_dir=corpus_dir)
    assert as_list.source.value_counts().to_dict() == {"zinc250k": 249_456, "chembl31_s4_mini_train": 4}


def test_user_files_and_directories(tmp_path) -> None:
    folder = tmp_path / "a+b"  # a '+' in an existing path is not a mixture
    (folder / "sub").mkdir(parents=True)
    (folder / "one.smi").write_text("CCO ethanol\nCCN\n")
    (folder / "sub" / "two.csv.gz").write_bytes(gzip.compress(b"id,SMILES\n1,c1ccccc1\n"))
    (folder / "notes.md").write_text("not molecules")
    frame = load_corpus(str(folder))
    assert frame.smiles.tolist() == ["CCO", "CCN", "c1ccccc1"]
    assert frame.source.tolist() == [str(folder / "one.smi")] * 2 + [str(folder / "sub" / "two.csv.gz")]
    assert load_corpus(folder / "one.smi").smiles.tolist() == ["CCO", "CCN"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no molecule files"):
        load_corpus(tmp_path / "empty")


def test_chembl_download_extracts_the_zip_member(corpus_dir, tmp_path, empty_cache, monkeypatch) -> None:
    """Upstream ChEMBL slices are zips with one member: it is extracted, verified and cached gzipped."""
    spec = CORPORA["chembl31_s4_mini_train"]
    content = gzip.decompress((corpus_dir / spec.filename).read_bytes())
    with zipfile.ZipFile(tmp_path / "mini_train.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mini_train.txt", content)
    monkeypatch.setitem(CORPORA, spec.name, replace(spec, urls=((tmp_path / "mini_train.zip").as_uri(),)))
    path = corpus_path(spec.name)
    assert path == empty_cache / "data" / spec.filename and content_sha256(path) == spec.sha256
    assert len(load_corpus(spec.name)) == 50_000

    with zipfile.ZipFile(tmp_path / "mini_train.zip", "w") as zf:
        zf.writestr("mini_train.txt", content[:-100])
    path.unlink()
    with pytest.raises(ChecksumError, match=r"mini_train\.zip: content sha256"):
        corpus_path(spec.name)
