"""Measurements issue 31 asks of adaptation jobs, to run on a machine with the cores to spare (not yet run).

    export GNNPT_DATA_DIR=../shared/datasets/moleculenet GNNPT_TDC_DIR=../shared/datasets/tdc
    # cost: a 500-molecule job with 3,000 unlabeled molecules, the job's defaults, beside four busy processes
    python finetune/adaptation_check.py cost --busy 4 -o runs/adaptation_cost
    # does the adaptive candidate pay? each TDC set, its own molecules as the library, the job's defaults
    python finetune/adaptation_check.py tdc -o runs/adaptation_tdc

Each job runs in this process with its own job store and model store under the output folder; a row per job goes
to ``rows.jsonl`` (resumable: a set already there is not run again) and the TDC table to ``table.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import pandas as pd

TDC_SETS = ("hia_hou", "pgp_broccatelli", "bioavailability_ma", "bbb_martins", "cyp2c9_veith", "cyp2d6_veith",
            "cyp3a4_veith", "cyp2c9_substrate_carbonmangels", "cyp2d6_substrate_carbonmangels",
            "cyp3a4_substrate_carbonmangels")  # fmt: skip


def run_job(out: Path, name: str, labeled: pd.DataFrame, library: list[str]) -> dict:
    """One adaptation job with the defaults; its wall time per stage from the log, and its report."""
    from gnnpt.adaptation.jobs import JobStore
    from gnnpt.adaptation.runner import run_job as run
    from gnnpt.adaptation.spec import AdaptationSpec
    from gnnpt.adaptation.submit import submit_job

    os.environ["GNNPT_MODEL_DIR"] = str(out / "models")
    store = JobStore(out / "jobs")
    labeled.to_csv(out / f"{name}_labeled.csv", index=False)
    pd.DataFrame({"smiles": library}).to_csv(out / f"{name}_library.csv", index=False)
    start = time.perf_counter()
    job = submit_job(store, "check", AdaptationSpec(name=name, targets=["y"]), out / f"{name}_labeled.csv",
                     out / f"{name}_library.csv")  # fmt: skip
    run(store, store.claim(os.getpid(), job.id))
    done = store.get(job.id)
    cv = (done.metrics or {}).get("cross_validation", {})
    return {"name": name, "status": done.status, "error": done.error, "wall_s": round(time.perf_counter() - start, 1),
            "labels": len(labeled), "library": len(library), "methods": cv.get("methods"),
            "comparison": cv.get("comparison"), "chosen": (done.metrics or {}).get("model_choice", {}).get("weights"),
            "log": (store.folder(job.id) / "log.txt").read_text().splitlines()}  # fmt: skip


def tdc_frame(name: str) -> pd.DataFrame:
    """A TDC set's SMILES and labels (column ``y``)."""
    from gnnpt.datasets import load

    ds = load(name)
    return pd.DataFrame({"smiles": ds.smiles, "y": ds.targets[:, 0]})


def cost(out: Path, busy: int) -> None:
    """500 labeled molecules of CYP3A4 (Veith) and 3,000 others as the library, beside ``busy`` ``yes`` processes."""
    frame = tdc_frame("cyp3a4_veith").sample(frac=1.0, random_state=0)
    hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(busy)]
    try:
        row = run_job(out, f"cost_busy{busy}", frame.iloc[:500], frame["smiles"].iloc[500:3500].tolist())
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    row["busy"] = busy
    with (out / "rows.jsonl").open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(f"{row['status']} in {row['wall_s']} s beside {busy} busy processes (goal: under 300 s)")


def tdc(out: Path) -> None:
    """Every TDC set with its own molecules as the library; the table: recipe against the recipe without the
    adapted encoder (mean ± std over the report's folds) and the verdict."""
    rows_path = out / "rows.jsonl"
    done = {json.loads(line)["name"] for line in rows_path.read_text().splitlines()} if rows_path.exists() else set()
    for name in TDC_SETS:
        if name in done:
            continue
        frame = tdc_frame(name)
        row = run_job(out, name, frame, frame["smiles"].tolist())
        with rows_path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"{name}: {row['status']} in {row['wall_s']} s; {(row['comparison'] or {}).get('verdict')}")
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    lines = ["| set | recipe | without adapted encoder | ECFP4 + forest | MiniMol + head | verdict |",
             "|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for r in rows:
        m = r["methods"] or {}
        cells = [f"{m[k]['mean']:.3f} ± {m[k]['std'] or 0:.3f}" if k in m and m[k]["mean"] is not None else "—"
                 for k in ("recipe", "without_adaptation", "forest", "minimol")]  # fmt: skip
        lines.append(f"| {r['name']} | {' | '.join(cells)} | {(r['comparison'] or {}).get('verdict', r['error'])} |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("cost", "tdc"))
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--busy", type=int, default=4, help="busy processes beside the cost job")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "cost":
        cost(args.out, args.busy)
    else:
        tdc(args.out)


if __name__ == "__main__":
    main()
