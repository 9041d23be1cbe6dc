"""A resumable grid of evaluation cells: each finished cell is one row appended to a CSV, stamped with the commit and
the CPU that produced it, so a stopped run resumes where it stopped. Cells run one after another in this process, or
as Ray tasks (``engine="ray"``). Used by the repeated-split evaluation and the learning curves."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

ENGINES = ("local", "ray")


def commit() -> str:
    """The checked-out commit (with ``+dirty`` when tracked files differ from it), or ``unknown`` outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "gnnpt"], cwd=root).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def plain(value: Any) -> Any:
    """numpy values in a record, as JSON takes them."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def read_cells(path: Path, keys: Sequence[str]) -> pd.DataFrame:
    """The rows of the cells CSV at ``path`` (key columns as text), empty when there is none yet."""
    return pd.read_csv(path, dtype=dict.fromkeys(keys, str)) if path.is_file() else pd.DataFrame()


def done_cells(path: Path, keys: Sequence[str] = ("dataset", "split", "method")) -> set[tuple[str, ...]]:
    """The cells (tuples of the ``keys`` columns) the CSV at ``path`` already holds."""
    frame = read_cells(path, keys)
    return set(zip(*(frame[k] for k in keys), strict=True)) if len(frame) else set()


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one row to the CSV at ``path`` (with the header when the file is new)."""
    pd.DataFrame([row]).to_csv(path, mode="a", header=not path.is_file(), index=False)


def run_grid(cells: Sequence[tuple[str, ...]], run: Callable[..., dict[str, Any]], path: Path,
             keys: Sequence[str], engine: str = "local", log: Callable[[str], None] | None = print,
             describe: Callable[[dict[str, Any]], str] = str) -> pd.DataFrame:  # fmt: skip
    """Run ``run(*cell)`` for every cell not yet in the CSV at ``path`` (a cell is its row's ``keys`` values, as
    text), appending each row as it finishes, and return all rows. ``describe(row)`` names a cell in progress lines.

    ``engine="ray"``: the cells run as Ray tasks (``ray.init()``: a local cluster of this machine's cores, or the
    cluster that ``RAY_ADDRESS`` names); rows are appended as tasks finish."""
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: choose local or ray")
    path.parent.mkdir(parents=True, exist_ok=True)
    done = done_cells(path, keys)
    todo = [c for c in cells if tuple(c) not in done]
    if log:
        log(f"{len(cells) - len(todo)} cells done, {len(todo)} to run ({path})")
    began = time.perf_counter()

    def finished(k: int, row: dict[str, Any]) -> None:
        append_row(path, row)
        if log:
            left = (time.perf_counter() - began) / k * (len(todo) - k)
            log(f"[{k}/{len(todo)}] {describe(row)}: test {row['test']:.3f} {row['metric']} ({row['wall_s']:.0f} s; "
                f"about {left / 60:.0f} min left at this pace)")  # fmt: skip

    if engine == "ray":
        _run_ray(todo, run, finished)
    else:
        for k, cell in enumerate(todo, 1):
            finished(k, run(*cell))
    return read_cells(path, keys)


def _run_ray(cells: list[tuple[str, ...]], run: Callable[..., dict[str, Any]],
             finished: Callable[[int, dict[str, Any]], None]) -> None:  # fmt: skip
    try:
        import ray
    except ImportError:
        raise ImportError("--engine ray needs Ray: pip install 'gnnpt[ray]'") from None
    if not ray.is_initialized():
        ray.init(log_to_driver=False)
    remote = ray.remote(num_cpus=1)(run)
    pending = [remote.remote(*cell) for cell in cells]
    k = 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        k += 1
        finished(k, ray.get(ready[0]))
