"""Per-core throughput of ``gnnpt screen --engine ray`` against the local engine, and the Ray driver's peak memory.

Every figure is one ``gnnpt screen`` command run to completion as a child process (wall clock, from start to exit:
Python, torch and the model loading, the actors starting, scoring, writing; ``screen_throughput._run``), on SMILES
files sampled from MOSES as ``screen_throughput.py`` samples them:

- the local engine (``--workers 0``: featurization processes on every core, the model beside them);
- Ray on one node: a cluster started for it (``ray start --head --num-cpus 2``), the command joining it through
  ``RAY_ADDRESS`` (one actor per CPU);
- Ray on two nodes on this machine: ``ray start --head --num-cpus 1``, then ``ray start --address=... --num-cpus 1``;
- Ray started by the command itself (``ray.init()`` without ``RAY_ADDRESS``), on ``--tiny`` molecules: the cost of
  starting a local Ray instance, which a running cluster does not pay;
- the Ray driver's peak RSS (the ``gnnpt screen`` process; the actors are the cluster's processes, not its children)
  on the one-node cluster at each of ``--rss-sizes``.

Each setup first screens ``--tiny`` molecules (twice, the second timed): its fixed cost (start, model and actor
loading), which the table also takes out of the throughput ("net"), the rate a long run approaches.

Per-core throughput divides by the cores the run had: the machine's for the local engine, the cluster's CPUs for
Ray (here the same cores; the driver shares them with the actors, as the local engine's model shares them with its
featurization processes). Each Ray output is checked equal to the local engine's (same chunk and batch sizes).
The Ray clusters started here are stopped at the end (``ray stop --force``).

    python benchmarks/ray_throughput.py --size 100000 --rss-sizes 20000 100000 --model tox21-fast
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from gnnpt.datasets.corpora import load_corpus
from gnnpt.runtime import available_cores, cpu_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screen_throughput import _run  # the one way to time a command and read its peak RSS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PORT = "6379"


def _library(n: int, work: Path) -> Path:
    """``n`` MOSES molecules (the sample ``screen_throughput.py`` screens, same file), written once."""
    path = work / f"moses_{n}.csv"
    if not path.exists():
        load_corpus("moses")["smiles"].sample(n, random_state=0).to_frame("smiles").to_csv(path, index=False)
    return path


def _ray(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(BIN / "ray"), *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _start_cluster(cpus_per_node: list[int]) -> None:
    """A Ray cluster on this machine: a head node, then one more node per further entry, with those CPUs each."""
    from ray.util import get_node_ip_address

    _ray("start", "--head", "--port", PORT, "--num-cpus", str(cpus_per_node[0]), "--include-dashboard=false",
         "--disable-usage-stats")  # fmt: skip
    for cpus in cpus_per_node[1:]:  # the head made a token (~/.ray/auth_token); a joining node must present it
        _ray("start", f"--address={get_node_ip_address()}:{PORT}", "--num-cpus", str(cpus), "--disable-usage-stats",
             env={**os.environ, "RAY_AUTH_MODE": "token"})  # fmt: skip


def _screen(path: Path, out: Path, model: str, engine: str, address: str | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one ``gnnpt screen`` run."""
    cmd = [str(BIN / "gnnpt"), "screen", str(path), "-o", str(out), "--model", model, "--precision", "fp32",
           "--engine", engine]  # fmt: skip
    env = {"RAY_ADDRESS": address} if address else {}
    if not address:
        os.environ.pop("RAY_ADDRESS", None)
    return _run(cmd, env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000, help="molecules of the throughput runs")
    ap.add_argument("--rss-sizes", type=int, nargs=2, default=[20_000, 100_000], help="the Ray driver's peak RSS at")
    ap.add_argument("--tiny", type=int, default=100, help="molecules of the runs that time each setup's fixed cost")
    ap.add_argument("--model", default="tox21-fast")
    ap.add_argument("--work-dir", type=Path, default=ROOT / ".bench" / "screen")
    args = ap.parse_args()
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    cores = available_cores()
    print(f"CPU: {cpu_name()}, {cores} cores; model {args.model}, fp32; MOSES samples; gnnpt screen, default chunk "
          "and batch sizes (10,000 / 1,024)", flush=True)  # fmt: skip
    tiny = _library(args.tiny, work)
    rows, fixed = [], {}

    def run(setup: str, n: int, address: str | None, compare: bool = False) -> None:
        """One timed run; the first run of each setup screens ``--tiny`` molecules to time its fixed cost."""
        engine = "local" if setup == "local engine" else "ray"
        if setup not in fixed:  # twice: the first run also waits for a new cluster's own processes to settle
            for _ in range(2):
                fixed[setup] = _screen(tiny, work / "ray_bench_tiny.csv", args.model, engine, address)[0]
            print(f"  {setup}, {args.tiny} molecules (fixed cost): {fixed[setup]:.1f} s", flush=True)
        out = work / f"ray_bench_{len(rows)}.csv"
        seconds, rss = _screen(_library(n, work), out, args.model, engine, address)
        same = "yes" if pd.read_csv(out).equals(pd.read_csv(work / "ray_bench_0.csv")) else "NO"
        rows.append((setup, n, seconds, rss, same if compare else "-"))
        print(f"  {setup}, {n:,} molecules: {seconds:.1f} s, {n / seconds:,.0f} mol/s, peak RSS {rss:,.0f} MiB",
              flush=True)  # fmt: skip

    run("local engine", args.size, None)
    try:
        _start_cluster([cores])
        one = "Ray, one node (ray start --head)"
        for n in sorted({args.size, *args.rss_sizes}):
            run(one, n, "auto", compare=n == args.size)
        _ray("stop", "--force")
        _start_cluster([1] * cores)
        run(f"Ray, {cores} nodes of 1 CPU", args.size, "auto", compare=True)
        _ray("stop", "--force")
        init = _screen(tiny, work / "ray_bench_tiny.csv", args.model, "ray")[0]
        print(f"  Ray started by the command (ray.init(), {cores} CPUs), {args.tiny} molecules: {init:.1f} s")
    finally:
        _ray("stop", "--force")
    local_rate = args.size / rows[0][2] / cores
    local_net = args.size / (rows[0][2] - fixed["local engine"]) / cores
    print(f"\nfixed cost ({args.tiny} molecules, wall s): " + ", ".join(f"{k} {v:.1f}" for k, v in fixed.items())
          + f", Ray started by the command {init:.1f}")  # fmt: skip
    print("\n| setup | molecules | cores | wall s | mol/s | mol/s per core | per core, / local | net of fixed cost: "
          "mol/s per core | net, / local | driver peak RSS (MiB) | output = local |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for setup, n, seconds, rss, same in rows:
        per_core, net = n / seconds / cores, n / (seconds - fixed[setup]) / cores
        print(
            f"| {setup} | {n:,} | {cores} | {seconds:.1f} | {n / seconds:,.0f} | {per_core:,.0f} | "
            f"{per_core / local_rate:.2f}x | {net:,.0f} | {net / local_net:.2f}x | {rss:,.0f} | {same} |"
        )


if __name__ == "__main__":
    main()
