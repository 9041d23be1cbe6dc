"""How long the service takes to load a model (its first request waits for it), with MiniMol's Laplacian
eigendecompositions on one OpenBLAS thread (gnnpt's ``one_blas_thread``) against OpenBLAS's default thread count,
side by side in fresh processes, idle and beside ``--busy`` processes running ``yes > /dev/null``.

OpenBLAS's threads busy-wait between calls, and MiniMol's inputs make thousands of small LAPACK calls: beside one
busy process on 2 cores, the models that read MiniMol fingerprints took 20-43 s to load (the cost probes score
molecules of up to 200 atoms), past the 15 s a request waits for a load (503).

    python benchmarks/model_load.py --models tox21 sider esol tox21-fast --busy 0 1 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time

CHILD = """
import contextlib, json, sys, time
import gnnpt.featurization.minimol_inputs as inputs
from gnnpt.api.service import ModelService
from gnnpt.api.settings import Settings

if sys.argv[2] == "default":  # OpenBLAS as numpy and scipy start it: one thread per core
    inputs.one_blas_thread = contextlib.nullcontext
service = ModelService(Settings(adaptation_workers=0))
start = time.perf_counter()
service._load(sys.argv[1])
print(json.dumps(time.perf_counter() - start))
"""


def _load_seconds(model: str, blas: str, timeout: float) -> float:
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, model, blas], capture_output=True, text=True,
                              timeout=timeout, check=True)  # fmt: skip
    except subprocess.TimeoutExpired:
        return float("inf")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["tox21", "sider", "esol", "tox21-fast"])
    parser.add_argument("--busy", nargs="+", type=int, default=[0, 1], help="busy processes beside each load")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    from gnnpt.runtime import available_cores, cpu_name

    print(f"CPU {cpu_name()}, {available_cores()} cores available")
    print("| model | busy processes | load s, OpenBLAS default threads | load s, one BLAS thread (gnnpt) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for busy in args.busy:
        procs = [subprocess.Popen(["timeout", str(int(args.timeout * 4 * len(args.models))), "yes"],
                                  stdout=subprocess.DEVNULL) for _ in range(busy)]  # fmt: skip
        try:
            time.sleep(1 if busy else 0)
            for model in args.models:
                default, one = (_load_seconds(model, blas, args.timeout) for blas in ("default", "one"))
                print(f"| {model} | {busy} | {default:.2f} | {one:.2f} | {default / one:.1f}x |", flush=True)
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
