"""Corpora (MOSES from the molsets wheel, ZINC250k, ChEMBL, mixtures) and the molecule file readers."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from rdkit import Chem

from gnnpt.datasets import iter_corpus, iter_molecules, load_corpus, read_molecules


def test_moses_reads_from_the_wheel_without_importing_moses() -> None:
    import importlib.util
    import sys

    if importlib.util.find_spec("moses") is None:
        pytest.skip("molsets is not installed (README test command installs it with --no-deps)")
    frame = load_corpus("moses", limit=1000)
    assert len(frame) == 1000 and (frame.source == "moses").all()
    assert frame.smiles.iloc[0] == "CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1"
    assert "moses" not in sys.modules


def test_named_corpora_and_mixtures(corpus_dir) -> None:
    zinc = load_corpus("zinc250k", data_dir=corpus_dir)
    assert len(zinc) == 249_456
    mix = load_corpus("chembl31_s4_mini_train+zinc250k", data_dir=corpus_dir)
    assert mix.source.value_counts().to_dict() == {"zinc250k": 249_456, "chembl31_s4_mini_train": 50_000}
    chunks = list(iter_corpus("chembl31_s4_valid", chunk_size=30_000, data_dir=corpus_dir))
    assert [len(c) for c in chunks] == [30_000, 30_000, 30_000, 10_000]
    with pytest.raises(FileNotFoundError, match="registered corpus"):
        load_corpus("zinc999")


def _write(path, text: str, gz: bool) -> None:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("gz", [False, True])
def test_csv_tsv_smi_with_crlf_and_blank_lines(tmp_path, gz: bool) -> None:
    suffix = ".gz" if gz else ""
    _write(tmp_path / f"a.csv{suffix}", "id,SMILES\r\n1,CCO\r\n\r\n2,C1CC\r\n3,c1ccccc1\r\n", gz)
    _write(tmp_path / f"a.tsv{suffix}", "smiles\tname\nCCO\tethanol\n\nCCN\tethylamine\n", gz)
    _write(tmp_path / f"a.smi{suffix}", "SMILES Name\nCCO ethanol\n\nC1CC broken ring\nCCN\n", gz)
    assert read_molecules(tmp_path / f"a.csv{suffix}")["smiles"].tolist() == ["CCO", "C1CC", "c1ccccc1"]
    assert read_molecules(tmp_path / f"a.tsv{suffix}")["name"].tolist() == ["ethanol", "ethylamine"]
    smi = read_molecules(tmp_path / f"a.smi{suffix}")
    assert smi["smiles"].tolist() == ["CCO", "C1CC", "CCN"]
    assert smi["name"].iloc[:2].tolist() == ["ethanol", "broken ring"] and pd.isna(smi["name"].iloc[2])


def test_header_only_empty_and_missing_column(tmp_path) -> None:
    (tmp_path / "h.csv").write_text("smiles,y\n")
    assert len(read_molecules(tmp_path / "h.csv")) == 0
    (tmp_path / "e.csv").write_text("")
    assert len(read_molecules(tmp_path / "e.csv")) == 0
    (tmp_path / "e.smi").write_text("")
    assert len(read_molecules(tmp_path / "e.smi")) == 0
    (tmp_path / "n.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="columns are"):
        read_molecules(tmp_path / "n.csv")
    (tmp_path / "n.xyz").write_text("x")
    with pytest.raises(ValueError, match="format"):
        read_molecules(tmp_path / "n.xyz")


@pytest.mark.parametrize("gz", [False, True])
def test_sdf_keeps_unreadable_records_as_rows(tmp_path, gz: bool) -> None:
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")) + "> <name>\nethanol\n\n$$$$\n"
    bad = "broken\n  junk\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\nnot an atom line\n$$$$\n"
    other = Chem.MolToMolBlock(Chem.MolFromSmiles("c1ccccc1")) + "$$$$\n"
    path = tmp_path / ("m.sdf.gz" if gz else "m.sdf")
    _write(path, good + bad + other, gz)
    frame = read_molecules(path)
    assert frame["smiles"].isna().tolist() == [False, True, False]
    assert frame["smiles"].iloc[[0, 2]].tolist() == ["CCO", "c1ccccc1"]
    assert frame["error"].notna().tolist() == [False, True, False]
    assert frame["name"].iloc[0] == "ethanol"


def test_parquet_and_chunked_iteration(tmp_path) -> None:
    frame = pd.DataFrame({"canonical_smiles": ["CCO", "CCN", "CCC", "CCCl", "CCBr"], "y": range(5)})
    frame.to_parquet(tmp_path / "m.parquet")
    chunks = list(iter_molecules(tmp_path / "m.parquet", chunk_size=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert pd.concat(chunks)["smiles"].tolist() == frame.canonical_smiles.tolist()
    frame.to_csv(tmp_path / "m.csv", index=False)
    assert [len(c) for c in iter_molecules(tmp_path / "m.csv", chunk_size=2)] == [2, 2, 1]
