"""How much slower the thread-pooled work of ``--model auto`` and MiniMol scoring gets beside other busy processes.

Each workload runs in a fresh process (so the environment defaults of ``import gnnpt`` apply as a user gets them),
first on an otherwise idle machine, then beside ``--busy`` processes running ``yes > /dev/null`` (started here, each
ended by ``timeout`` after ``--timeout`` seconds at the latest). Threads that spin while they wait for each other
(OpenMP's and ONNX Runtime's defaults) lose their time slices to the busy processes, so the loaded/idle ratio shows
whether waiting threads sleep. Each figure is wall seconds with CPU seconds (every thread) in brackets: spinning
threads burn CPU while they wait, sleeping ones do not, so the CPU figure tells the two apart even where other work
loads the machine (the load average is printed beside each row).

- ``forest``: one LightGBM random-forest fit as ``auto`` trains it (ECFP4 bits of BBBP's scaffold training part);
- ``minimol``: MiniMol fingerprints of 500 BBBP molecules (a fresh cache: nothing is cached);
- ``auto``: ``gnnpt finetune --model auto`` end to end on BBBP's first 500 molecules (fresh cache);
- ``tox21``: the shipped ``tox21`` model (MiniMol-fed) scoring 2,845 molecules (Tox21's first), loaded beforehand:
  issue 30's goal is at most 3x its idle time beside four busy processes.

    GNNPT_DATA_DIR=../shared/datasets/moleculenet python benchmarks/busy_neighbours.py --busy 4
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CASES = ("forest", "minimol", "tox21", "auto")
MOLECULES = 500
SCORED = 2_845  # molecules the tox21 case scores (issue 30 names this count)


Timing = tuple[float, float]  # wall seconds, CPU seconds (every thread; spinning threads inflate it)
NOT_DONE = (math.inf, math.nan)


def _timed(run: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def _forest(cache: Path) -> Timing:
    """One forest fit (the parameters of ``gnnpt.finetune.auto._train``'s ``forest``) on BBBP's training part."""
    import numpy as np

    from gnnpt.datasets import load, scaffold_split
    from gnnpt.featurization.cache import cached_features
    from gnnpt.finetune.tabular import TreeParams, fit_trees

    data = load("bbbp")
    x = np.asarray(cached_features(data.smiles, "ecfp4", cache_dir=cache), np.float32)
    split = scaffold_split(data.smiles)
    params = TreeParams(boosting="rf", n_estimators=500, num_leaves=255, min_child_samples=1, colsample_bytree=0.2,
                        subsample=0.632)  # fmt: skip
    return _timed(lambda: fit_trees(x, data.targets, split, "classification", data.task_names, ["ecfp4"],
                                    params=params))  # fmt: skip


def _minimol(cache: Path) -> Timing:
    """MiniMol fingerprints of 500 molecules, the ONNX session's creation included."""
    from gnnpt.datasets import load
    from gnnpt.featurization.cache import cached_features

    smiles = load("bbbp").smiles[:MOLECULES]
    return _timed(lambda: cached_features(smiles, "minimol", cache_dir=cache))


def _tox21(cache: Path) -> Timing:
    """The shipped ``tox21`` model scoring :data:`SCORED` molecules (its load, outside the timing, warms it up)."""
    import gnnpt
    from gnnpt.datasets import load

    smiles = load("tox21").smiles[:SCORED]
    model = gnnpt.load("tox21")
    model.predict(smiles[:8])
    return _timed(lambda: model.predict(smiles))


def _auto(workdir: Path) -> list[str]:
    """The ``gnnpt finetune --model auto`` command line on BBBP's first 500 molecules (its CSV written here)."""
    from gnnpt.datasets import load

    data = load("bbbp")
    path = workdir / "bbbp500.csv"
    frame = data.frame.iloc[:MOLECULES]
    frame.to_csv(path, index=False)
    return [sys.executable, "-m", "gnnpt.cli.main", "finetune", "--data", str(path), "--targets", data.task_names[0],
            "--model", "auto", "-o", str(workdir / "model")]  # fmt: skip


def _child(case: str, workdir: Path) -> None:
    """Run one measured workload in this (fresh) process and print its wall and CPU seconds."""
    print(json.dumps({"forest": _forest, "minimol": _minimol, "tox21": _tox21}[case](workdir / "cache")))


def _measure(case: str, timeout: float, environ: dict[str, str]) -> Timing:
    """Wall and CPU seconds of ``case`` in a fresh process given ``environ``: the workload's own for forest, minimol
    and tox21, the whole command's (its waited-for children included) for auto; :data:`NOT_DONE` past ``timeout``."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = {**environ, "GNNPT_CACHE_DIR": str(workdir / "cache")}
        if case == "auto":
            cmd = _auto(workdir)
        else:
            cmd = [sys.executable, __file__, "--child", case, "--workdir", str(workdir)]
        start, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return NOT_DONE
        if done.returncode != 0:
            raise RuntimeError(f"{case} failed:\n{done.stderr[-3000:]}")
        if case == "auto":
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime
            return time.perf_counter() - start, cpu
        wall, cpu = json.loads(done.stdout.strip().splitlines()[-1])
        return wall, cpu


def _busy(count: int, lifetime: float) -> list[subprocess.Popen]:
    """``count`` processes running ``yes > /dev/null``, each ended by ``timeout`` after ``lifetime`` s at the latest."""
    return [subprocess.Popen(["timeout", str(int(lifetime)), "yes"], stdout=subprocess.DEVNULL) for _ in range(count)]


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()  # timeout passes SIGTERM on to yes
        proc.wait()


def _show(timing: Timing, timeout: float) -> str:
    return f"> {timeout:.0f}" if timing == NOT_DONE else f"{timing[0]:.1f} ({timing[1]:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--busy", type=int, default=4, help="busy processes beside the loaded run")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a run may take before it counts as > this")
    parser.add_argument("--child", choices=CASES[:3], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.workdir)
        return

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # the busy processes end on the way out
    environ = dict(os.environ)  # what the user gave: the workloads' processes set gnnpt's defaults themselves
    given = {k: environ.get(k, "unset") for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    from gnnpt.runtime import available_cores, cpu_name

    print(f"CPU {cpu_name()}, {available_cores()} cores available; environment given: {given}", flush=True)
    print(f"| workload | idle: wall s (CPU s) | beside {args.busy} busy: wall s (CPU s) | loaded/idle (wall) "
          "| load average, idle / loaded run |\n|---|---:|---:|---:|---:|", flush=True)  # fmt: skip
    for case in args.cases:
        load_idle = os.getloadavg()[0]
        idle = _measure(case, args.timeout, environ)
        busy = _busy(args.busy, args.timeout + 60)
        try:
            time.sleep(1)  # the busy processes are running before the workload starts
            load_busy = os.getloadavg()[0]
            loaded = _measure(case, args.timeout, environ)
        finally:
            _stop(busy)
        shown = " | ".join(_show(t, args.timeout) for t in (idle, loaded))
        print(f"| {case} | {shown} | {loaded[0] / idle[0]:.1f} | {load_idle:.1f} / {load_busy:.1f} |", flush=True)


if __name__ == "__main__":
    main()
