"""``gnnpt adapt``: run a small adaptation from the command line, list and show it, then update it to @v2."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from gnnpt.adaptation.jobs import JobStore
from gnnpt.cli.main import app
from gnnpt.datasets import load


def test_adapt_run_list_show(tmp_path, monkeypatch, moleculenet_dir) -> None:
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("GNNPT_JOBS_DIR", str(tmp_path / "jobs"))
    ds = load("bbbp")
    frame = pd.DataFrame({"smiles": ds.smiles[::13][:80], "p_np": ds.targets[::13][:80, 0]})  # both classes per part
    frame.to_csv(tmp_path / "l.csv", index=False)
    runner = CliRunner()
    cheap = ["--candidates", "trees", "--candidates", "forest", "--adapt-minutes", "0", "--folds", "2"]
    result = runner.invoke(app, ["adapt", "run", "--data", str(tmp_path / "l.csv"), "--targets", "p_np",
                                 "--name", "cli_model", *cheap])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and "cli_model@v1" in result.output and "did adaptation pay?" in result.output
    listed = runner.invoke(app, ["adapt", "list"])
    assert "cli_model" in listed.output and "succeeded" in listed.output
    (job,) = JobStore(tmp_path / "jobs").list()
    shown = runner.invoke(app, ["adapt", "show", job.id, "--json"])
    assert '"status": "succeeded"' in shown.output and job.metrics["model"] == "cli_model@v1"
    bad = runner.invoke(app, ["adapt", "submit", "--data", str(tmp_path / "l.csv"), "--targets", "nope", "--name", "x"])
    assert bad.exit_code != 0 and "are not in the labeled file" in bad.output
    later = pd.DataFrame({"smiles": ds.smiles[5::13][:30], "p_np": ds.targets[5::13][:30, 0]})
    later.to_csv(tmp_path / "later.csv", index=False)
    update = runner.invoke(app, ["adapt", "run", "--data", str(tmp_path / "later.csv"), "--targets", "p_np",
                                 "--update", "cli_model", *cheap])  # fmt: skip
    assert update.exit_code == 0, update.output
    assert "cli_model@v2" in update.output and "cli_model@v1 on the new molecules" in update.output
