"""Molecule file readers: CSV, TSV, SMI, SDF, Parquet, plain and gzipped, whole and chunked."""

from __future__ import annotations

import gzip
import io

import pandas as pd
import pytest
from rdkit import Chem

from gnnpt.datasets import detect_format, iter_molecules, read_molecules
from gnnpt.datasets.readers import MoleculeFileError


def _write(path, data: bytes | str, gz: bool) -> None:
    raw = data.encode() if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw) if gz else raw)


def _sdf() -> str:
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("OCC")) + "> <name>\nethanol\n\n> <pIC50>\n6.5\n\n$$$$\n"
    bad = "broken\n  junk\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\nnot an atom line\n$$$$\n"
    other = "benzene" + Chem.MolToMolBlock(Chem.MolFromSmiles("c1ccccc1")) + "$$$$\n"
    return good + bad + other


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_every_format_plain_and_gzipped(tmp_path, gz: bool) -> None:
    sfx = ".gz" if gz else ""
    _write(tmp_path / f"a.csv{sfx}", "id,SMILES\r\n1, CCO \r\n\r\n2,C1CC\r\n3,c1ccccc1\r\n", gz)
    _write(tmp_path / f"a.tsv{sfx}", "smiles\tname\nCCO\tethanol\n\nCCN\tethylamine\n", gz)
    _write(tmp_path / f"a.smi{sfx}", "SMILES Name\r\nCCO ethanol\r\n\r\nC1CC broken ring\nCCN\n", gz)
    _write(tmp_path / f"b.smi{sfx}", "CCO\tethanol\nCCN\n", gz)  # no header
    _write(tmp_path / f"a.sdf{sfx}", _sdf(), gz)
    buf = io.BytesIO()
    pd.DataFrame({"canonical_smiles": ["CCO", "CCN"], "y": [1.0, 0.0]}).to_parquet(buf)
    _write(tmp_path / f"a.parquet{sfx}", buf.getvalue(), gz)

    csv = read_molecules(tmp_path / f"a.csv{sfx}")
    assert csv["smiles"].tolist() == ["CCO", "C1CC", "c1ccccc1"]  # CRLF, blank line, spaces stripped
    assert csv["id"].tolist() == [1, 2, 3]
    assert read_molecules(tmp_path / f"a.tsv{sfx}")["name"].tolist() == ["ethanol", "ethylamine"]
    smi = read_molecules(tmp_path / f"a.smi{sfx}")
    assert smi["smiles"].tolist() == ["CCO", "C1CC", "CCN"]
    assert smi["name"].tolist()[:2] == ["ethanol", "broken ring"] and pd.isna(smi["name"].iloc[2])
    assert read_molecules(tmp_path / f"b.smi{sfx}")["smiles"].tolist() == ["CCO", "CCN"]

    sdf = read_molecules(tmp_path / f"a.sdf{sfx}")  # the broken record stays a row, with its error
    assert sdf["smiles"].iloc[0] == "CCO" and pd.isna(sdf["smiles"].iloc[1]) and sdf["smiles"].iloc[2] == "c1ccccc1"
    assert sdf["error"].isna().tolist() == [True, False, True] and "record 1" in sdf["error"].iloc[1]
    assert sdf["name"].iloc[0] == "ethanol" and sdf["pIC50"].iloc[0] == 6.5 and sdf["title"].iloc[2] == "benzene"

    pq = read_molecules(tmp_path / f"a.parquet{sfx}")
    assert pq["smiles"].tolist() == ["CCO", "CCN"] and pq["y"].tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("name", "data", "size"),
    [
        ("c.csv", "smiles\n" + "C\n" * 5, 5),
        ("c.tsv", "x\tsmiles\n" + "1\tC\n" * 5, 5),
        ("c.smi", "C\n" * 5, 5),
        ("c.sdf", (Chem.MolToMolBlock(Chem.MolFromSmiles("C")) + "$$$$\n") * 5, 5),
    ],
)
def test_chunked_iteration(tmp_path, name: str, data: str, size: int) -> None:
    (tmp_path / name).write_text(data)
    chunks = list(read_molecules(tmp_path / name, chunk_size=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert pd.concat(chunks)["smiles"].tolist() == ["C"] * size


def test_parquet_chunks_and_detection_by_magic_bytes(tmp_path) -> None:
    frame = pd.DataFrame({"SMILES": ["CCO", "CCN", "CCC", "CCCl", "CCBr"], "y": range(5)})
    frame.to_parquet(tmp_path / "molecules.bin")
    assert detect_format(tmp_path / "molecules.bin") == "parquet"
    chunks = list(iter_molecules(tmp_path / "molecules.bin", chunk_size=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert pd.concat(chunks)["smiles"].tolist() == frame.SMILES.tolist()
    (tmp_path / "gz_without_suffix.csv").write_bytes(gzip.compress(b"smiles\nCCO\n"))  # gzip told by magic
    assert read_molecules(tmp_path / "gz_without_suffix.csv")["smiles"].tolist() == ["CCO"]


def test_a_gzipped_parquet_file_is_unpacked_a_block_at_a_time(tmp_path, monkeypatch) -> None:
    """Issue 32: a gzipped Parquet file was unpacked whole into memory before its first row was read."""
    frame = pd.DataFrame({"smiles": ["CCO", "CCN", "CCC"] * 1000, "id": range(3000)})
    buf = io.BytesIO()
    frame.to_parquet(buf)
    (tmp_path / "lib.parquet.gz").write_bytes(gzip.compress(buf.getvalue()))
    real = gzip.GzipFile.read

    def read(self, size=-1):
        assert size is not None and 0 <= size <= 1 << 20, f"read({size}): the whole gzip stream at once"
        return real(self, size)

    monkeypatch.setattr(gzip.GzipFile, "read", read)
    chunks = list(iter_molecules(tmp_path / "lib.parquet.gz", chunk_size=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 1000] and pd.concat(chunks)["id"].tolist() == list(range(3000))


def test_sdf_records_with_bad_counts_lines_are_their_rows_errors(tmp_path) -> None:
    """Issue 32: a counts line that is not numbers, claims 999,999 or 100 million atoms, is cut short or missing
    costs its record, never the read."""
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    v3000 = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"), forceV3000=True)
    counts = ["abcdefghijkl  0  0  0  0  0  0  0  0999 V2000", "999999  2  0  0  0  0  0  0  0  0999 V2000", " 3", "",
              " -3 -2  0  0  0  0  0  0  0  0999 V2000"]  # fmt: skip
    bad = ["\n".join([*good.split("\n")[:3], line, *good.split("\n")[4:]]) for line in counts]
    bad += [v3000.replace("COUNTS 3 2", "COUNTS 100000000 2"), v3000.replace("COUNTS 3 2", "COUNTS x y")]
    (tmp_path / "bad.sdf").write_text("".join(f"{record}$$$$\n" for record in [good, *bad, good]))
    sdf = read_molecules(tmp_path / "bad.sdf")
    assert sdf["smiles"].notna().tolist() == [True, *[False] * len(bad), True]
    assert all(f"SDF record {k} (0-based)" in sdf["error"][k] for k in range(1, len(bad) + 1))


def test_an_sdf_record_listing_more_atoms_than_the_limit_is_its_rows_error_unread(tmp_path) -> None:
    """Issue 32: readers count atoms from the text before any parse. The big record's bond block is broken, so a
    parse would say "could not be read": the limit's message shows RDKit never saw it."""
    from gnnpt.featurization.sdf import listed_heavy_atoms

    chain = Chem.AddHs(Chem.MolFromSmiles("C" * 12))  # 12 heavy atoms, 26 hydrogens listed beside them
    v2000, v3000 = Chem.MolToMolBlock(chain), Chem.MolToMolBlock(chain, forceV3000=True)
    for block in (v2000, v3000):
        assert listed_heavy_atoms(block.encode(), stop=100) == 12
        assert listed_heavy_atoms(block.encode(), stop=5) == 6  # counting ends past the limit
    assert listed_heavy_atoms(b"no\natom\nblock\n", stop=5) is None
    broken = v2000.replace("  1  2  1  0", "  1 99  1  0", 1)  # a bond to an atom that does not exist
    records = [
        Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")),
        broken,
        v3000,
        Chem.MolToMolBlock(Chem.MolFromSmiles("N")),
    ]
    (tmp_path / "big.sdf").write_text("".join(f"{record}$$$$\n" for record in records))
    assert read_molecules(tmp_path / "big.sdf")["error"].iloc[1].endswith("could not be read by RDKit")
    rows = pd.concat(iter_molecules(tmp_path / "big.sdf", max_atoms=10, chunk_size=3), ignore_index=True)
    assert rows["smiles"].tolist()[::3] == ["CCO", "N"] and rows["smiles"].iloc[1:3].isna().all()
    for k in (1, 2):
        assert rows["error"].iloc[k] == (f"SDF record {k} (0-based) lists more than max_atoms=10 heavy atoms (counted "
                                         "in its atom block, unread; raise max_atoms to accept it)")  # fmt: skip


def test_empty_header_only_and_bad_columns(tmp_path) -> None:
    (tmp_path / "h.csv").write_text("smiles,y\r\n")
    header_only = read_molecules(tmp_path / "h.csv")
    assert len(header_only) == 0 and list(header_only.columns)[:2] == ["smiles", "y"]
    for name in ("e.csv", "e.tsv", "e.smi", "e.sdf", "blank.csv"):  # used to read as "0 molecules, fine"
        (tmp_path / name).write_text("\n\n" if name.startswith("blank") else "")
        with pytest.raises(MoleculeFileError, match=f"{name} is empty: no header and no molecules"):
            read_molecules(tmp_path / name)
    (tmp_path / "e.csv.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(MoleculeFileError, match="is empty"):
        read_molecules(tmp_path / "e.csv.gz")

    (tmp_path / "n.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"no SMILES column.*\[.a., .b.\].*smiles_col in Python"):
        read_molecules(tmp_path / "n.csv")
    with pytest.raises(ValueError, match="column 'c' not found"):
        read_molecules(tmp_path / "n.csv", smiles_col="c")
    assert read_molecules(tmp_path / "n.csv", smiles_col="b")["smiles"].tolist() == ["2"]
    (tmp_path / "n.xyz").write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_molecules(tmp_path / "n.xyz")
    with pytest.raises(FileNotFoundError):
        read_molecules(tmp_path / "absent.csv")


def test_files_a_chemist_really_has(tmp_path) -> None:
    """Latin-1 names, semicolon-separated exports with decimal commas, a byte-order mark, a binary file."""
    (tmp_path / "latin1.csv").write_bytes("smiles,name\nCCO,éthanol\nc1ccccc1O,phénol\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="not UTF-8; reading it as Latin-1"):
        frame = read_molecules(tmp_path / "latin1.csv")
    assert frame["name"].tolist() == ["éthanol", "phénol"] and frame["smiles"].tolist() == ["CCO", "c1ccccc1O"]
    (tmp_path / "semicolon.csv").write_text("ID;SMILES;pIC50\nm1;CCO;5,2\nm2;CCN;6,1\n")
    frame = read_molecules(tmp_path / "semicolon.csv")
    assert frame["smiles"].tolist() == ["CCO", "CCN"] and frame["ID"].tolist() == ["m1", "m2"]
    (tmp_path / "bom.csv").write_bytes("\ufeffsmiles,id\nCCO,1\n".encode())
    assert list(read_molecules(tmp_path / "bom.csv").columns)[:2] == ["smiles", "id"]
    (tmp_path / "image.smi").write_bytes(bytes(range(256)) * 40)
    with pytest.raises(MoleculeFileError, match="binary file, not text"):
        read_molecules(tmp_path / "image.smi")
