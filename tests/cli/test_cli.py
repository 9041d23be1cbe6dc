"""The gnnpt command line: featurize a file or the shipped sample; list and fetch datasets."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gnnpt.cli.main import app
from gnnpt.store import load_packed

runner = CliRunner()


def test_featurize_sample(tmp_path) -> None:
    out = tmp_path / "graphs"
    result = runner.invoke(app, ["featurize", "--sample", "-o", str(out)])
    assert result.exit_code == 0, result.output
    store = load_packed(out)
    assert len(store) == 20 and len(store.errors) == 3
    assert "unsupported element" in result.output and "C1CC" in result.output


def test_featurize_a_gzipped_csv_with_bad_rows(tmp_path) -> None:
    import gzip

    path = tmp_path / "lib.csv.gz"
    path.write_bytes(gzip.compress(b"id,smi\r\n1,CCO\r\n2,\r\n3,C1CC\r\n4,c1ccccc1\r\n"))
    out = tmp_path / "lib_graphs"
    result = runner.invoke(app, ["featurize", str(path), "-o", str(out), "--workers", "2", "--smiles-col", "smi"])
    assert result.exit_code == 0, result.output
    store = load_packed(out)
    assert store.smiles == ["CCO", None, None, "c1ccccc1"]
    assert [(e.index, str(e.reason)) for e in store.errors] == [(1, "empty"), (2, "unparsable")]


def test_featurize_needs_exactly_one_input() -> None:
    assert runner.invoke(app, ["featurize"]).exit_code != 0


def test_datasets_list_and_fetch(moleculenet_dir) -> None:
    listed = runner.invoke(app, ["datasets", "list"])
    assert listed.exit_code == 0 and "tox21" in listed.output and "moses" in listed.output
    fetched = runner.invoke(app, ["datasets", "fetch", "tox21", "--data-dir", str(moleculenet_dir)])
    assert fetched.exit_code == 0 and "7,831 rows" in fetched.output
    unknown = runner.invoke(app, ["datasets", "fetch", "tox22"])
    assert unknown.exit_code != 0 and "registered" in unknown.output


def test_pretrain_command_runs_a_recipe_with_overrides(tmp_path, moleculenet_dir) -> None:
    import json
    from pathlib import Path

    recipe = Path(__file__).resolve().parents[2] / "pretraining" / "attr_masking.yaml"
    corpus = tmp_path / "mols.csv"
    corpus.write_text("smiles\n" + "\n".join(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CC"] * 20) + "\n")
    args = ["pretrain", "--config", str(recipe), "--corpus", str(corpus), "-o", str(tmp_path / "run"),
            "encoder.num_layer=2", "encoder.emb_dim=16", "batch_size=16", "epochs=1", "progress=false"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "run" / "encoder" / "card.json").read_text())
    assert card["name"] == "gin_attr_masking_moses" and card["corpus"]["invalid"] == 20 and card["steps"] == 3
    bad = runner.invoke(app, ["pretrain", "--config", str(recipe), "batch_sise=3"])
    assert bad.exit_code != 0 and "unknown config keys" in bad.output


@pytest.mark.parametrize(("web_workers", "started_by_cli"), [(4, [2]), (1, [])])
def test_serve_starts_one_set_of_adaptation_workers_per_server(monkeypatch, tmp_path, web_workers, started_by_cli):
    """``serve --workers 4`` used to start the adaptation workers in each of the 4 web workers (4x the jobs)."""
    import os

    import uvicorn

    import gnnpt.adaptation.worker as worker

    monkeypatch.setattr(os, "environ", {**os.environ, "GNNPT_API_ADAPTATION_WORKERS": "2",
                                        "GNNPT_JOBS_DIR": str(tmp_path)})  # fmt: skip
    started, seen = [], {}
    monkeypatch.setattr(worker.WorkerPool, "start", lambda pool: started.append(pool.count) or pool)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(env=os.environ["GNNPT_API_ADAPTATION_WORKERS"],
                                                                   workers=k["workers"]))  # fmt: skip
    result = CliRunner().invoke(app, ["serve", "--workers", str(web_workers)])
    assert result.exit_code == 0, result.output
    assert started == started_by_cli and seen["workers"] == web_workers
    assert seen["env"] == ("0" if web_workers > 1 else "2")  # web workers start none; a lone one starts its own


def _commands(command, path: str):
    """Every command below ``command`` (typer's click objects), with the words that call it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, f"{path} {name}")


def test_usage_lines_name_arguments_in_capitals_and_minus_o_is_output_everywhere() -> None:
    """Issue 32, item 13: typer wrote ``Usage: gnnpt screen [OPTIONS] {input}``, and ``-o`` was ``--output`` in one
    command, ``--output-dir`` in another (still accepted as a second name)."""
    import typer.main

    for path, command in _commands(typer.main.get_command(app), "gnnpt"):
        usage = next(line for line in runner.invoke(app, [*path.split()[1:], "--help"]).output.splitlines()
                     if "Usage:" in line)  # fmt: skip
        arguments = usage.split()[3 + path.count(" ") :]  # after "Usage: gnnpt <command...> [OPTIONS]"
        assert "{" not in usage and not any(w.strip("[].").islower() for w in arguments), usage
        for option in (p for p in command.params if "-o" in p.opts):
            assert option.opts[0] == "--output", (path, option.opts)
    usage = runner.invoke(app, ["screen", "--help"]).output
    assert "gnnpt screen [OPTIONS] INPUT" in usage


def test_a_missing_optional_package_is_exit_1_with_what_to_install(tmp_path, monkeypatch) -> None:
    """Issue 32, item 13: it exited 2 with a usage line, as if the command were mistyped."""
    import gnnpt.screening

    def needs_an_extra(*_: object, **__: object):
        raise ImportError('MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"')

    monkeypatch.setattr(gnnpt.screening, "screen", needs_an_extra)
    (tmp_path / "in.csv").write_text("smiles\nCCO\n")
    result = runner.invoke(app, ["screen", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 1 and "Usage" not in result.output
    assert 'error: MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"' in result.output
    monkeypatch.setattr(gnnpt.screening, "screen", lambda *_, **__: __import__("no_such_package_for_gnnpt"))
    result = runner.invoke(app, ["screen", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 1 and "No module named 'no_such_package_for_gnnpt'" in result.output
    assert "pip install gnnpt[ray]" in result.output and "Usage" not in result.output
