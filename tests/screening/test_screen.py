"""Batch screening: one output row per input row in input order, any input format, selections, and resume."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

import gnnpt
from gnnpt.screening import Filter, errors_path, progress_path, screen
from gnnpt.screening.inputs import estimate_rows
from gnnpt.screening.sink import ResultSink

VALID = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1O", "CCCCCCCCCC", "c1ccncc1",
         "ClCCl", "CC(C)O", "NCCO", "OC(=O)CCC(=O)O", "c1ccc2ccccc2c1"]  # fmt: skip
INVALID = ["bad(", "C1CC", "", "Xx"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: fast on a busy machine, and the same float rounding in every run here (the subprocess too)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model():
    return gnnpt.load()


@pytest.fixture(scope="module")
def tasks(model) -> list[str]:
    return model.model.output_names()


def columns_of(tasks: list[str], carried: tuple[str, ...] = ("name",)) -> list[str]:
    """A screening output's columns: row, the input's own columns, then what Predictor.predict returns."""
    return ["row", *carried, "smiles", "canonical_smiles", *tasks, "max_similarity", "in_domain", "error"]


def write_csv(path, smiles, newline="\n") -> None:
    lines = ["smiles,name", *(f"{s},mol{i}" for i, s in enumerate(smiles))]
    path.write_bytes((newline.join(lines) + newline).encode())


def check_aligned(frame: pd.DataFrame, smiles: list[str], tasks: list[str]) -> None:
    """Row i is input i; invalid rows keep their input and error, valid ones have scores and canonical SMILES."""
    assert frame["row"].tolist() == list(range(len(smiles)))
    assert frame["smiles"].fillna("").tolist() == smiles
    invalid = np.array([s in INVALID for s in smiles], dtype=bool)
    assert frame["error"].notna().to_numpy().tolist() == invalid.tolist()
    assert frame["canonical_smiles"].isna().to_numpy().tolist() == invalid.tolist()
    assert frame.loc[invalid, tasks].isna().all().all() and frame.loc[~invalid, tasks].notna().all().all()


def scores_equal(a: pd.DataFrame, b: pd.DataFrame, tasks: list[str]) -> None:
    """Same rows and texts exactly; scores equal up to float32 rounding (batching changes the last bit)."""
    other = [c for c in a.columns if c not in tasks]
    pd.testing.assert_frame_equal(a[other], b[other])
    np.testing.assert_allclose(a[tasks].to_numpy(), b[tasks].to_numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "smiles",
    [
        ["bad(", *VALID[:5]],
        [*VALID[:5], "C1CC"],
        ["bad(", "", "Xx", "C1CC"],
        [VALID[0], "bad(", VALID[1], "", VALID[2], "Xx"],
    ],
    ids=["invalid-first", "invalid-last", "all-invalid", "interleaved"],
)
def test_every_row_kept_in_order_with_its_error(tmp_path, model, tasks, smiles) -> None:
    write_csv(tmp_path / "in.csv", smiles)
    summary = screen(tmp_path / "in.csv", model, tmp_path / "out.csv", chunk_size=2, progress=False, precision="fp32")
    frame = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""])
    assert list(frame.columns) == columns_of(tasks)
    check_aligned(frame, smiles, tasks)
    n_bad = sum(s in INVALID for s in smiles)
    assert (summary.rows, summary.invalid, summary.scored, summary.written) == (len(smiles), n_bad, len(smiles) - n_bad,
                                                                                  len(smiles))  # fmt: skip
    assert summary.errors_file is None and not progress_path(tmp_path / "out.csv").exists()
    expected = model.predict(smiles)
    np.testing.assert_allclose(frame[tasks].to_numpy(), expected[tasks].to_numpy(), atol=1e-6)
    if "bad(" in smiles:
        assert frame["error"][smiles.index("bad(")].startswith("unparsable: ")


def test_bf16_scores_stay_close_to_fp32(tmp_path, model, tasks) -> None:
    write_csv(tmp_path / "in.csv", VALID)
    screen(tmp_path / "in.csv", model, tmp_path / "exact.csv", progress=False, precision="fp32")
    out = tmp_path / "fast.csv"
    screen(tmp_path / "in.csv", model, out, progress=False, precision="bf16")
    exact, fast = pd.read_csv(tmp_path / "exact.csv"), pd.read_csv(out)
    # bf16 keeps 8 bits of mantissa: the default model's probabilities move by up to 0.026 over 100k molecules
    np.testing.assert_allclose(fast[tasks].to_numpy(), exact[tasks].to_numpy(), rtol=0, atol=0.03)
    assert not np.array_equal(fast[tasks].to_numpy(), exact[tasks].to_numpy())  # bf16 did run
    with pytest.raises(ValueError, match="unknown precision"):
        screen(tmp_path / "in.csv", model, out, progress=False, precision="fp16")


def test_a_10_mb_smiles_is_its_rows_error_counted_not_parsed(tmp_path, model, tasks) -> None:
    """A 10 MB SMILES cost 94-185 s and 3.6 GB in RDKit before its row said "too many atoms" (issue 32): its atoms
    are counted from the text, the other rows are scored."""
    write_csv(tmp_path / "in.csv", [VALID[0], "C" * 10_000_000, VALID[1]])
    screen(tmp_path / "in.csv", model, tmp_path / "out.csv", progress=False, precision="fp32")
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["error"].isna().tolist() == [True, False, True] and out.loc[[0, 2], tasks].notna().all().all()
    assert out["error"][1].startswith("too many atoms: more than max_atoms=1000 heavy atoms (counted in the SMILES")


def test_duplicates_kept_and_canonicalized(tmp_path, model, tasks) -> None:
    smiles = ["CCO", "OCC", "CCO", "c1ccccc1O", "Oc1ccccc1"]
    write_csv(tmp_path / "in.csv", smiles)
    screen(tmp_path / "in.csv", model, tmp_path / "out.csv", progress=False, precision="fp32")
    frame = pd.read_csv(tmp_path / "out.csv")
    assert frame["smiles"].tolist() == smiles
    assert frame["canonical_smiles"].tolist() == ["CCO", "CCO", "CCO", "Oc1ccccc1", "Oc1ccccc1"]
    # equal up to float32 rounding: matrix kernels may round a row differently by its position in the batch
    np.testing.assert_allclose(frame.loc[0, tasks].to_numpy(float), frame.loc[2, tasks].to_numpy(float), rtol=1e-6)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_empty_and_header_only_inputs_give_just_the_header(tmp_path, model, tasks, suffix) -> None:
    columns = columns_of(tasks)
    (tmp_path / "empty.csv").write_text("")  # no header either: an error that says so, not "0 rows, success"
    with pytest.raises(ValueError, match=r"empty\.csv is empty: no header and no molecules"):
        screen(tmp_path / "empty.csv", model, tmp_path / f"empty.out{suffix}", progress=False)
    for name, text in (("header.csv", "smiles,name\n"),):
        (tmp_path / name).write_text(text)
        out = tmp_path / f"{name}.out{suffix}"
        summary = screen(tmp_path / name, model, out, progress=False)
        assert summary.rows == 0 and summary.written == 0
        if suffix == ".csv":
            assert out.read_text().splitlines() == [",".join(columns)]
        else:
            table = pq.read_table(out)
            assert table.num_rows == 0 and table.column_names == columns


def test_input_formats_give_the_same_output(tmp_path, model, tasks) -> None:
    smiles = [VALID[0], "bad(", *VALID[1:6], "C1CC", VALID[6]]
    write_csv(tmp_path / "lf.csv", smiles)
    write_csv(tmp_path / "crlf.csv", smiles, newline="\r\n")
    with gzip.open(tmp_path / "crlf.csv.gz", "wb") as fh:
        fh.write((tmp_path / "crlf.csv").read_bytes())
    (tmp_path / "in.smi").write_text("".join(f"{s} mol{i}\n" for i, s in enumerate(smiles)))
    names = [f"mol{i}" for i in range(len(smiles))]  # the same "name" column in every format: the same output
    pd.DataFrame({"SMILES": smiles, "name": names}).to_parquet(tmp_path / "in.parquet")
    screen(tmp_path / "lf.csv", model, tmp_path / "ref.csv", progress=False)
    reference = (tmp_path / "ref.csv").read_bytes()
    for name in ("crlf.csv", "crlf.csv.gz", "in.smi", "in.parquet"):
        screen(tmp_path / name, model, tmp_path / f"{name}.csv", progress=False)
        assert (tmp_path / f"{name}.csv").read_bytes() == reference, name
    assert estimate_rows(tmp_path / "crlf.csv.gz") == len(smiles) and estimate_rows(tmp_path / "in.parquet") == 9


def test_sdf_records_rdkit_cannot_read_keep_their_place(tmp_path, model) -> None:
    from rdkit import Chem

    blocks = [Chem.MolToMolBlock(Chem.MolFromSmiles(s)) + "$$$$\n" for s in ("CCO", "c1ccccc1O")]
    pentavalent = Chem.MolToMolBlock(Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False), kekulize=False)
    (tmp_path / "in.sdf").write_text(blocks[0] + pentavalent + "$$$$\n" + blocks[1])
    screen(tmp_path / "in.sdf", model, tmp_path / "out.csv", progress=False)
    frame = pd.read_csv(tmp_path / "out.csv")
    assert frame["row"].tolist() == [0, 1, 2] and frame["error"].notna().tolist() == [False, True, False]
    assert frame["error"][1].startswith("unparsable: SDF record 1")
    (tmp_path / "ok.sdf").write_text(blocks[0] + blocks[1])  # every record readable (failed with pandas 3's CoW)
    screen(tmp_path / "ok.sdf", model, tmp_path / "ok.csv", progress=False)
    ok = pd.read_csv(tmp_path / "ok.csv")
    assert ok["row"].tolist() == [0, 1] and ok["error"].isna().all() and ok["NR-AR"].between(0, 1).all()


def test_the_users_columns_are_carried_through_as_written(tmp_path, model, tasks) -> None:
    smiles = ["CCO", "bad(", "c1ccccc1O"]
    frame = pd.DataFrame({"compound_id": ["007", "008", "009"], "SMILES": smiles, "NR-AR": ["1", "", "0"],
                          "note": ["a", "b", None]})  # fmt: skip
    frame.to_csv(tmp_path / "lib.csv", index=False)
    screen(tmp_path / "lib.csv", model, tmp_path / "out.csv", progress=False)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    # the label column shares a name with an output: it is carried as input_NR-AR, the score keeps NR-AR
    assert list(out.columns) == columns_of(tasks, ("compound_id", "input_NR-AR", "note"))
    assert out["compound_id"].tolist() == ["007", "008", "009"]  # IDs as written, leading zeros kept
    assert out["input_NR-AR"].tolist() == ["1", "", "0"] and out["note"].tolist() == ["a", "b", ""]
    assert out["in_domain"].tolist()[::2] == ["True", "True"] and float(out["max_similarity"][0]) > 0.35
    assert out["in_domain"][1] == "" and out["error"][1].startswith("unparsable")
    screen(tmp_path / "lib.csv", model, tmp_path / "some.parquet", keep_columns=["compound_id"], progress=False)
    some = pd.read_parquet(tmp_path / "some.parquet")
    assert list(some.columns) == columns_of(tasks, ("compound_id",)) and some["compound_id"].tolist()[0] == "007"
    assert str(pq.read_table(tmp_path / "some.parquet").schema.field("in_domain").type) == "bool"
    screen(tmp_path / "lib.csv", model, tmp_path / "none.csv", keep_columns=[], progress=False)
    assert list(pd.read_csv(tmp_path / "none.csv").columns) == columns_of(tasks, ())
    with pytest.raises(ValueError, match=r"\['ID'\] to keep are not in lib.csv; its columns are \['compound_id'"):
        screen(tmp_path / "lib.csv", model, tmp_path / "x.csv", keep_columns=["ID"], progress=False)


def test_sdf_titles_and_properties_are_columns(tmp_path, model, tasks) -> None:
    from rdkit import Chem

    writer_path = tmp_path / "in.sdf"
    with Chem.SDWriter(str(writer_path)) as writer:
        for i, smi in enumerate(["CCO", "c1ccccc1O", "CCN"]):
            mol = Chem.MolFromSmiles(smi)
            mol.SetProp("_Name", f"cpd-{i}")
            if i != 1:  # a tag that one record lacks is empty there
                mol.SetProp("vendor_id", f"V{i:03d}")
            mol.SetProp("ID", f"{i:05d}")  # as written: 00000 was 0 (issue 32, item 7)
            mol.SetProp("dose", "1.50")
            writer.write(mol)
    screen(writer_path, model, tmp_path / "out.csv", progress=False)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(out.columns) == columns_of(tasks, ("title", "vendor_id", "ID", "dose"))
    assert out["title"].tolist() == ["cpd-0", "cpd-1", "cpd-2"] and out["vendor_id"].tolist() == ["V000", "", "V002"]
    assert out["ID"].tolist() == ["00000", "00001", "00002"] and out["dose"].tolist() == ["1.50"] * 3
    screen(writer_path, model, tmp_path / "out.parquet", progress=False)
    assert pd.read_parquet(tmp_path / "out.parquet")["ID"].tolist() == ["00000", "00001", "00002"]


def test_parquet_integer_ids_stay_as_written(tmp_path, model) -> None:
    """An integer ID column with a missing value is float to pandas: 7 became 7.0 (issue 32, item 7)."""
    frame = pd.DataFrame({"smiles": ["CCO", "c1ccccc1O", "CCN"], "ID": pd.array([7, None, 9], "Int64")})
    frame.to_parquet(tmp_path / "in.parquet")
    screen(tmp_path / "in.parquet", model, tmp_path / "out.csv", progress=False)
    assert pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)["ID"].tolist() == ["7", "", "9"]


def test_the_same_molecule_scores_the_same_in_the_notebook_and_in_screen(tmp_path, model, tasks) -> None:
    smiles = [*VALID[:6], "bad("]
    write_csv(tmp_path / "in.csv", smiles)
    screen(tmp_path / "in.csv", model, tmp_path / "out.parquet", progress=False)
    screened = pd.read_parquet(tmp_path / "out.parquet").drop(columns=["row", "name"])
    notebook = model.predict(smiles)
    assert list(screened.columns) == list(notebook.columns)
    numbers = [*tasks, "max_similarity"]
    np.testing.assert_allclose(screened[numbers].to_numpy(float), notebook[numbers].to_numpy(float), atol=1e-6)
    for column in ("smiles", "canonical_smiles", "in_domain", "error"):  # None in one, NaN in the other: both empty
        assert [None if pd.isna(v) else v for v in screened[column]] == [
            None if pd.isna(v) else v for v in notebook[column]
        ], column


def test_chunking_workers_and_output_formats_agree(tmp_path, model, tasks) -> None:
    smiles = [*VALID[:4], "bad(", *VALID[4:9], "", VALID[9]]
    write_csv(tmp_path / "in.csv", smiles)
    screen(tmp_path / "in.csv", model, tmp_path / "one.csv", chunk_size=100, progress=False)
    screen(tmp_path / "in.csv", model, tmp_path / "three.csv", chunk_size=3, progress=False)
    screen(tmp_path / "in.csv", model, tmp_path / "workers.csv", chunk_size=3, workers=2, progress=False)
    screen(tmp_path / "in.csv", model, tmp_path / "three.csv.gz", chunk_size=3, progress=False)
    screen(tmp_path / "in.csv", model, tmp_path / "three.parquet", chunk_size=3, progress=False)
    three = (tmp_path / "three.csv").read_bytes()
    assert (tmp_path / "workers.csv").read_bytes() == three
    assert gzip.decompress((tmp_path / "three.csv.gz").read_bytes()) == three
    scores_equal(pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "three.csv"), tasks)
    table = pq.read_table(tmp_path / "three.parquet")
    assert (
        pq.ParquetFile(tmp_path / "three.parquet").num_row_groups == 4
        and str(table.schema.field(tasks[0]).type) == "float"
    )
    from_parquet, from_csv = table.to_pandas(), pd.read_csv(tmp_path / "three.csv")
    for frame in (from_parquet, from_csv):  # a nullable boolean: None in Parquet, an empty cell (NaN) in CSV
        frame["in_domain"] = frame["in_domain"].astype("boolean")
    pd.testing.assert_frame_equal(from_parquet, from_csv, check_dtype=False)
    assert not (tmp_path / "three.parquet.parts").exists()


class Crash(Exception):
    """Stands in for the process dying."""


def crash_after(monkeypatch, chunks: int) -> None:
    """Make the next run die after ``chunks`` committed chunks."""
    real, seen = ResultSink.add, []

    def add(self, frame):
        if len(seen) == chunks:
            raise Crash
        seen.append(len(frame))
        real(self, frame)

    monkeypatch.setattr(ResultSink, "add", add)


SELECTIONS = {"all": {}, "top-k+filter": {"top_k": 4, "sort_by": "NR-AhR", "filters": ["SR-MMP>=0.001"]}}


@pytest.mark.parametrize("selection", list(SELECTIONS))
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, monkeypatch, model, suffix, selection) -> None:
    smiles = [*VALID[:4], "bad(", *VALID[4:9], "", VALID[9]]
    write_csv(tmp_path / "in.csv", smiles)
    options = {"chunk_size": 3, "progress": False, **SELECTIONS[selection]}
    full, out = tmp_path / f"full{suffix}", tmp_path / f"out{suffix}"
    screen(tmp_path / "in.csv", model, full, **options)
    crash_after(monkeypatch, 2)
    with pytest.raises(Crash):
        screen(tmp_path / "in.csv", model, out, **options)
    monkeypatch.undo()
    assert progress_path(out).exists()
    if suffix == ".parquet":  # debris a kill leaves: an uncommitted part and a half-written temporary
        parts = tmp_path / "out.parquet.parts"
        (parts / "part-000009.parquet").write_bytes(b"PAR1 half")
        (parts / "part-000010.parquet.tmp").write_bytes(b"PAR1")
    else:  # a half-appended chunk
        with open(out, "ab") as fh:
            fh.write(b"11,NCCO,NCC")
    summary = screen(tmp_path / "in.csv", model, out, resume=True, **options)
    assert summary.resumed_rows == 6 and summary.rows == len(smiles) and summary.invalid == 2
    if suffix == ".parquet":
        assert pq.read_table(out).equals(pq.read_table(full))
    else:
        assert out.read_bytes() == full.read_bytes()
    if selection != "all":
        assert errors_path(out).read_bytes() == errors_path(full).read_bytes()
    assert not progress_path(out).exists() and not list(tmp_path.glob("*.topk-*"))


def test_resume_after_kill_9(tmp_path, model) -> None:
    """A real SIGKILL half-way through writing the third chunk, then --resume."""
    smiles = [*VALID[:4], "bad(", *VALID[4:9], "", VALID[9]]
    write_csv(tmp_path / "in.csv", smiles)
    script = textwrap.dedent(
        """
        import os, signal, sys
        from gnnpt.screening import screen, writers
        real, calls = writers.CsvOutput._append, []
        def append(self, data):
            calls.append(1)
            if len(calls) == 4:  # the header and two chunks are on disk; die half-way through the third
                self._fh.write(data[: len(data) // 2])
                self._fh.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            real(self, data)
        writers.CsvOutput._append = append
        screen(sys.argv[1], None, sys.argv[2], chunk_size=3, progress=False)
        """
    )
    out = tmp_path / "out.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-c", script, str(tmp_path / "in.csv"), str(out)]
    proc = subprocess.run(args, capture_output=True, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    screen(tmp_path / "in.csv", model, tmp_path / "full.csv", chunk_size=3, progress=False)
    assert out.stat().st_size > 0 and out.read_bytes() != (tmp_path / "full.csv").read_bytes()
    summary = screen(tmp_path / "in.csv", model, out, chunk_size=3, resume=True, progress=False)
    assert summary.resumed_rows == 6
    assert out.read_bytes() == (tmp_path / "full.csv").read_bytes()


def test_a_second_run_on_the_same_output_is_refused_while_the_first_runs(tmp_path, model) -> None:
    """Issue 32, item 6: nothing stopped a second --resume on the same output from interleaving its chunks with the
    first run's. The output's lock names the running process; once it ends (even by SIGKILL) the output is free."""
    write_csv(tmp_path / "in.csv", VALID)
    out = tmp_path / "out.csv"
    holder = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from gnnpt.screening.lock import output_lock
        with output_lock(Path(sys.argv[1])):
            print("holding", flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        busy = rf"out.csv is being written by another gnnpt screen \(pid {proc.pid}\)"
        for resume in (True, False):
            with pytest.raises(ValueError, match=busy):
                screen(tmp_path / "in.csv", model, out, resume=resume, progress=False)
    finally:
        proc.kill()
        proc.wait()
    assert screen(tmp_path / "in.csv", model, out, resume=True, progress=False).rows == len(VALID)
    assert not (tmp_path / "out.csv.lock").exists()


def test_resume_refuses_another_input_and_starts_fresh_without_a_progress_file(tmp_path, monkeypatch, model) -> None:
    write_csv(tmp_path / "in.csv", VALID)
    write_csv(tmp_path / "other.csv", VALID[::-1])
    out = tmp_path / "out.csv"
    crash_after(monkeypatch, 1)
    with pytest.raises(Crash):
        screen(tmp_path / "in.csv", model, out, chunk_size=4, progress=False, precision="bf16")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"cannot resume .*the input differs.*Run without --resume"):
        screen(tmp_path / "other.csv", model, out, chunk_size=4, resume=True, progress=False)
    with pytest.raises(ValueError, match="the settings differ"):
        screen(tmp_path / "in.csv", model, out, chunk_size=4, resume=True, progress=False, filters=["NR-AR>0.1"])
    with pytest.raises(ValueError, match="the settings differ"):
        screen(tmp_path / "in.csv", model, out, chunk_size=4, resume=True, progress=False, precision="fp32")
    os.utime(tmp_path / "in.csv", ns=(0, 0))
    with pytest.raises(ValueError, match="the input differs"):
        screen(tmp_path / "in.csv", model, out, chunk_size=4, resume=True, progress=False, precision="bf16")
    progress_path(out).unlink()
    summary = screen(tmp_path / "in.csv", model, out, chunk_size=4, resume=True, progress=False)
    assert summary.resumed_rows == 0 and summary.rows == len(VALID)


def test_top_k_and_filters_select_and_lose_nothing(tmp_path, model, tasks) -> None:
    smiles = [*VALID[:4], "bad(", *VALID[4:9], "", VALID[9], "CCO"]
    write_csv(tmp_path / "in.csv", smiles)
    screen(tmp_path / "in.csv", model, tmp_path / "all.csv", chunk_size=3, progress=False)
    everything = pd.read_csv(tmp_path / "all.csv")
    valid = everything[everything["error"].isna()]

    summary = screen(tmp_path / "in.csv", model, tmp_path / "top.csv", chunk_size=3, top_k=5, sort_by="NR-AhR",
                     progress=False)  # fmt: skip
    top = pd.read_csv(tmp_path / "top.csv")
    expected = valid.sort_values(["NR-AhR", "row"], ascending=[False, True], kind="stable").head(5)
    pd.testing.assert_frame_equal(top, expected.reset_index(drop=True), check_dtype=False)
    assert top["NR-AhR"].is_monotonic_decreasing and summary.written == 5
    errors = pd.read_csv(summary.errors_file)
    assert list(errors.columns) == ["row", "name", "smiles", "error"] and errors["row"].tolist() == [4, 10]

    rules = ["SR-MMP>=0.01", "NR-AR<0.05"]
    summary = screen(tmp_path / "in.csv", model, tmp_path / "hits.parquet", chunk_size=3, filters=rules,
                     progress=False)  # fmt: skip
    hits = pd.read_parquet(tmp_path / "hits.parquet")
    keep = valid[(valid["SR-MMP"] >= 0.01) & (valid["NR-AR"] < 0.05)].reset_index(drop=True)
    assert 0 < len(hits) < len(valid) and hits["row"].tolist() == keep["row"].tolist()
    assert summary.written + summary.invalid + (len(valid) - len(keep)) == summary.rows == len(smiles)
    assert pd.read_csv(errors_path(tmp_path / "hits.parquet"))["row"].tolist() == [4, 10]


def test_bad_options_are_clear_errors(tmp_path, model, tasks) -> None:
    write_csv(tmp_path / "in.csv", VALID[:3])
    run = (tmp_path / "in.csv", model, tmp_path / "out.csv")
    with pytest.raises(ValueError, match="COLUMN OP NUMBER"):
        screen(*run, filters=["NR-AR=0.5"])
    with pytest.raises(ValueError, match=r"does not predict.*its outputs are"):
        screen(*run, filters=["toxic>0.5"])
    with pytest.raises(ValueError, match="not a number"):
        screen(*run, filters=["NR-AR>high"])
    with pytest.raises(ValueError, match=r"--top-k \(top_k\) needs --sort-by \(sort_by\)"):  # the flags too
        screen(*run, top_k=3)
    with pytest.raises(ValueError, match=r"--sort-by \(sort_by\) needs --top-k \(top_k\)"):
        screen(*run, sort_by="NR-AR")
    with pytest.raises(ValueError, match="end its name with one of"):
        screen(tmp_path / "in.csv", model, tmp_path / "out.xlsx")
    with pytest.raises(ValueError, match="unknown engine"):
        screen(*run, engine="spark")
    with pytest.raises(ValueError, match="column 'nope' not found"):
        screen(*run, smiles_col="nope", progress=False)
    assert Filter.parse(" NR-AR <= 1e-2 ", tasks) == Filter("NR-AR", "<=", 0.01)


def test_csv_outputs_neutralize_spreadsheet_formulas(tmp_path, model) -> None:
    pd.DataFrame({"smiles": ["CCO", "CCN"], "id": ["=1+2", "-7"]}).to_csv(tmp_path / "in.csv", index=False)
    screen(tmp_path / "in.csv", model, tmp_path / "out.csv", progress=False)
    assert pd.read_csv(tmp_path / "out.csv", dtype=str)["id"].tolist() == ["'=1+2", "-7"]
    screen(tmp_path / "in.csv", model, tmp_path / "out.parquet", progress=False)
    assert pd.read_parquet(tmp_path / "out.parquet")["id"].tolist() == ["=1+2", "-7"]  # Parquet runs no formulas


def test_without_the_domain_the_scores_are_the_same_and_the_domain_columns_empty(tmp_path, model, tasks) -> None:
    write_csv(tmp_path / "in.csv", [*VALID[:5], "bad("])
    screen(tmp_path / "in.csv", model, tmp_path / "with.csv", progress=False)
    screen(tmp_path / "in.csv", model, tmp_path / "without.csv", domain=False, progress=False)
    with_, without = pd.read_csv(tmp_path / "with.csv"), pd.read_csv(tmp_path / "without.csv")
    assert with_["max_similarity"].iloc[:5].notna().all() and without["max_similarity"].isna().all()
    assert without["in_domain"].isna().all() and list(with_.columns) == list(without.columns)
    np.testing.assert_array_equal(with_[tasks].to_numpy(), without[tasks].to_numpy())
