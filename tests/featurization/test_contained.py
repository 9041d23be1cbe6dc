"""Crash-contained featurization: a molecule that kills, exhausts or stalls the parse process is that row's error,
the other rows come out as in-process featurization gives them, and the featurizer goes on (issue 16, item 1)."""

from __future__ import annotations

import os
import signal
import sys

import pandas as pd
import pytest
import torch

import gnnpt
from gnnpt.featurization import chunk
from gnnpt.featurization.contained import ContainedFailure, ContainedFeaturizer, ParseLimits, contained_parsing
from gnnpt.store.errors import ErrorReason

TEST_PROCESS = os.getpid()
MARKER = "CC(C)(C)CC(C)(C)CC(C)(C)O"  # a valid molecule that the patched parser below treats as poison
SMILES = ["CCO", "bad(", "c1ccccc1O", "", "CC(=O)Oc1ccccc1C(=O)O", "C[C@H](N)C(=O)O", "[2H]C(Cl)Br", "c1ccncc1"]
STORE_FIELDS = ("x", "edge_index", "edge_attr", "node_ptr", "edge_ptr", "fingerprints")


def poison(monkeypatch, effect) -> None:
    """Parsing MARKER runs ``effect()`` in a child process (as an RDKit crash would strike there), and fails the test
    if it happens in this process: the old in-process parse."""
    real = chunk._parse

    def parse(text: str):
        if text == MARKER:
            if os.getpid() == TEST_PROCESS:
                raise AssertionError("the poisoned molecule was parsed in the calling process")
            effect()
        return real(text)

    monkeypatch.setattr(chunk, "_parse", parse)


def same_rows(store, reference, rows: list[int], reference_rows: list[int]) -> None:
    """Rows ``rows`` of ``store`` are rows ``reference_rows`` of ``reference``: graphs, SMILES, fingerprints."""
    a, b = store.select(rows), reference.select(reference_rows)
    for name in STORE_FIELDS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.smiles == b.smiles


def test_contained_featurization_equals_the_in_process_one() -> None:
    reference = gnnpt.featurize(SMILES, canonical=True, fingerprints=True)
    with ContainedFeaturizer() as parser, contained_parsing(parser):
        store = gnnpt.featurize(SMILES, canonical=True, fingerprints=True, chunk_size=3)
    same_rows(store, reference, list(range(len(SMILES))), list(range(len(SMILES))))
    assert store.errors == reference.errors and len(store.errors) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the poisoned parser reaches the child by fork")
def test_a_molecule_that_crashes_the_parse_process_is_that_rows_error(monkeypatch) -> None:
    poison(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGKILL))
    items = [MARKER, *SMILES[:4], MARKER, *SMILES[4:], MARKER]
    with ContainedFeaturizer(start_method="fork") as parser, contained_parsing(parser):
        store = gnnpt.featurize(items, canonical=True, fingerprints=True)
        again = gnnpt.featurize(["CCO"], canonical=True)  # the featurizer goes on with a fresh process
    crashed = {e.index: e for e in store.errors if e.reason is ErrorReason.PARSE_CRASHED}
    assert sorted(crashed) == [0, 5, 10] and len(store) == len(items)
    assert crashed[5].input == MARKER and crashed[5].message == "the process parsing it died of SIGKILL (RDKit crashed)"
    reference = gnnpt.featurize(SMILES, canonical=True, fingerprints=True)
    same_rows(store, reference, [*range(1, 5), *range(6, 10)], list(range(len(SMILES))))
    assert [(e.index, e.reason) for e in store.errors if e.index not in crashed] == [
        (2, ErrorReason.UNPARSABLE), (4, ErrorReason.EMPTY)]  # fmt: skip
    assert again.smiles == ["CCO"] and not again.errors


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="the memory limit is Linux's")
def test_a_molecule_that_needs_more_memory_than_the_limit_is_that_rows_error(monkeypatch) -> None:
    poison(monkeypatch, lambda: bytearray(512 * 2**20))  # a runaway allocation while parsing
    with ContainedFeaturizer(ParseLimits(memory_mb=64), start_method="fork") as parser, contained_parsing(parser):
        store = gnnpt.featurize(["CCO", MARKER, "c1ccccc1O"], canonical=True)
    assert [(e.index, e.reason, e.message) for e in store.errors] == [
        (1, ErrorReason.PARSE_CRASHED, "parsing needed more than 64 MB of memory (the limit per parse)")]  # fmt: skip
    assert store.smiles == ["CCO", None, "Oc1ccccc1"]


def test_a_molecule_that_parses_too_long_is_that_rows_error() -> None:
    """A real one: RDKit's parse of a chain of 10,000 cyclopropanes takes seconds (ring perception, about
    quadratic; shallow recursion, so it times out rather than overflowing a small stack). A chain of 3,000 took
    0.13 s with gnnpt's parse and about 0.5 s with everything else: the test passed or failed by machine load."""
    slow = "".join(f"C{i % 2 + 1}CC{i % 2 + 1}" for i in range(10_000))
    with ContainedFeaturizer(ParseLimits(time_s=0.5)) as parser, contained_parsing(parser):
        store = gnnpt.featurize(["CCO", slow, "c1ccccc1O"], max_atoms=40_000)
    assert [(e.index, e.reason, e.message) for e in store.errors] == [
        (1, ErrorReason.PARSE_TIMEOUT, "parsing took longer than 0.5 s (the limit per molecule)")]  # fmt: skip
    assert store.smiles == ["CCO", None, "c1ccccc1O"]


