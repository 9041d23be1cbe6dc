"""The job's result page: learning curves (adapted vs from scratch), test metrics, negative transfer, upload report."""

from __future__ import annotations

import html
from typing import Any

from gnnpt.adaptation.jobs import Job

COLOURS = {"adapted": "#2456c7", "from_scratch": "#c7502a"}


def learning_curve_svg(runs: dict[str, list[dict[str, Any]]], metric: str, width: int = 560, height: int = 260) -> str:
    """Validation ``metric`` per epoch of each run as polylines (inline SVG, no plotting library)."""
    points = [(p["epoch"], p["valid"]) for curve in runs.values() for p in curve if p.get("valid") is not None]
    if not points:
        return "<p>No validation scores were recorded.</p>"
    pad = 40
    max_epoch = max(e for e, _ in points) or 1
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5

    def xy(epoch: float, value: float) -> str:
        x = pad + (width - 2 * pad) * epoch / max_epoch
        y = height - pad - (height - 2 * pad) * (value - lo) / (hi - lo)
        return f"{x:.1f},{y:.1f}"

    lines = []
    for k, (name, curve) in enumerate(runs.items()):
        pts = " ".join(xy(p["epoch"], p["valid"]) for p in curve if p.get("valid") is not None)
        colour = COLOURS.get(name, "#555")
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        lines.append(f'<text x="{width - pad - 120}" y="{pad + 16 * k}" fill="{colour}" font-size="12">'
                     f"{html.escape(name.replace('_', ' '))}</text>")  # fmt: skip
    axes = (f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>'
            f'<text x="{pad}" y="{height - 10}" font-size="12">epoch (0 to {max_epoch})</text>'
            f'<text x="4" y="{pad - 8}" font-size="12">validation {html.escape(metric)}: '
            f"{lo:.3f} to {hi:.3f}</text>")  # fmt: skip
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{axes}{"".join(lines)}</svg>'


def report_html(job: Job, log_tail: list[str]) -> str:
    """The whole result page of ``job``."""
    e = html.escape
    metrics = job.metrics or {}
    rows = [("status", job.status), ("stage", job.stage or "—"), ("progress", f"{100 * job.progress:.0f}%"),
            ("model", metrics.get("model", "—")), ("error", job.error or "—")]  # fmt: skip
    body = [f"<h1>Adaptation {e(job.name)} <small>({e(job.id)})</small></h1>", "<table>"]
    body += [f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows]
    body.append("</table>")
    runs = {k: metrics[k] for k in ("adapted", "from_scratch") if k in metrics}
    if runs:
        metric = runs["adapted"]["metric"]
        body.append(f"<h2>Test {e(metric)} (best-validation epoch, mean over seeds)</h2><table>")
        body.append("<tr><th>run</th><th>test</th><th>valid</th></tr>")
        for name, r in runs.items():
            test, valid = r.get(f"test_{metric}_mean"), r.get(f"valid_{metric}_mean")
            body.append(f"<tr><td>{e(name.replace('_', ' '))}</td><td>{_num(test)}</td><td>{_num(valid)}</td></tr>")
        body.append("</table>")
        verdict = metrics.get("negative_transfer", "absent")
        if verdict is True:
            body.append("<p class='warn'><b>Negative transfer:</b> the adapted model tests worse than the same "
                        "fine-tuning from scratch, by more than the seeds' spread. Prefer more labeled data, another "
                        "encoder, or no pretraining.</p>")  # fmt: skip
        elif verdict is False:
            body.append("<p><b>No negative transfer:</b> the adapted model tests within the seeds' spread of "
                        "fine-tuning from scratch, or better.</p>")  # fmt: skip
        elif verdict is None:
            body.append("<p><b>Transfer not judged:</b> one seed cannot tell a difference from noise; run the job "
                        "with seeds=3 or more.</p>")  # fmt: skip
        body.append("<h2>Learning curves</h2>" + learning_curve_svg({k: r["curve"] for k, r in runs.items()}, metric))
    report = job.report or {}
    if report:
        body.append(f"<h2>Upload</h2><p>{report.get('usable')} of {report.get('rows')} labeled rows used; "
                    f"{report.get('unlabeled_rows', 0) - report.get('unlabeled_invalid', 0)} unlabeled molecules "
                    f"({report.get('unlabeled_invalid', 0)} unparsable, left out).</p>")  # fmt: skip
        problems = report.get("problems", [])
        if problems:
            body.append("<table><tr><th>row</th><th>SMILES</th><th>left out because</th></tr>")
            body += [f"<tr><td>{p['row']}</td><td>{e(str(p['smiles']))}</td><td>{e(p['problem'])}</td></tr>"
                     for p in problems[:200]]  # fmt: skip
            body.append("</table>")
    body.append("<h2>Log (last lines)</h2><pre>" + e("\n".join(log_tail)) + "</pre>")
    style = ("body{font:15px system-ui,sans-serif;margin:2rem;color:#1d2330} "
             "table{border-collapse:collapse;margin:.5rem 0}"
             "th,td{border:1px solid #dde;padding:.25rem .6rem;text-align:left} .warn{color:#b3261e}"
             "pre{background:#f4f5f7;padding:.6rem;overflow-x:auto}")  # fmt: skip
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>gnnpt adaptation {e(job.name)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")  # fmt: skip


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "—"
