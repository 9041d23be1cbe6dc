"""The fixed-budget objective study: every objective pretrains the same encoder on the same corpus for the same
wall-clock time on this machine, then a linear probe on the CPU protocol datasets scores every snapshot.

    python pretraining/objective_study.py pretrain --minutes 12 --snapshots 3 6 12   # runs/study/<objective>/
    python pretraining/objective_study.py probe -o pretraining/results/study        # probe.csv, tables.md, chart

``pretrain`` runs the objectives ``--parallel`` at a time with ``--threads`` torch threads each (2 x 1 on a 2-core
machine), a constant learning rate after warm-up, and saves the encoder at each ``--snapshots`` minute: a run with a
constant rate passes through the encoder a shorter budget would have made, so one run gives the whole curve.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

CORPUS = "zinc250k+chembl31_s4_valid+chembl31_s4_mini_train"
OBJECTIVES = {
    "masking": {"masking": {"mask_rate": 0.15}},
    "graphcl": {"contrastive": {"augmentations": ["drop_nodes", "subgraph"], "ratio": 0.2, "temperature": 0.1}},
    "graphmae": {"graphmae": {"mask_rate": 0.25}},
    "descriptors": {"descriptors": {"set": "fast"}},
    "graphmae+descriptors": {"graphmae": {"mask_rate": 0.25}, "descriptors": {"set": "fast"}},
}
PROBE_DATASETS = ("bbbp", "bace", "clintox", "sider", "tox21")


def run_dir(root: Path, objective: str) -> Path:
    return root / objective.replace("+", "_")


def pretrain(args: argparse.Namespace) -> None:
    names = args.objectives or list(OBJECTIVES)
    pending = list(names)
    running: list[tuple[str, subprocess.Popen]] = []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            out = run_dir(args.root, name)
            out.mkdir(parents=True, exist_ok=True)
            overrides = [f"name=study_{name.replace('+', '_')}", f"corpus={CORPUS}", f"output_dir={out}",
                         f"objectives={json.dumps(OBJECTIVES[name])}", f"max_minutes={args.minutes}",
                         f"snapshot_minutes={json.dumps(args.snapshots)}", "schedule=constant", "warmup_steps=100",
                         f"batch_size={args.batch_size}", "progress=false", "featurize_workers=1",
                         "checkpoint_every_n_steps=200"]  # fmt: skip
            log = open(out / "study.log", "a")
            cmd = [sys.executable, "-c", "from gnnpt.cli.main import app; app()", "pretrain", *overrides]
            running.append((name, subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)))
            print(f"{time.strftime('%H:%M:%S')} started {name}", flush=True)
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                print(f"{time.strftime('%H:%M:%S')} {name} ended with exit code {proc.returncode}", flush=True)
        time.sleep(5)


def _encoders(root: Path) -> list[tuple[str, float, str]]:
    """(objective, minutes, encoder spec) for every snapshot, plus a randomly initialized encoder at minute 0."""
    rows = [("no pretraining", 0.0, "none")]
    for name in OBJECTIVES:
        for snap in sorted((run_dir(root, name) / "snapshots").glob("min*"), key=lambda p: float(p.name[3:])):
            rows.append((name, float(snap.name[3:]), str(snap)))
    return rows


def probe(args: argparse.Namespace) -> None:
    import torch

    from gnnpt.datasets import load as load_dataset
    from gnnpt.datasets import scaffold_split
    from gnnpt.featurization.cache import cached_featurize
    from gnnpt.finetune.probe import encoder_features
    from gnnpt.finetune.probe import probe as fit_probe
    from gnnpt.models.store import resolve_encoder

    torch.manual_seed(0)
    data = {}
    for name in PROBE_DATASETS:
        ds = load_dataset(name)
        data[name] = (cached_featurize(ds.smiles), ds.targets, scaffold_split(ds.smiles))
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    done = pd.read_csv(out / "probe.csv") if (out / "probe.csv").exists() else pd.DataFrame()
    rows = done.to_dict("records")
    seen = {(r["objective"], r["minutes"]) for r in rows}
    for objective, minutes, spec in _encoders(args.root):
        if (objective, minutes) in seen:
            continue
        encoder = resolve_encoder(spec)
        steps = json.loads((Path(spec) / "card.json").read_text()).get("steps", 0) if spec != "none" else 0
        for name, (store, targets, split) in data.items():
            start = time.perf_counter()
            result = fit_probe(encoder_features(encoder, store), targets, split, seeds=args.seeds, heads=("linear",),
                               rows=store.valid)  # fmt: skip
            rows.append({"objective": objective, "minutes": minutes, "steps": steps, "dataset": name,
                         "valid": float(np.mean(result.valid)), "test": float(np.mean(result.test)),
                         "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
            print(f"{objective:22s} {minutes:5g} min {name:8s} test {rows[-1]['test']:.1f}", flush=True)
        pd.DataFrame(rows).to_csv(out / "probe.csv", index=False)
    frame = pd.DataFrame(rows)
    write_report(frame, out)


def write_report(frame: pd.DataFrame, out: Path) -> None:
    table = frame.pivot_table(index=["objective", "minutes"], columns="dataset", values="test").round(1)
    table["average"] = table.mean(axis=1).round(1)
    valid = frame.pivot_table(index=["objective", "minutes"], columns="dataset", values="valid").mean(axis=1)
    table["valid average"] = valid.round(1)
    (out / "tables.md").write_text(table.reset_index().to_markdown(index=False) + "\n")
    print(table.to_string())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    base = table.loc["no pretraining", "average"].iloc[0] if "no pretraining" in table.index else None
    for objective, part in table.reset_index().groupby("objective"):
        if objective != "no pretraining":
            ax.plot(part.minutes, part.average, marker="o", label=objective)
    if base is not None:
        ax.axhline(base, color="grey", linestyle="--", label="no pretraining (random init)")
    ax.set_xlabel("pretraining minutes (one core each)")
    ax.set_ylabel("linear-probe test ROC-AUC, mean of 5 sets (%)")
    ax.set_title("Objectives at equal CPU time (GIN 5x300, ZINC250k + ChEMBL31)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "probe_vs_minutes.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pretrain", help="pretrain every objective for the same wall-clock budget")
    p.add_argument("--objectives", nargs="*", choices=list(OBJECTIVES))
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--snapshots", type=float, nargs="*", default=[3.0, 6.0, 12.0])
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--root", type=Path, default=Path("runs/study"))
    q = sub.add_parser("probe", help="linear-probe every snapshot on the CPU protocol datasets")
    q.add_argument("--root", type=Path, default=Path("runs/study"))
    q.add_argument("--seeds", type=int, nargs="*", default=[0])
    q.add_argument("-o", "--output-dir", type=Path, default=Path("pretraining/results/study"))
    args = parser.parse_args()
    {"pretrain": pretrain, "probe": probe}[args.command](args)


if __name__ == "__main__":
    main()
