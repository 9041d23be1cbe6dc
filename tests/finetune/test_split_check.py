"""A split that leaves a part with one class is refused before training, with the remedy, in every interface."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gnnpt.adaptation.spec import AdaptationSpec
from gnnpt.adaptation.submit import submit_job
from gnnpt.cli.main import app
from gnnpt.datasets import scaffold_split
from gnnpt.finetune.run import LabeledData, make_split, run_finetune
from gnnpt.finetune.train import FinetuneConfig


@pytest.fixture(scope="module")
def one_class_test_part(moleculenet_dir, tmp_path_factory):
    """300 BBBP molecules whose labels put only negatives in the scaffold split's test part (as a 276-molecule
    carcinogenicity set did)."""
    smiles = pd.read_csv(moleculenet_dir / "bbbp.csv.gz")["smiles"].tolist()[:300]
    labels = np.random.default_rng(0).integers(0, 2, len(smiles)).astype(float)
    labels[scaffold_split(smiles).test] = 0
    path = tmp_path_factory.mktemp("data") / "small_tox.csv"
    pd.DataFrame({"smiles": smiles, "toxic": labels}).to_csv(path, index=False)
    return path, smiles, labels


def test_run_finetune_refuses_before_training_and_names_the_remedy(one_class_test_part, tmp_path) -> None:
    _, smiles, labels = one_class_test_part
    data = LabeledData("small_tox", smiles, labels[:, None].astype(np.float32), ["toxic"], "classification")
    with pytest.raises(ValueError, match=r"test \(\d+ molecules: only class 0\).*'scaffold_balanced'.*'stratified'"):
        run_finetune(data, FinetuneConfig(encoder="none", epochs=1), tmp_path / "model")
    assert not (tmp_path / "model").exists()
    balanced = make_split(data, "scaffold_balanced", 0)
    assert len(np.unique(labels[balanced.test])) == 2  # the remedy works here


def test_the_cli_refuses_it_too_and_an_adaptation_job_reports_it_instead(one_class_test_part, tmp_path) -> None:
    path, _, _ = one_class_test_part
    result = CliRunner().invoke(app, ["finetune", "--data", str(path), "--targets", "toxic", "--encoder", "none",
                                      "--epochs", "1", "-o", str(tmp_path / "m")])  # fmt: skip
    assert result.exit_code != 0 and "scaffold_balanced" in result.output and not (tmp_path / "m").exists()
    from gnnpt.adaptation.jobs import JobStore

    store = JobStore(tmp_path / "jobs")  # a job has no test part: it cross-validates and reports such a fold
    assert submit_job(store, "alice", AdaptationSpec(name="small", targets=["toxic"]), path).status == "queued"
    inactive = pd.read_csv(path).assign(toxic=0.0)
    inactive.to_csv(tmp_path / "inactive.csv", index=False)
    with pytest.raises(ValueError, match=r"target\(s\) \['toxic'\] hold one class only"):
        submit_job(store, "alice", AdaptationSpec(name="none_active", targets=["toxic"]), tmp_path / "inactive.csv")
    assert [j.name for j in store.list("alice")] == ["small"]
