"""``gnnpt models``: import, list, show, export and rm against a store in a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from gnnpt.cli.main import app
from gnnpt.models.finetuned import FinetunedModel, build_graph_model
from gnnpt.nn import HuEncoder

runner = CliRunner()


@pytest.fixture
def saved(tmp_path: Path, monkeypatch) -> Path:
    """A tiny fine-tuned model on disk, and an empty store at ``tmp_path / "store"``."""
    monkeypatch.setenv("GNNPT_MODEL_DIR", str(tmp_path / "store"))
    model = FinetunedModel([build_graph_model(HuEncoder(num_layer=2, emb_dim=16), 2)], "classification", ["a", "b"])
    return model.save(tmp_path / "tiny")


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _fails(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit)
    return result.output


def test_import_list_show_export_rm(saved, tmp_path) -> None:
    assert f"imported {saved} as tiny@v1 (finetuned, hu2020 gin 2x16)" in _ok(["models", "import", str(saved)])
    assert "as tiny@v2" in _ok(["models", "import", str(saved), "--name", "tiny"])
    listed = _ok(["models", "list"])
    assert "tiny" in listed and "v2 (latest)" in listed and "tox21" in listed and "shipped" in listed
    card = json.loads(_ok(["models", "show", "tiny@v1"]))
    assert card["kind"] == "finetuned" and card["registry"]["version"] == "v1"
    assert "exported tiny@v2" in _ok(["models", "export", "tiny", str(tmp_path / "out"), "--version", "v2"])
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert "would remove" in _ok(["models", "rm", "tiny", "--version", "v1"])
    assert (tmp_path / "store" / "tiny" / "v1").is_dir()
    assert "removed" in _ok(["models", "rm", "tiny@v1", "--yes"])
    assert not (tmp_path / "store" / "tiny" / "v1").exists() and (tmp_path / "store" / "tiny" / "v2").exists()


def test_errors_are_one_clean_line(saved) -> None:
    assert "neither a saved model directory" in _fails(["models", "show", "nope"])
    torch.save({"w": torch.zeros(1)}, saved / "model.pt")
    assert "pickle-like file" in _fails(["models", "import", str(saved)])
    assert "shipped model" in _fails(["models", "rm", "tox21-gnn", "--yes"])
    assert "not an empty directory" in _fails(["models", "export", "tox21-gnn", str(saved)])
