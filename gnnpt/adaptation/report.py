"""The job's result page: what was built, whether adaptation paid (the cross-validation table and the paired
comparison), calibration and conformal coverage on held-out folds, the library's share in the model's domain, an
update's prospective check, progress and the upload report. Every number is the job's JSON (``metrics``) as it is,
at :data:`~gnnpt.adaptation.evaluation.DIGITS` decimals: the page and the API say the same."""

from __future__ import annotations

import html
from typing import Any

from gnnpt.adaptation.evaluation import DIGITS
from gnnpt.adaptation.jobs import Job

STYLE = ("body{font:15px system-ui,sans-serif;margin:2rem;color:#1d2330} table{border-collapse:collapse;margin:.5rem 0}"
         "th,td{border:1px solid #dde;padding:.25rem .6rem;text-align:left} .warn{color:#b3261e} .good{color:#1b6e2a}"
         "pre{background:#f4f5f7;padding:.6rem;overflow-x:auto}")  # fmt: skip
e = html.escape


def number(value: Any) -> str:
    """A report number as the page shows it: a count as it is, a score at the JSON's digits, — for none."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.{DIGITS}f}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Html) else e(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)  # fmt: skip
    return f"<table><tr>{head}</tr>{body}</table>"


class _Html(str):
    """Markup already escaped."""


def _status(job: Job) -> str:
    eta = f"about {job.eta_s:.0f} s left" if job.eta_s is not None and job.status == "running" else "—"
    stage = f"{job.stage or '—'}" + (f" ({100 * job.stage_fraction:.0f}%)" if job.stage_fraction is not None else "")
    rows = [["status", job.status], ["stage", stage], ["progress", f"{100 * job.progress:.0f}%"], ["estimate", eta],
            ["model", (job.metrics or {}).get("model", "—")], ["error", job.error or "—"]]  # fmt: skip
    return _table(["", ""], rows)


def _cross_validation(cv: dict[str, Any]) -> list[str]:
    metric = cv["metric"]
    direction = "higher is better" if cv["higher_is_better"] else "lower is better"
    out = [f"<h2>Did adaptation pay? Scaffold cross-validation on your labels</h2>"
           f"<p>{cv['repeats']} x {cv['folds']} folds; {e(metric)}, {direction}. Each fold's models trained on the "
           "other folds only.</p>"]  # fmt: skip
    names = list(cv["methods"])
    width = max(len(m["folds"]) for m in cv["methods"].values())
    rows = [[m["label"], number(m["mean"]), number(m["std"]), *[number(v) for v in m["folds"]]]
            for m in cv["methods"].values()]  # fmt: skip
    out.append(_table(["", "mean", "std", *[f"fold {k + 1}" for k in range(width)]], rows))
    comparison = cv["comparison"]
    css = "good" if comparison["verdict"].startswith("adaptation paid") else "warn"
    if "without_adaptation" in names:
        gains = ", ".join(number(g) for g in comparison["gains"])
        interval = comparison["ci"] or [None, None]
        out.append(
            f"<p>Gain of the recipe over the same recipe without the adapted encoder (positive: better with it), per "
            f"fold: {gains}; mean {number(comparison['mean'])}, 95% interval {number(interval[0])} to "
            f"{number(interval[1])}.</p>"
        )
    out.append(f"<p class='{css}'><b>{e(comparison['verdict'])}</b></p>")
    return out


def _calibration(calibration: dict[str, Any]) -> list[str]:
    if not calibration:
        return []
    out = ["<h2>Calibration and conformal coverage on the held-out folds</h2>"]
    if "ece_after" in calibration:
        out.append(f"<p>Expected calibration error before Platt scaling {number(calibration['ece_before'])}, after "
                   f"{number(calibration['ece_after'])}.</p>")  # fmt: skip
    levels = [k for k in calibration if k[0].isdigit()]
    kinds = list(calibration[levels[0]]) if levels else []
    rows = [[f"{float(level):.0%}", *[number(calibration[level][k]) for k in kinds]] for level in levels]
    out.append(_table(["promised", *[k.replace("_", " ") for k in kinds]], rows))
    return out


def _domain(domain: dict[str, Any] | None, library: int) -> list[str]:
    if domain is None:
        return [f"<h2>Your library</h2><p>{'No unlabeled molecules were uploaded.' if not library else '—'}</p>"]
    share, threshold, median = (number(domain[k]) for k in ("share", "threshold", "median_similarity"))
    return ["<h2>Your library in the model's domain</h2>",
            f"<p>{domain['in_domain']} of {domain['molecules']} library molecules (share {share}) have a training "
            f"molecule at least {threshold} similar (Morgan-2 Tanimoto, the <code>in_domain</code> rule of scoring); "
            f"median similarity {median}.</p>"]  # fmt: skip


def _versions(versions: dict[str, Any]) -> list[str]:
    check = versions["prospective"]
    return ["<h2>This version against the last</h2>", _table(["", "value"], [
        [f"{versions['previous']} on the {check['rows']} new molecules, before it saw them ({check['metric']})",
         number(check["score"])],
        [f"{versions['previous']} by cross-validation (its report)", number(versions["previous_cv"])],
        ["this version by cross-validation", number(versions["cv"])],
        ["change (positive: better)", number(versions["change"])]])]  # fmt: skip


def report_html(job: Job, log_tail: list[str]) -> str:
    """The whole result page of ``job``."""
    metrics = job.metrics or {}
    body = [f"<h1>Adaptation {e(job.name)} <small>({e(job.id)})</small></h1>", _status(job)]
    if "cross_validation" in metrics:
        body += _cross_validation(metrics["cross_validation"])
        choice = metrics["model_choice"]
        weights = ", ".join(f"{e(n)} {number(w)}" for n, w in choice["weights"].items())
        body.append(f"<h2>The model</h2><p>auto's blend on all {metrics['labels']} labels: {weights}.</p>")
        body.append(_table(["candidate", "cross-validated within the build"],
                           [[n, number(v)] for n, v in choice["candidates"].items()]))  # fmt: skip
        if "adaptation" in metrics:
            a = metrics["adaptation"]
            body.append(
                f"<p>Adapted encoder: {e(a['encoder'])} continued for {a['minutes']} minutes on "
                f"{a['molecules']} molecules ({a['steps']} steps of {e(a['objective'])}).</p>"
            )
        body += _calibration(metrics["cross_validation"]["calibration"])
        body += _domain(metrics.get("domain"), metrics.get("library", 0))
        if "versions" in metrics:
            body += _versions(metrics["versions"])
        if metrics.get("notes"):
            body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in metrics["notes"]) + "</ul>")
    report = job.report or {}
    if report:
        body.append(f"<h2>Upload</h2><p>{report.get('usable')} of {report.get('rows')} labeled rows used; "
                    f"{report.get('unlabeled_rows', 0) - report.get('unlabeled_invalid', 0)} unlabeled molecules "
                    f"({report.get('unlabeled_invalid', 0)} unparsable, left out).</p>")  # fmt: skip
        problems = report.get("problems", [])
        if problems:
            body.append(_table(["row", "SMILES", "left out because"],
                               [[p["row"], p["smiles"], p["problem"]] for p in problems[:200]]))  # fmt: skip
    body.append("<h2>Log (last lines)</h2><pre>" + e("\n".join(log_tail)) + "</pre>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>gnnpt adaptation {e(job.name)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")  # fmt: skip
