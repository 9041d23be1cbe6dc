"""Benchmark results as Markdown tables (one per protocol, reference rows labelled) and one bar chart per dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gnnpt.finetune.benchmark import negative_transfer
from gnnpt.finetune.reference import DATASETS, PROTOCOLS, references

PROTOCOL_TITLES = {
    "best_valid": "at the best-validation epoch (Hu et al.'s protocol)",
    "last_epoch": "at the last epoch (GraphCL / GraphMAE protocol)",
    "frozen": "with each encoder frozen: its mean-pooled features + a head chosen on valid (as MiniMol + head)",
}
METRIC_TITLES = {"roc_auc": "Test ROC-AUC (%)", "rmse": "Test RMSE (target units; lower is better)"}


def _metrics(results: pd.DataFrame) -> pd.Series:
    """Each row's primary metric (rows written before regression sets had no ``metric`` column: ROC-AUC)."""
    return results["metric"].fillna("roc_auc") if "metric" in results else pd.Series("roc_auc", results.index)


def _datasets(results: pd.DataFrame) -> list[str]:
    """Hu et al.'s datasets in their order, then any other dataset of ``results``."""
    present = set(results.dataset)
    return [d for d in DATASETS if d in present] + sorted(present - set(DATASETS))


def _cell(mean: float, std: float, digits: int = 1) -> str:
    if pd.isna(mean):
        return "—"
    return f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def protocol_table(results: pd.DataFrame, protocol: str, metric: str = "roc_auc") -> str:
    """Markdown: our rows of the datasets scored by ``metric`` (ECFP baseline first), then the published rows of
    ``protocol``; ROC-AUC tables get an average column (RMSE tables do not: their datasets' units differ)."""
    results = results[_metrics(results) == metric]
    datasets = _datasets(results)
    ours = results[results.protocol.isin([protocol, "baseline"])]
    average = metric == "roc_auc"
    digits = 1 if average else 3  # ROC-AUC in %, RMSE in target units
    lines = ["| method | " + " | ".join(datasets) + (" | average |" if average else " |"),
             "|---|" + "---:|" * (len(datasets) + average)]  # fmt: skip
    order = [m for m in dict.fromkeys(ours.sort_values("protocol").method)]
    for method in order:
        rows = ours[ours.method == method].set_index("dataset")
        cells = [_cell(rows.at[d, "mean"], rows.at[d, "std"], digits) if d in rows.index else "—" for d in datasets]
        if not average:
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
            continue
        avg = rows.reindex(datasets)["mean"].mean() if set(datasets) <= set(rows.index) else float("nan")
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {'—' if pd.isna(avg) else f'{avg:.1f}'} |")
    for ref in references(protocol) if average and protocol in PROTOCOLS else []:
        cells = [_cell(*ref.scores[d]) if ref.scores.get(d) else "—" for d in datasets]
        means = [ref.scores[d][0] for d in datasets if ref.scores.get(d)]
        avg = f"{sum(means) / len(means):.1f}" if len(means) == len(datasets) else "—"
        lines.append(f"| *{ref.method} — {ref.source}* | " + " | ".join(cells) + f" | *{avg}* |")
    return "\n".join(lines)


def ece_table(results: pd.DataFrame) -> str:
    """Markdown: the methods with a calibration error, one column per dataset."""
    rows = results[results["ece"].notna()]
    datasets = _datasets(rows)
    lines = ["| method | " + " | ".join(datasets) + " |", "|---|" + "---:|" * len(datasets)]
    for method, group in rows.groupby("method", sort=False):
        by = group.set_index("dataset")["ece"]
        lines.append(f"| {method} | " + " | ".join(f"{by[d]:.3f}" if d in by.index else "—" for d in datasets) + " |")
    return "\n".join(lines)


def trust_table(results: pd.DataFrame) -> str:
    """Markdown: per dataset, the ``auto`` model's test ECE before and after calibration (classification) and its
    conformal coverage at 80% and 90% (means over seeds)."""
    rows = results[results["coverage_80"].notna()]

    def cell(row: pd.Series, column: str, fmt: str) -> str:
        return "—" if pd.isna(row.get(column)) else format(row[column], fmt)

    lines = ["| dataset | ECE before | ECE after | coverage at 80% | coverage at 90% |", "|---|---:|---:|---:|---:|"]
    for _, row in rows.set_index("dataset").reindex(_datasets(rows)).reset_index().iterrows():
        lines.append(f"| {row.dataset} | {cell(row, 'ece_before', '.3f')} | {cell(row, 'ece', '.3f')} | "
                     f"{cell(row, 'coverage_80', '.1f')} | {cell(row, 'coverage_90', '.1f')} |")  # fmt: skip
    return "\n".join(lines)


def markdown_report(results: pd.DataFrame) -> str:
    """Both protocol tables per metric (ROC-AUC, RMSE) and the negative-transfer list."""
    parts = []
    for metric in [m for m in METRIC_TITLES if m in set(_metrics(results))]:
        for protocol, title in PROTOCOL_TITLES.items():
            if protocol == "frozen" and not (results.protocol == "frozen").any():
                continue
            parts += [f"### {METRIC_TITLES[metric]} {title}", "", protocol_table(results, protocol, metric), ""]
    if "ece" in results and results["ece"].notna().any():
        parts += ["### Expected calibration error on test (10 bins; lower is better)", "", ece_table(results), ""]
    if "coverage_80" in results and results["coverage_80"].notna().any():
        parts += ["### gnnpt auto: calibration (test ECE) and conformal coverage on test (%)", "",
                  trust_table(results), ""]  # fmt: skip
    flags = negative_transfer(results)
    parts.append("### Negative transfer (pretrained worse than no pretraining of the same GNN by more than 1 std)")
    parts.append("")
    if flags.empty:
        parts.append("None.")
    else:
        for f in flags.itertuples():
            parts.append(
                f"- {f.dataset} ({f.protocol}): {f.method} {f.mean:.1f} vs {f.no_pretraining:.1f} ± {f.std:.1f}"
            )
    return "\n".join(parts) + "\n"


def bar_charts(results: pd.DataFrame, directory: str | Path) -> list[Path]:
    """One PNG per dataset: mean ± std test ROC-AUC (or RMSE) per method and protocol (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for dataset, group in results.groupby("dataset"):
        group = group.sort_values(["method", "protocol"])
        labels = [f"{m}\n[{p}]" for m, p in zip(group.method, group.protocol, strict=True)]
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(group) + 1.2))
        ax.barh(labels, group["mean"], xerr=group["std"], color=["#888" if p == "baseline" else "#3b7dd8"
                                                                   for p in group.protocol])  # fmt: skip
        if _metrics(group).iloc[0] == "rmse":
            ax.set_xlabel("test RMSE (lower is better)")
        else:
            ax.set_xlim(max(0, group["mean"].min() - 15), min(100, group["mean"].max() + 8))
            ax.set_xlabel("test ROC-AUC (%)")
        ax.set_title(f"{dataset}: scaffold split, mean ± std over seeds")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        path = directory / f"{dataset}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
