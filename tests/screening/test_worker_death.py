"""``gnnpt screen`` survives a featurization worker that dies (issue 16, item 1): the molecule that kills its process
becomes an error row with its row number, the other rows are scored as in a normal run, and --resume goes past it."""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest
import torch

import gnnpt
from gnnpt.featurization import chunk
from gnnpt.screening import screen
from gnnpt.screening.sink import ResultSink

SCREENING_PROCESS = os.getpid()
MARKER = "CC(C)(C)CC(C)(C)CC(C)(C)O"  # a valid molecule that the patched parser below treats as poison
SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1O", MARKER, "CCCCCCCCCC", "c1ccncc1",
          "bad(", "ClCCl", "CC(C)O", "NCCO"]  # fmt: skip
POISONED_ROW = SMILES.index(MARKER)
OPTIONS = {"chunk_size": 3, "workers": 2, "progress": False}

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the poisoned parser reaches the workers by fork")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: fast on a busy machine, and the same float rounding in every run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model():
    return gnnpt.load()


@pytest.fixture()
def library(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("smiles,name\n" + "".join(f"{s},mol{i}\n" for i, s in enumerate(SMILES)))
    return path


def poison(monkeypatch) -> None:
    """Parsing MARKER kills the process that parses it (as an RDKit segfault would); in the screening process itself
    it fails the test instead."""
    real = chunk._parse

    def parse(text: str):
        if text == MARKER:
            if os.getpid() == SCREENING_PROCESS:
                raise AssertionError("the poisoned molecule was parsed in the screening process")
            os.kill(os.getpid(), signal.SIGKILL)
        return real(text)

    monkeypatch.setattr(chunk, "_parse", parse)


@pytest.mark.parametrize("workers", [1, 2])  # one worker still parses outside the screening process
def test_a_row_that_kills_its_worker_is_an_error_row_and_the_run_goes_on(tmp_path, library, monkeypatch, model,
                                                                         workers):  # fmt: skip
    options = {**OPTIONS, "workers": workers}
    screen(library, model, tmp_path / "normal.csv", **options)
    poison(monkeypatch)
    summary = screen(library, model, tmp_path / "out.csv", **options)
    normal, out = pd.read_csv(tmp_path / "normal.csv"), pd.read_csv(tmp_path / "out.csv")
    assert out["row"].tolist() == list(range(len(SMILES))) and summary.rows == len(SMILES) and summary.invalid == 2
    poisoned = out.loc[POISONED_ROW]
    assert poisoned["smiles"] == MARKER and poisoned["name"] == f"mol{POISONED_ROW}"
    assert poisoned["error"] == "parse crashed: the process parsing it died of SIGKILL (RDKit crashed)"
    assert pd.isna(poisoned["canonical_smiles"]) and poisoned[model.model.output_names()].isna().all()
    tasks = model.model.output_names()
    rest, expected = out.drop(index=POISONED_ROW), normal.drop(index=POISONED_ROW)
    pd.testing.assert_frame_equal(rest.drop(columns=tasks), expected.drop(columns=tasks))
    np.testing.assert_allclose(rest[tasks].to_numpy(), expected[tasks].to_numpy(), rtol=0, atol=1e-6)


class Interrupted(Exception):
    """Stands in for the run being killed."""


def test_resume_goes_past_a_row_that_kills_its_worker(tmp_path, library, monkeypatch, model) -> None:
    poison(monkeypatch)
    screen(library, model, tmp_path / "full.csv", **OPTIONS)
    real, committed = ResultSink.add, []

    def add(self, frame):  # the run is killed after its first chunk, before the poisoned row's
        if committed:
            raise Interrupted
        committed.append(len(frame))
        real(self, frame)

    monkeypatch.setattr(ResultSink, "add", add)
    with pytest.raises(Interrupted):
        screen(library, model, tmp_path / "out.csv", **OPTIONS)
    monkeypatch.setattr(ResultSink, "add", real)
    summary = screen(library, model, tmp_path / "out.csv", resume=True, **OPTIONS)
    assert summary.resumed_rows == 3 and summary.rows == len(SMILES)
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "full.csv").read_bytes()
