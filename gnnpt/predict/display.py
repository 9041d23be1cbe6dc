"""Notebook display: a model summary table from its card, and a grid of scored 2D depictions."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from rdkit import Chem, rdBase
from rdkit.Chem import Draw


def summary_rows(
    card: dict[str, Any], task_type: str, task_names: Sequence[str], members: int
) -> list[tuple[str, str]]:
    """(field, value) rows describing a model: what it predicts, from what data, and how well."""
    data = card.get("data") or {}
    split = card.get("split") or {}
    metrics = card.get("metrics") or {}
    primary = metrics.get("primary")
    summary = metrics.get("summary") or {}
    mean, std = summary.get(f"test_{primary}_mean"), summary.get(f"test_{primary}_std")
    encoder = card.get("encoder_config") or {}
    rows = [
        ("name", card.get("name")),
        ("task type", task_type),
        (f"tasks ({len(task_names)})", ", ".join(task_names)),
        ("ensemble members", members),
        ("encoder", f"{card.get('architecture')}: " + ", ".join(f"{k}={v}" for k, v in encoder.items())
         if encoder else None),
        ("training data", f"{data['name']} ({data.get('rows', '?')} rows)" if "name" in data else None),
        ("split", f"{split['kind']} {split.get('sizes', '')}" if "kind" in split else None),
        (f"test {primary or 'metric'}", f"{mean:.3f} ± {std or 0:.3f}" if mean is not None else None),
    ]  # fmt: skip
    return [(k, "—" if v is None else str(v)) for k, v in rows]


def html_table(rows: Sequence[tuple[str, str]], title: str) -> str:
    """A two-column HTML table (escaped) with a caption."""
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
                   f"{html.escape(v)}</td></tr>" for k, v in rows)  # fmt: skip
    return f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>{body}</table>"


def _legend(score: float, error: object, task: str) -> str:
    return f"invalid: {error.split(':', 1)[0]}" if isinstance(error, str) else f"{task}: {score:.3f}"


@dataclass
class MoleculeGrid:
    """Predictions (``frame``) and a grid (``svg``) of the first ``shown`` molecules with their ``legends``."""

    frame: pd.DataFrame
    svg: str
    task: str
    legends: list[str]

    @property
    def shown(self) -> int:
        return len(self.legends)

    @classmethod
    def build(cls, frame: pd.DataFrame, task: str, max_mols: int = 24, mols_per_row: int = 4) -> MoleculeGrid:
        """The grid of ``frame``'s first ``max_mols`` rows (invalid molecules are empty cells with their error)."""
        rows = frame.iloc[:max_mols]
        if not len(rows):
            return cls(frame, "", task, [])
        with rdBase.BlockLogs():
            mols = [Chem.MolFromSmiles(s) if isinstance(s, str) else None for s in rows["canonical_smiles"]]
        legends = [_legend(s, e, task) for s, e in zip(rows[task], rows["error"], strict=True)]
        image = Draw.MolsToGridImage(mols, molsPerRow=mols_per_row, subImgSize=(220, 180), legends=legends,
                                     useSVG=True)  # fmt: skip
        return cls(frame, getattr(image, "data", image), task, legends)  # IPython may wrap the SVG

    def _repr_html_(self) -> str:
        more = f"<p>showing {self.shown} of {len(self.frame)} molecules</p>" if self.shown < len(self.frame) else ""
        inline = self.svg[self.svg.find("<svg") :] if self.svg else ""  # no XML declaration inside HTML
        return f"<div>{inline}{more}{self.frame.iloc[: self.shown]._repr_html_()}</div>"


def depiction_svg(smiles: str, size: tuple[int, int] = (220, 160)) -> str | None:
    """A 2D depiction of ``smiles`` as SVG text; None when RDKit cannot parse it."""
    from rdkit.Chem.Draw import rdMolDraw2D

    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.drawOptions().clearBackground = False
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()
