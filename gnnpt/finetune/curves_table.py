"""Tables, the average curve and its chart for the learning curves (:mod:`gnnpt.finetune.curves`), and where a job's
own label count sits on that curve."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gnnpt.finetune.curves import ALL, METHODS
from gnnpt.finetune.repeated import TDC
from gnnpt.finetune.repeated_table import METRIC_NAMES, provenance, save_png

PRETRAINED = ("minimol", "encoder")  # rows whose features come from a pretrained model alone
BASELINE = "forest"
COMPARED_AT = ("64", "128")
MARGIN = 5.0  # points the best pretrained-feature row should lead ECFP4 + forest by (issue 31)


def _sizes(values: pd.Series) -> list[str]:
    """Budgets in increasing order, ``all`` last."""
    present = set(values.astype(str))
    return sorted(present - {ALL}, key=int) + ([ALL] if ALL in present else [])


def _ordered(values: pd.Series, keys: tuple[str, ...]) -> list[str]:
    present = list(dict.fromkeys(values))
    return [k for k in keys if k in present] + [k for k in present if k not in keys]


def summarize(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, labels, method): the test score's mean and std over repeats, their count, and the
    labels used (training + validation rows; ``all`` and budgets as large as a set differ between sets)."""
    frame = cells.assign(used=cells.n_train + cells.n_valid)
    grouped = frame.groupby(["dataset", "labels", "method", "metric"], sort=False)
    out = grouped.test.agg(mean="mean", std=lambda s: s.std(ddof=0), repeats="count")
    out["used"] = grouped.used.mean()
    return out.reset_index()


def average_curve(cells: pd.DataFrame) -> pd.DataFrame:
    """The endpoint-agnostic curve: per (method, labels), the average over the run's endpoints of each endpoint's
    mean (``mean``) and of its std over repeats (``std``, the spread one endpoint's score shows from split to split),
    with ``x`` the labels as a number (for ``all``: the median over endpoints of the labels used) and ``sets`` the
    endpoints averaged. A (method, labels) missing an endpoint of the run has no row: its average would not compare."""
    summary = summarize(cells)
    n_sets = summary.dataset.nunique()
    rows = []
    for (method, labels), part in summary.groupby(["method", "labels"], sort=False):
        if part.dataset.nunique() < n_sets:
            continue
        x = float(part.used.median()) if labels == ALL else float(labels)
        rows.append({"method": method, "labels": labels, "x": x, "mean": part["mean"].mean(),
                     "std": part["std"].mean(), "sets": n_sets})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["method", "labels", "x", "mean", "std", "sets"])
    return frame.sort_values(["method", "x"], key=lambda c: c.map(_method_rank) if c.name == "method" else c)


def _method_rank(method: str) -> int:
    return list(METHODS).index(method) if method in METHODS else len(METHODS)


def _label(method: str) -> str:
    return METHODS[method].label if method in METHODS else method


