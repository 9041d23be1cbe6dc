"""End-to-end screening throughput and peak memory: ``gnnpt screen`` vs ``chemprop predict``, side by side.

Both read the same SMILES file sampled from MOSES and write a scores file; each runs as its own process and is
timed wall-clock with its peak RSS (its process tree's largest ``ru_maxrss``). gnnpt scores with the shipped
default model (Hu GIN 5x300, 12 Tox21 tasks); Chemprop v2 with a default-size model (D-MPNN depth 3, hidden
300, FFN 300) trained for one epoch on Tox21 here, since only its size matters for speed. Chemprop is installed
into its own virtual environment (``--chemprop-venv``, created when missing, torch pinned to this project's).
Also prints gnnpt's model-only rate (scoring pre-featurized graphs) to show the featurization share.

    python benchmarks/screen_throughput.py --sizes 100000 --workers 2
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from rdkit import Chem, RDLogger

import gnnpt
from gnnpt.datasets import load as load_dataset
from gnnpt.datasets.corpora import load_corpus
from gnnpt.registry import load as load_model

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
    """Wall seconds and peak RSS (MiB) of ``cmd`` run to completion as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


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


def _model_only_rate(smiles: list[str], workers: int) -> tuple[float, float]:
    """gnnpt featurization rate and scoring rate (molecules/s) measured separately in this process."""
    model = load_model()
    start = time.perf_counter()
    store = gnnpt.featurize(smiles, workers=workers)
    featurize_s = time.perf_counter() - start
    start = time.perf_counter()
    model.predict_store(store)
    return len(smiles) / featurize_s, len(smiles) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work-dir", type=Path, default=ROOT / ".bench" / "screen")
    ap.add_argument("--chemprop-venv", type=Path, default=ROOT / ".bench" / "chemprop")
    ap.add_argument("--skip-chemprop", action="store_true")
    args = ap.parse_args()
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    exe = None if args.skip_chemprop else _chemprop_bin(args.chemprop_venv)
    chemprop_model = None if exe is None else _chemprop_model(exe, work)
    corpus = load_corpus("moses")["smiles"]
    print(f"CPU, {os.cpu_count()} cores; MOSES samples; gnnpt default Tox21 model vs Chemprop 2.3.1 default sizes")
    print("| molecules | gnnpt screen (mol/s) | gnnpt peak RSS (MiB) | chemprop predict (mol/s) | chemprop peak RSS "
          "(MiB) | ratio |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        path = work / f"moses_{n}.csv"
        if not path.exists():
            corpus.sample(n, random_state=0).to_frame("smiles").to_csv(path, index=False)
        ours_s, ours_rss = _run([str(Path(sys.executable).parent / "gnnpt"), "screen", str(path), "-o",
                                 str(work / f"gnnpt_{n}.csv"), "--workers", str(args.workers)])  # fmt: skip
        row = f"| {n:,} | {n / ours_s:,.0f} | {ours_rss:,.0f} |"
        if exe is not None:
            theirs_s, theirs_rss = _run([str(exe), "predict", "-i", str(path), "-s", "smiles", "--model-paths",
                                         str(chemprop_model), "-o", str(work / f"chemprop_{n}.csv"),
                                         "--num-workers", str(args.workers)])  # fmt: skip
            row += f" {n / theirs_s:,.0f} | {theirs_rss:,.0f} | {theirs_s / ours_s:.2f}x |"
        else:
            row += " not run | not run | - |"
        print(row, flush=True)
    sample = corpus.sample(min(20_000, len(corpus)), random_state=1).tolist()
    featurize_rate, score_rate = _model_only_rate(sample, args.workers)
    print(f"gnnpt on {len(sample):,} molecules in one process: featurize {featurize_rate:,.0f} mol/s "
          f"({args.workers} workers), model only {score_rate:,.0f} mol/s")  # fmt: skip


if __name__ == "__main__":
    main()