class Exits:
    """An input whose unpickling ends the process that receives it: a death before any row starts."""

    def __reduce__(self):
        return (os._exit, (3,))


def test_a_death_outside_any_row_is_narrowed_down_by_halves() -> None:
    items = [*SMILES[:5], Exits(), *SMILES[5:]]
    with ContainedFeaturizer() as parser, contained_parsing(parser):
        store = gnnpt.featurize(items, canonical=True)
    crashed = [(e.index, e.message) for e in store.errors if e.reason is ErrorReason.PARSE_CRASHED]
    assert crashed == [(5, "the process parsing it ended unexpectedly (exit code 3)")]
    assert store.smiles == [*gnnpt.featurize(SMILES[:5], canonical=True).smiles, None,
                            *gnnpt.featurize(SMILES[5:], canonical=True).smiles]  # fmt: skip


def _read(text: str, progress) -> tuple[int, int]:
    """What a reading call does with ``text``: its length and the process it ran in, a decoding error, or a death."""
    if text == "undecodable":
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    if text == "dies":
        os._exit(3)
    progress(0)
    return len(text), os.getpid()


def test_a_call_runs_in_the_child_and_raises_an_expected_error_as_the_class_listed() -> None:
    with ContainedFeaturizer(start_method="fork") as reader:
        length, pid = reader.call(_read, "abc")
        assert length == 3 and pid != TEST_PROCESS
        with pytest.raises(ValueError, match="invalid start byte") as raised:  # UnicodeDecodeError needs 5 arguments
            reader.call(_read, "undecodable", expected=(KeyError, ValueError))
        assert type(raised.value) is ValueError
        with pytest.raises(ContainedFailure, match="exit code 3"):
            reader.call(_read, "dies")
        assert reader.call(_read, "again")[0] == 5  # in a fresh child


def _loaded(module: str, progress) -> bool:
    return module in sys.modules


def test_the_child_imports_its_preload_as_it_starts() -> None:
    assert "tabnanny" not in sys.modules
    for preload, expected in (((), False), (("tabnanny",), True)):
        with ContainedFeaturizer(start_method="fork", preload=preload) as reader:
            assert reader.call(_loaded, "tabnanny") is expected


def _dumps_core(_: object, progress) -> tuple[int, int]:
    import ctypes
    import resource

    return resource.getrlimit(resource.RLIMIT_CORE)[0], ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="core dump settings are Linux's")
def test_a_crashing_parse_writes_no_core_dump() -> None:
    """A crash must end the child at once: dumping the memory of a server holding models takes seconds, during which
    the child looked stalled and a crash was told as a timeout (CI)."""
    with ContainedFeaturizer(start_method="fork") as reader:
        assert reader.call(_dumps_core, None) == (0, 0)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ParseLimits(memory_mb=0)


def _sdf_file(path, titles: list[str]) -> None:
    from rdkit import Chem

    blocks = []
    for title, smiles in zip(titles, ["CCO", "c1ccccc1O", "CCN", "CC(=O)O", "ClCCl"], strict=False):
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", title)
        blocks.append(Chem.MolToMolBlock(mol) + f">  <id>\n{title}-id\n\n$$$$\n")
    path.write_text("".join(blocks))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the poisoned reader reaches the child by fork")
def test_an_sdf_record_that_crashes_rdkit_is_that_records_error_row(monkeypatch, tmp_path) -> None:
    """SDF records are read by RDKit in the supervised process too (service uploads, `gnnpt screen`): a record that
    kills it is that record's row error; the records around it are read as before."""
    from gnnpt.datasets import read_molecules
    from gnnpt.featurization import sdf

    _sdf_file(tmp_path / "in.sdf", ["a", "b", "poison", "d", "e"])
    expected = read_molecules(tmp_path / "in.sdf")
    real = sdf._row

    def row(mol, number, text):
        if mol is not None and mol.GetProp("_Name") == "poison":
            if os.getpid() == TEST_PROCESS:
                raise AssertionError("the SDF record was read in the calling process")
            os.kill(os.getpid(), signal.SIGKILL)
        return real(mol, number, text)

    monkeypatch.setattr(sdf, "_row", row)
    with ContainedFeaturizer(start_method="fork") as parser, contained_parsing(parser):
        frame = read_molecules(tmp_path / "in.sdf")
    assert frame["error"].iloc[2] == ("SDF record 2 (0-based) parse crashed: the process parsing it died of SIGKILL "
                                      "(RDKit crashed)")  # fmt: skip
    assert pd.isna(frame["smiles"].iloc[2]) and frame["smiles"].tolist()[3:] == expected["smiles"].tolist()[3:]
    keep = [0, 1, 3, 4]
    assert frame["error"].isna().tolist() == [True, True, False, True, True]
    pd.testing.assert_frame_equal(frame.drop(columns="error").iloc[keep].reset_index(drop=True),
                                  expected.drop(columns="error").iloc[keep].reset_index(drop=True))  # fmt: skip
    assert frame["id"].tolist()[:2] == ["a-id", "b-id"]
