"""``gnnpt finetune`` on a user's CSV: a saved model with its card, and clear errors for bad options."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import gnnpt
from gnnpt.cli.finetune import parse_seeds
from gnnpt.cli.main import app


def test_finetune_a_csv_writes_a_model(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "store"))
    smiles = ["CCO", "CCCO", "OCCO", "CCN", "NCCN", "CCCN", "c1ccccc1O", "c1ccccc1N", "bad("] * 8
    frame = pd.DataFrame({"mol": smiles, "has_n": [0, 0, 0, 1, 1, 1, 0, 1, 0] * 8, "other": [1.0] * 72})
    frame.loc[::5, "has_n"] = None  # missing labels are fine
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "model"
    args = ["finetune", "--data", str(path), "--smiles-col", "mol", "--targets", "has_n", "--split", "stratified",
            "--epochs", "2", "--seeds", "2", "--strategy", "freeze:2", "-o", str(out),
            "--register", "n_model"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert card["task_type"] == "classification" and card["task_names"] == ["has_n"]
    assert card["data"]["invalid_rows"] == 8 and card["members"] == 2
    assert card["hyperparameters"]["strategy"] == "freeze:2" and len(card["metrics"]["seeds"]) == 2
    predicted = gnnpt.load(out).predict(["CCN", "bad("])
    assert predicted["has_n"].notna().tolist() == [True, False]
    registered = gnnpt.load("n_model@v1").predict(["CCN", "bad("])
    assert registered["has_n"].tolist()[0] == pytest.approx(predicted["has_n"].tolist()[0])


def test_finetune_model_auto_writes_a_calibrated_ensemble_of_regression_models(tmp_path) -> None:
    smiles = [f"{'C' * k}{tail}" for k in range(1, 13) for tail in ("O", "N", "Cl", "C(=O)O", "c1ccccc1")]
    frame = pd.DataFrame({"smiles": smiles, "size": [float(len(s)) for s in smiles]})
    path = tmp_path / "sizes.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "auto"
    args = ["finetune", "--data", str(path), "--targets", "size", "--split", "random", "--model", "auto",
            "--candidates", "trees,forest", "--seeds", "2", "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "ensemble" in result.output and "conformal coverage on test" in result.output
    card = json.loads((out / "card.json").read_text())
    assert card["kind"] == "ensemble" and card["task_type"] == "regression"
    assert set(card["auto"]["candidates"]) == {"trees", "forest"} and card["components"][0]["members"] == 2
    predicted = gnnpt.load(out).predict(["CCCCCCO", "bad("])
    assert predicted["size_lo"][0] < predicted["size"][0] < predicted["size_hi"][0]
    assert predicted["size"].notna().tolist() == [True, False]
    result = CliRunner().invoke(app, [*args[:-2], "-o", str(tmp_path / "x"), "--model", "bogus"])
    assert result.exit_code != 0 and "choose gnn or auto" in result.output


def test_bad_options_are_clear_errors(tmp_path) -> None:
    path = tmp_path / "mine.csv"
    pd.DataFrame({"smiles": ["CCO"], "y": [1]}).to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["finetune", "--data", str(path), "--targets", "nope"])
    assert result.exit_code != 0 and "nope" in result.output and "columns are" in result.output
    result = runner.invoke(app, ["finetune", "--data", str(path), "--targets", "y", "--strategy", "lora:x"])
    assert result.exit_code != 0 and "valid forms" in result.output
    result = runner.invoke(app, ["finetune", "--data", "no_such_dataset_or_file"])
    assert result.exit_code != 0 and "neither a file nor a dataset" in result.output
    # issue 32, item 13: -o is --output in gnnpt screen; here too (--output-dir still works)
    result = runner.invoke(app, ["finetune", "--data", "no_such_dataset_or_file", "--output", str(tmp_path / "m")])
    assert "No such option" not in result.output and "neither a file nor a dataset" in result.output


@pytest.mark.parametrize(
    ("text", "seeds"), [("3", [0, 1, 2]), ("1,", [1]), ("7", list(range(7))), ("0, 5,7", [0, 5, 7])]
)
def test_seeds_are_a_count_or_a_list(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", ",", "0", "a", "1,x", "-1", "2,2"])
def test_bad_seeds_say_what_the_option_takes(text: str) -> None:
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds(text)
