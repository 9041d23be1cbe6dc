"""The service parses request molecules in a contained process (issue 16, item 1): a molecule that crashes RDKit or
parses too long is that row's error in a 200 answer (JSON, CSV, adaptation uploads), and the server lives on."""

from __future__ import annotations

import faulthandler
import functools
import io
import os
import signal

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import gnnpt
from gnnpt.adaptation import spec as adaptation_spec
from gnnpt.api import Settings, create_app
from gnnpt.api import service as service_module
from gnnpt.datasets import load
from gnnpt.featurization import chunk
from gnnpt.featurization.contained import ContainedFeaturizer

SERVER_PROCESS = os.getpid()
MARKER = "CC(C)(C)CC(C)(C)CC(C)(C)O"  # a valid molecule that the patched parser below treats as poison
CRASHED = "parse crashed: the process parsing it died of SIGSEGV (RDKit crashed)"


@pytest.fixture()
def poisoned(monkeypatch) -> None:
    """Parsing MARKER segfaults the process that parses it, and fails the test if that is the server process (the old
    in-process parse). The parse process forks, so that it inherits the patch."""
    real = chunk._parse

    def parse(text: str):
        if text == MARKER:
            if os.getpid() == SERVER_PROCESS:
                raise AssertionError("the poisoned molecule was parsed in the server process")
            faulthandler.disable()  # pytest's: no stack dump of the dying process in the test output
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(text)

    monkeypatch.setattr(chunk, "_parse", parse)
    forked = functools.partial(ContainedFeaturizer, start_method="fork")
    monkeypatch.setattr(service_module, "ContainedFeaturizer", forked, raising=False)
    monkeypatch.setattr(adaptation_spec, "ContainedFeaturizer", forked, raising=False)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the poisoned parser reaches the parse process by fork")
def test_a_molecule_that_crashes_rdkit_is_that_rows_error_and_the_server_lives_on(poisoned, tmp_path) -> None:
    settings = Settings(adaptation_workers=0, jobs_dir=str(tmp_path / "jobs"), precision="fp32")
    expected = gnnpt.load(precision="fp32").predict(["CCO", "c1ccccc1O"])
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/predict", json={"smiles": ["CCO", MARKER, "c1ccccc1O"]})
        assert response.status_code == 200, response.text
        body = response.json()
        results = body["results"]
        assert [r["error"] for r in results] == [None, CRASHED, None]
        assert all(v is None for v in results[1]["scores"].values()) and results[1]["canonical_smiles"] is None
        for r, (_, row) in zip([results[0], results[2]], expected.iterrows(), strict=True):
            assert r["canonical_smiles"] == row["canonical_smiles"]
            assert [r["scores"][t] for t in body["tasks"]] == pytest.approx(row[body["tasks"]].tolist(), abs=1e-6)

        text = f"smiles,name\nCCO,ethanol\n{MARKER},poison\n"
        response = client.post("/v1/predict/csv", content=text, headers={"content-type": "text/csv"})
        assert response.status_code == 200, response.text
        rows = pd.read_csv(io.StringIO(response.text))
        assert rows["name"].tolist() == ["ethanol", "poison"] and rows["error"].fillna("").tolist() == ["", CRASHED]

        files = labeled_upload(MARKER)
        response = client.post("/v1/adaptations", data={"name": "poisoned", "targets": "p_np"},
                               files={"labeled": ("labels.csv", files, "text/csv")})  # fmt: skip
        assert response.status_code == 202, response.text
        problems = response.json()["report"]["problems"]
        assert {"row": 0, "smiles": MARKER, "problem": f"invalid SMILES ({CRASHED})"} in problems

        again = client.post("/v1/predict", json={"smiles": ["CCO"]}).json()["results"][0]
        assert again["canonical_smiles"] == "CCO" and again["error"] is None


def labeled_upload(first: str) -> bytes:
    """A labeled file that trains (BBBP rows with both classes in every scaffold-split part) after ``first``."""
    ds = load("bbbp")
    rows = slice(None, 80 * 13, 13)
    frame = pd.DataFrame({"smiles": [first, *ds.smiles[rows]], "p_np": [1.0, *ds.targets[rows, 0]]})
    return frame.to_csv(index=False).encode()


def test_a_molecule_that_parses_too_long_is_that_rows_error(tmp_path) -> None:
    """A real one: RDKit's parse of a chain of 3,000 cyclopropanes takes seconds (ring perception, about
    quadratic; shallow recursion, so it times out rather than overflowing a small stack), past
    a half-second parse limit; the molecules beside it are scored."""
    slow = "".join(f"C{i % 2 + 1}CC{i % 2 + 1}" for i in range(3_000))
    settings = Settings(adaptation_workers=0, jobs_dir=str(tmp_path / "jobs"), max_atoms=20_000,
                        max_smiles_length=20_000, parse_time_s=0.5)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        results = client.post("/v1/predict", json={"smiles": ["CCO", slow, "c1ccccc1O"]}).json()["results"]
    assert [r["error"] for r in results] == [None, "parse timed out: parsing took longer than 0.5 s (the limit per "
                                             "molecule)", None]  # fmt: skip
    assert results[2]["canonical_smiles"] == "Oc1ccccc1"
