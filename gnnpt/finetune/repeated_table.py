"""Tables and a chart of the repeated-split evaluation (:mod:`gnnpt.finetune.repeated`): mean ± std over splits per
endpoint, each method's mean rank over endpoints, ``auto`` against the best single peer, Hu et al.'s split apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnnpt.finetune.repeated import ENDPOINTS, HU, METHODS, PEERS, higher_is_better

METRIC_NAMES = {"roc_auc": "ROC-AUC %", "pr_auc": "PR-AUC %", "rmse": "RMSE"}


def summarize(cells: pd.DataFrame, hu: bool = False) -> pd.DataFrame:
    """One row per (dataset, method): the test metric's mean and std over the repeated splits (``hu=True``: Hu et
    al.'s split alone), the number of splits and the total wall time."""
    part = cells[(cells.split == HU) == hu]
    grouped = part.groupby(["dataset", "method", "metric"], sort=False)
    out = grouped.test.agg(mean="mean", std=lambda s: s.std(ddof=0), splits="count")
    out["wall_s"] = grouped.wall_s.sum()
    return out.reset_index()


def _order(values: pd.Series, keys: tuple[str, ...]) -> list[str]:
    present = list(dict.fromkeys(values))
    return [k for k in keys if k in present] + [k for k in present if k not in keys]


def mean_ranks(summary: pd.DataFrame) -> pd.Series:
    """Each method's mean rank over the endpoints that every method of ``summary`` has (1 = best; ties share)."""
    wide = summary.pivot(index="dataset", columns="method", values="mean").dropna()
    metric = summary.drop_duplicates("dataset").set_index("dataset").metric
    ranks = [wide.loc[d].rank(ascending=not higher_is_better(metric[d]), method="average") for d in wide.index]
    return pd.DataFrame(ranks).mean().rename("mean_rank") if ranks else pd.Series(dtype=float, name="mean_rank")


def _cell(mean: float, std: float, digits: int) -> str:
    return "—" if pd.isna(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def score_table(summary: pd.DataFrame, regression: bool) -> str:
    """Markdown: methods x endpoints (classification: their average and mean rank; regression: RMSE, mean rank)."""
    part = summary[(summary.metric == "rmse") == regression]
    if part.empty:
        return ""
    datasets = _order(part.dataset, ENDPOINTS)
    methods = _order(part.method, tuple(METHODS))
    metric = part.drop_duplicates("dataset").set_index("dataset").metric
    ranks = mean_ranks(part)
    digits = 3 if regression else 1
    head = [f"{d} ({METRIC_NAMES[metric[d]]})" for d in datasets]
    extra = ["mean rank"] if regression else ["average", "mean rank"]
    lines = ["| method | " + " | ".join(head + extra) + " |", "|---|" + "---:|" * (len(head) + len(extra))]
    for m in methods:
        rows = part[part.method == m].set_index("dataset")
        cells = [_cell(rows.at[d, "mean"], rows.at[d, "std"], digits) if d in rows.index else "—" for d in datasets]
        if not regression:
            complete = set(datasets) <= set(rows.index)
            cells.append(f"{rows.reindex(datasets)['mean'].mean():.1f}" if complete else "—")
        cells.append(f"{ranks[m]:.2f}" if m in ranks else "—")
        lines.append(f"| {METHODS[m].label if m in METHODS else m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def auto_against_peers(summary: pd.DataFrame) -> str:
    """Markdown: per endpoint, ``auto``'s mean beside the best single peer's (by its mean over splits) and the
    difference; then the count of endpoints where auto is at or above the best peer, and the averages."""
    part = summary[summary.metric != "rmse"]
    auto = part[part.method == "auto"].set_index("dataset")
    peers = part[part.method.isin(PEERS)]
    if auto.empty or peers.empty:
        return ""
    lines = ["| endpoint | auto | best peer | peer | auto − peer |", "|---|---:|---:|---|---:|"]
    diffs, best_means = [], []
    for d in _order(auto.index.to_series(), ENDPOINTS):
        candidates = peers[peers.dataset == d]
        if candidates.empty:
            continue
        best = candidates.loc[candidates["mean"].idxmax()]
        diff = auto.at[d, "mean"] - best["mean"]
        diffs.append(diff)
        best_means.append(best["mean"])
        lines.append(f"| {d} | {auto.at[d, 'mean']:.1f} | {best['mean']:.1f} | {best.method} | {diff:+.1f} |")
    wins = int(np.sum(np.asarray(diffs) >= 0))
    lines.append(f"\nauto at or above the best single peer on **{wins} of {len(diffs)}** classification endpoints; "
                 f"average auto {np.mean(best_means) + np.mean(diffs):.1f} against the best peers' "
                 f"{np.mean(best_means):.1f} ({np.mean(diffs):+.2f}).")  # fmt: skip
    return "\n".join(lines)


def markdown(cells: pd.DataFrame) -> str:
    """Every table of a run: classification and regression over the repeated splits, auto against the best peer,
    Hu et al.'s split, and the cells' provenance (commits, CPU)."""
    summary = summarize(cells)
    parts = ["## Classification endpoints: test score, mean ± std over the scaffold splits\n",
             score_table(summary, regression=False),
             "\n\n## Regression endpoints: test RMSE, mean ± std over the scaffold splits\n",
             score_table(summary, regression=True),
             "\n\n## auto against the best single peer (per endpoint, by the peers' means over splits)\n",
             auto_against_peers(summary)]  # fmt: skip
    hu = summarize(cells, hu=True)
    if not hu.empty:
        title = "\n\n## Hu et al.'s deterministic scaffold split (one split; for comparison with the literature)\n"
        parts += [title, score_table(hu.assign(std=0.0), False), "\n", score_table(hu.assign(std=0.0), True)]
    parts.append(f"\n\n{provenance(cells)}\n")
    return "".join(parts)


def provenance(cells: pd.DataFrame) -> str:
    """A line: how many cells, the commits and CPUs that made them, and their fitting time."""
    commits = ", ".join(sorted(cells.commit.astype(str).unique()))
    cpus = "; ".join(sorted(cells.cpu.astype(str).unique()))
    return f"Cells: {len(cells)}; commits {commits}; CPU {cpus}; {cells.wall_s.sum() / 3600:.1f} h of fitting."


def rank_chart(cells: pd.DataFrame, path: str | Path) -> Path:
    """A PNG: per classification endpoint, each method's mean test score minus the ECFP4 forest's (needs
    matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(cells)
    part = summary[summary.metric != "rmse"]
    wide = part.pivot(index="dataset", columns="method", values="mean")
    if "forest" not in wide:
        raise ValueError("the chart is drawn against the forest row, which this run does not have")
    delta = wide.sub(wide["forest"], axis=0).drop(columns="forest")
    datasets = _order(delta.index.to_series(), ENDPOINTS)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(datasets) + 1.5))
    for k, m in enumerate(_order(delta.columns.to_series(), tuple(METHODS))):
        y = np.arange(len(datasets)) + (k - len(delta.columns) / 2) * 0.08
        ax.scatter(delta.reindex(datasets)[m], y, s=18, label=m, marker="D" if m == "auto" else "o")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(datasets)), datasets)
    ax.invert_yaxis()
    ax.set_xlabel("test score − ECFP4 + random forest (points; mean over scaffold splits)")
    ax.legend(fontsize=7, loc="lower right")
    return save_png(fig, path)


def save_png(fig: Any, path: str | Path) -> Path:
    """Write a matplotlib figure to ``path`` (its folder made) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