def _wide(frame: pd.DataFrame, text: str) -> str:
    """Markdown: methods x budgets of ``frame`` (method, labels, mean, std), each cell ``text`` filled."""
    sizes = _sizes(frame.labels)
    lines = ["| method | " + " | ".join(sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for method in _ordered(frame.method, tuple(METHODS)):
        rows = frame[frame.method == method].set_index("labels")
        cells = [text.format(**rows.loc[s]) if s in rows.index else "—" for s in sizes]
        lines.append(f"| {_label(method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison(curve: pd.DataFrame, at: tuple[str, ...] = COMPARED_AT, margin: float = MARGIN) -> str:
    """Lines: at each budget of ``at``, the best pretrained-feature row (:data:`PRETRAINED`) against ECFP4 + forest
    on the average curve, and whether it leads by ``margin`` points or by how much it falls short; auto's rows
    beside them (blends that also hold ECFP trees)."""
    lines = []
    for labels in at:
        rows = curve[curve.labels == labels].set_index("method")["mean"]
        pretrained = rows.reindex(PRETRAINED).dropna()
        if BASELINE not in rows or pretrained.empty:
            lines.append(f"- {labels} labels: not measured (needs {BASELINE} and one of {', '.join(PRETRAINED)}).")
            continue
        best, lead = pretrained.idxmax(), pretrained.max() - rows[BASELINE]
        verdict = (f"leads by {margin:g} points or more" if lead >= margin
                   else f"**short of the {margin:g}-point lead by {margin - lead:.1f} points**")  # fmt: skip
        others = "; ".join(f"{m} {rows[m] - rows[BASELINE]:+.1f}" for m in ("auto", "auto_adapted") if m in rows)
        lines.append(f"- {labels} labels: best pretrained-feature row {best} {pretrained.max():.1f} against "
                     f"ECFP4 + forest {rows[BASELINE]:.1f}: {lead:+.1f} points, {verdict}"
                     + (f" (auto against the forest: {others})." if others else "."))  # fmt: skip
    return "\n".join(lines)


def markdown(cells: pd.DataFrame) -> str:
    """Every table of a run: the average curve with the comparison at 64 and 128 labels, each endpoint's curve, and
    the cells' provenance (commits, CPU)."""
    curve = average_curve(cells)
    summary = summarize(cells)
    sets = _ordered(summary.dataset, TDC)
    parts = [f"## Average over the {len(sets)} endpoints: test score by training labels (each endpoint's ROC-AUC or "
             f"PR-AUC %, mean over repeats; ± the endpoints' average std over repeats)\n",
             _wide(curve, "{mean:.1f} ± {std:.1f}"), "\n\n", comparison(curve), "\n"]  # fmt: skip
    for d in sets:
        part = summary[summary.dataset == d]
        metric = METRIC_NAMES[part.metric.iloc[0]]
        parts += [f"\n## {d} ({metric}; mean ± std over {part.repeats.max()} repeats)\n\n",
                  _wide(part, "{mean:.1f} ± {std:.1f}"), "\n"]  # fmt: skip
    parts.append(f"\n{provenance(cells)}\n")
    return "".join(parts)


def chart(curve: pd.DataFrame, path: str | Path) -> Path:
    """A PNG of the average curve: each method's score against the labels (log scale), a band of ± its std (needs
    matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in _ordered(curve.method, tuple(METHODS)):
        rows = curve[curve.method == method]
        line = ax.plot(rows.x, rows["mean"], marker="D" if method.startswith("auto") else "o", label=_label(method))
        ax.fill_between(rows.x, rows["mean"] - rows["std"], rows["mean"] + rows["std"], alpha=0.12,
                        color=line[0].get_color())  # fmt: skip
    ticks = curve.drop_duplicates("labels").sort_values("x")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks.x, [f"all (~{x:,.0f})" if s == ALL else s for s, x in zip(ticks.labels, ticks.x, strict=True)])
    ax.set_xlabel("training labels (training + validation rows)")
    ax.set_ylabel(f"test score, average over {int(curve.sets.max())} endpoints")
    ax.legend(fontsize=7, loc="lower right")
    return save_png(fig, path)


@dataclass(frozen=True)
class Placement:
    """Where ``labels`` labels sit on a method's average curve: the expected score and a range of ± the typical
    split-to-split std, interpolated on log labels; ``note`` when ``labels`` is outside the measured budgets."""

    method: str
    labels: int
    low: float
    expected: float
    high: float
    note: str = ""


def place_on_curve(curve: pd.DataFrame | str | Path, labels: int) -> list[Placement]:
    """For each method of an average curve (:func:`average_curve`, or its ``curve.csv``), the expected test score for
    a job with ``labels`` labels. Outside the curve's budgets the nearest end is given, with a note saying so."""
    if labels < 1:
        raise ValueError(f"labels={labels}: a job has at least one label")
    frame = curve if isinstance(curve, pd.DataFrame) else pd.read_csv(curve, dtype={"labels": str})
    out = []
    for method in _ordered(frame.method, tuple(METHODS)):
        rows = frame[frame.method == method].sort_values("x")
        x = np.log2(rows.x.to_numpy(float))
        at = math.log2(labels)
        mean = float(np.interp(at, x, rows["mean"]))
        std = float(np.interp(at, x, rows["std"]))
        note = ""
        if at < x[0] or at > x[-1]:
            end, n = ("fewest", rows.x.iloc[0]) if at < x[0] else ("most", rows.x.iloc[-1])
            note = f"outside the measured budgets: the curve's {end} labels ({n:,.0f})"
        out.append(Placement(method, labels, mean - std, mean, mean + std, note))
    return out


def write(cells: pd.DataFrame, out: str | Path, charts: bool = True) -> str:
    """Write ``tables.md``, ``curve.csv`` (the average curve, for :func:`place_on_curve`) and ``chart.png``
    (with ``charts``, when matplotlib is installed) into ``out``; return the tables' text."""
    out = Path(out)
    text = markdown(cells)
    (out / "tables.md").write_text(text)
    curve = average_curve(cells)
    curve.to_csv(out / "curve.csv", index=False)
    if charts and not curve.empty:
        chart(curve, out / "chart.png")
    return text
