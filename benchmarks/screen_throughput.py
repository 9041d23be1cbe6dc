"""End-to-end screening throughput and peak memory: ``gnnpt screen`` vs ``chemprop predict``, side by side.

Both read the same SMILES file sampled from MOSES and write a scores file; each runs as its own process and is
timed wall-clock with its peak RSS (its process tree's largest ``ru_maxrss``). gnnpt scores with the shipped
default model (Hu GIN 5x300, 12 Tox21 tasks); Chemprop v2 with a default-size model (D-MPNN depth 3, hidden
300, FFN 300) trained for one epoch on Tox21 here, since only its size matters for speed. Chemprop is installed
into its own virtual environment (``--chemprop-venv``, created when missing, torch pinned to this project's).
Every gnnpt model named by ``--models`` runs at every ``--precision`` (``auto`` = bfloat16 on CPUs that compute it
natively); the table shows each model's Tox21 test ROC-AUC beside its speed, and the largest score difference between
precisions. Also prints each model's model-only rate (scoring pre-featurized graphs) to show the featurization share.

    python benchmarks/screen_throughput.py --sizes 100000 --workers 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rdkit import Chem, RDLogger

import gnnpt
from gnnpt.datasets import load as load_dataset
from gnnpt.datasets.corpora import load_corpus
from gnnpt.featurization.vectors import attach_vectors
from gnnpt.models.scoring import ensemble_scores, load_model

ROOT = Path(__file__).resolve().parents[1]
RDLogger.DisableLog("rdApp.*")


def _chemprop_bin(venv: Path) -> Path:
    """The ``chemprop`` executable of ``venv``, installing Chemprop 2.3.1 there first when needed."""
    exe = venv / "bin" / "chemprop"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        constraints = venv / "constraints.txt"
        constraints.write_text(f"torch=={torch.__version__.split('+')[0]}\n")
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-c", str(constraints), "chemprop==2.3.1"],
                       check=True)  # fmt: skip
    return exe


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of ``cmd`` run to completion as a child process: the largest RSS of that
    process and the processes it waited for (its workers), from ``wait4`` on that child alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return seconds, usage.ru_maxrss / 1024


def _chemprop_model(exe: Path, work: Path) -> Path:
    model_dir = work / "chemprop_model"
    found = sorted(model_dir.rglob("best*.pt"))
    if found:
        return found[0]
    ds = load_dataset("tox21")
    frame = pd.DataFrame({"smiles": ds.smiles, **{t: ds.targets[:, k] for k, t in enumerate(ds.task_names)}})
    parsable = [Chem.MolFromSmiles(s) is not None for s in frame.smiles]  # chemprop train stops at an invalid one
    frame[parsable].to_csv(work / "tox21_train.csv", index=False)
    subprocess.run([str(exe), "train", "-i", str(work / "tox21_train.csv"), "-s", "smiles", "--target-columns",
                    *ds.task_names, "-t", "classification", "--epochs", "1", "--warmup-epochs", "0",
                    "-o", str(model_dir)], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return sorted(model_dir.rglob("best*.pt"))[0]


def _model_only_rates(smiles: list[str], workers: int, models: list[str], precisions: list[str]) -> None:
    """Print gnnpt's featurization rate, then each model's scoring rate at each precision (pre-featurized graphs)."""
    start = time.perf_counter()
    store = gnnpt.featurize(smiles, workers=workers, canonical=True)
    rate = len(smiles) / (time.perf_counter() - start)
    print(f"gnnpt on {len(smiles):,} molecules in one process: featurize {rate:,.0f}"
          f" mol/s ({workers} workers)")  # fmt: skip
    for name in models:
        model = load_model(name)
        inputs = [k for k in getattr(model, "inputs", ()) if k not in store.features]
        if inputs:  # molecule vectors the model reads beside the graphs (e.g. MiniMol fingerprints), in this process
            start = time.perf_counter()
            attach_vectors(store, inputs)
            print(f"  {name}: its inputs {', '.join(inputs)} {len(smiles) / (time.perf_counter() - start):,.0f} mol/s "
                  "(one process)")  # fmt: skip
        for precision in precisions:
            ensemble_scores(model, store.select(np.arange(min(2048, len(store)))), precision=precision)  # warm-up
            start = time.perf_counter()
            ensemble_scores(model, store, precision=precision)
            print(f"  {name} {precision}: model only {len(smiles) / (time.perf_counter() - start):,.0f} mol/s")


def _test_auc(name: str) -> str:
    """The model's test ROC-AUC on its card (Tox21 scaffold split), for the table."""
    summary = load_model(name).card.get("metrics", {}).get("summary", {})
    value = summary.get("test_roc_auc_mean")
    return f"{100 * value:.1f}" if value is not None else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["tox21", "tox21-fast"], help="gnnpt models to screen with")
    ap.add_argument("--precisions", nargs="+", default=["fp32", "auto"], help="gnnpt screen --precision values")
    ap.add_argument("--work-dir", type=Path, default=ROOT / ".bench" / "screen")
    ap.add_argument("--chemprop-venv", type=Path, default=ROOT / ".bench" / "chemprop")
    ap.add_argument("--skip-chemprop", action="store_true")
    args = ap.parse_args()
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    exe = None if args.skip_chemprop else _chemprop_bin(args.chemprop_venv)
    chemprop_model = None if exe is None else _chemprop_model(exe, work)
    corpus = load_corpus("moses")["smiles"]
    print(f"CPU, {os.cpu_count()} cores; MOSES samples; gnnpt Tox21 models vs Chemprop 2.3.1 default sizes")
    print(
        "| molecules | engine | model (Tox21 test ROC-AUC) | precision | mol/s | peak RSS (MiB) | ratio to chemprop |"
    )
    print("|---:|---|---|---|---:|---:|---:|")
    for n in args.sizes:
        path = work / f"moses_{n}.csv"
        if not path.exists():
            corpus.sample(n, random_state=0).to_frame("smiles").to_csv(path, index=False)
        theirs_s = None
        if exe is not None:
            theirs_s, theirs_rss = _run([str(exe), "predict", "-i", str(path), "-s", "smiles", "--model-paths",
                                         str(chemprop_model), "-o", str(work / f"chemprop_{n}.csv"),
                                         "--num-workers", str(args.workers)])  # fmt: skip
            rate = n / theirs_s
            print(f"| {n:,} | chemprop predict | D-MPNN 300x3 | fp32 | {rate:,.0f} | {theirs_rss:,.0f} | 1.00x |",
                  flush=True)  # fmt: skip
        for name in args.models:
            outputs = {}
            for precision in args.precisions:
                outputs[precision] = work / f"gnnpt_{n}_{name}_{precision}.csv"
                ours_s, ours_rss = _run([str(Path(sys.executable).parent / "gnnpt"), "screen", str(path), "-o",
                                         str(outputs[precision]), "--model", name, "--workers", str(args.workers),
                                         "--precision", precision])  # fmt: skip
                ratio = f"{theirs_s / ours_s:.2f}x" if theirs_s else "-"
                print(f"| {n:,} | gnnpt screen | {name} ({_test_auc(name)}) | {precision} | {n / ours_s:,.0f} | "
                      f"{ours_rss:,.0f} | {ratio} |", flush=True)  # fmt: skip
            if len(outputs) > 1:
                frames = [pd.read_csv(f) for f in outputs.values()]
                tasks = load_model(name).output_names()
                gap = (frames[0][tasks] - frames[1][tasks]).abs().max().max()
                print(f"  {name}: largest score difference {' vs '.join(outputs)} = {gap:.4f}")
    sample = corpus.sample(min(20_000, len(corpus)), random_state=1).tolist()
    _model_only_rates(sample, args.workers, args.models, args.precisions)


if __name__ == "__main__":
    main()
