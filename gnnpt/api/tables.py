"""The CSV endpoints' tables: an upload read by the project's file rules, and the answer built from it and the
scores. Both are plain functions the handler runs off the event loop; the answer is written cell by cell (not column
by column through pandas, whose per-column costs made a 2,000-column table take a quarter of a second of the
server's time while other clients waited)."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from gnnpt.adaptation.submit import check_unpacked, upload_suffix
from gnnpt.datasets.readers import read_table
from gnnpt.screening.writers import is_formula


def read_upload(data: bytes, filename: str, smiles_col: str | None, max_bytes: int) -> tuple[pd.DataFrame, str]:
    """An uploaded table, read by the project's file rules (encodings, separators, formats by the file name's
    suffix; CSV cells kept as text): the table and its SMILES column. A gzipped upload may unpack to ``max_bytes``
    (the body limit) at most: UploadTooLarge past it, before anything reads it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{upload_suffix(filename)}"
        path.write_bytes(data)
        check_unpacked(path, max_bytes, Path(filename).name)
        try:
            return read_table(path, smiles_col)
        except ValueError as exc:  # say the caller's file name, not the server's temporary path
            raise type(exc)(str(exc).replace(str(path), Path(filename).name)) from None


def scored_csv(frame: pd.DataFrame, filename: str, smiles: list[str], result: dict[str, Any]) -> str:
    """The CSV answer: the caller's rows and columns as sent (one named like an output renamed ``input_<name>``),
    then canonical SMILES, scores, std, conformal columns, domain fields and errors; formulas neutralized."""
    rows = result["results"]
    # an SDF record RDKit could not read has no SMILES and says why in the reader's "error" column
    sdf = upload_suffix(filename).startswith((".sdf", ".sd"))
    unread = frame["error"].tolist() if sdf else [None] * len(frame)
    out = frame.drop(columns="error") if sdf else frame
    tasks = result["tasks"]
    conformal = list((rows[0]["conformal"] or {}) if rows else ())  # prediction sets / intervals
    ours = ["canonical_smiles", *tasks, *(f"{t}_std" for t in tasks), *conformal, "max_similarity", "in_domain",
            "error"]  # fmt: skip
    columns = [f"input_{c}" if c in ours else c for c in out.columns]  # the caller's column stays
    added: dict[str, list] = {"canonical_smiles": [r["canonical_smiles"] for r in rows]}
    for task in tasks:
        added[task] = [r["scores"][task] for r in rows]
    if rows and rows[0]["std"] is not None:
        for task in tasks:
            added[f"{task}_std"] = [r["std"][task] for r in rows]
    for column in conformal:  # as in a notebook
        added[column] = [r["conformal"][column] for r in rows]
    for field in ("max_similarity", "in_domain"):
        added[field] = [r[field] for r in rows]
    added["error"] = [f"unparsable: {note}" if isinstance(note, str) and not s else r["error"]
                      for note, s, r in zip(unread, smiles, rows, strict=True)]  # fmt: skip
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*columns, *added])
    for cells, more in zip(out.to_numpy(object).tolist(), zip(*added.values(), strict=True), strict=True):
        writer.writerow([_cell(v) for v in (*cells, *more)])
    return text.getvalue()


def _cell(value: Any) -> Any:
    """A value as the CSV writes it: missing as empty, a formula neutralized with a leading quote."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str) and is_formula(value):
        return "'" + value
    return value
