"""The CSV endpoints' tables: an upload read by the project's file rules, and the answer built from it and the
scores.

:func:`read_upload` runs in the service's upload reading process: it parses the table and writes the caller's cells
as CSV text (formulas neutralized) there, so that a wide table costs the server's process (its event loop, the GIL
its threads share) one short string per row; :func:`scored_csv` then only appends the scores to each row. Both write
cell by cell (not column by column through pandas, whose per-column costs made a 2,000-column table take a quarter of
a second of the server's time while other clients waited)."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gnnpt.adaptation.submit import check_unpacked, upload_suffix
from gnnpt.datasets.readers import read_table
from gnnpt.screening.writers import is_formula


@dataclass(frozen=True)
class Upload:
    """An uploaded table as the answer echoes it: its column names, each row's cells as CSV text (formulas
    neutralized), the SMILES to score (empty where there are none) and, per row, why an SDF record was unreadable."""

    columns: list[str]
    rows: list[str]
    smiles: list[str]
    unread: list[str | None]


class _Line:
    """A file for :func:`csv.writer` that hands back what it is given: ``writerow`` returns the row's text."""

    def write(self, text: str) -> str:
        return text


def is_sdf(filename: str) -> bool:
    """Whether an upload named ``filename`` is read as SDF."""
    return upload_suffix(filename).startswith((".sdf", ".sd"))


def read_upload(
    data: bytes,
    filename: str,
    smiles_col: str | None,
    max_bytes: int,
    progress: Callable[[int], None] | None = None,
    max_atoms: int | None = None,
) -> Upload:
    """An uploaded table, read by the project's file rules (encodings, separators, formats by the file name's
    suffix; CSV cells kept as text), telling ``progress`` each row it writes. A gzipped upload may unpack to
    ``max_bytes`` (the body limit) at most: UploadTooLarge past it, before anything reads it. ``max_atoms``: an SDF
    record listing more heavy atoms is that row's error, unread."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{upload_suffix(filename)}"
        path.write_bytes(data)
        check_unpacked(path, max_bytes, Path(filename).name)
        try:
            frame, column = read_table(path, smiles_col, max_atoms)
        except ValueError as exc:  # say the caller's file name, not the server's temporary path
            raise type(exc)(str(exc).replace(str(path), Path(filename).name)) from None
    # an SDF record RDKit could not read has no SMILES and says why in the reader's "error" column
    sdf = is_sdf(filename)
    unread = [e if isinstance(e, str) else None for e in frame["error"]] if sdf else [None] * len(frame)
    out = frame.drop(columns="error") if sdf else frame
    line, rows = csv.writer(_Line(), lineterminator=""), []
    for i, cells in enumerate(out.to_numpy(object).tolist()):
        rows.append(line.writerow([_cell(v) for v in cells]))
        if progress is not None:
            progress(i)
    smiles = [s if isinstance(s, str) else "" for s in frame[column]]
    return Upload(list(out.columns), rows, smiles, unread)


def scored_csv(upload: Upload, result: dict[str, Any]) -> str:
    """The CSV answer: the caller's rows and columns as sent (one named like an output renamed ``input_<name>``),
    then canonical SMILES, scores, std, conformal columns, domain fields and errors; formulas neutralized."""
    rows = result["results"]
    tasks = result["tasks"]
    conformal = list((rows[0]["conformal"] or {}) if rows else ())  # prediction sets / intervals
    ours = ["canonical_smiles", *tasks, *(f"{t}_std" for t in tasks), *conformal, "max_similarity", "in_domain",
            "error"]  # fmt: skip
    columns = [f"input_{c}" if c in ours else c for c in upload.columns]  # the caller's column stays
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
    added["error"] = [f"unparsable: {note}" if note is not None and not s else r["error"]
                      for note, s, r in zip(upload.unread, upload.smiles, rows, strict=True)]  # fmt: skip
    line = csv.writer(_Line(), lineterminator="")
    text = io.StringIO()
    text.write(line.writerow([*columns, *added]) + "\n")
    for cells, more in zip(upload.rows, zip(*added.values(), strict=True), strict=True):
        text.write(f"{cells},{line.writerow([_cell(v) for v in more])}\n")
    return text.getvalue()


def _cell(value: Any) -> Any:
    """A value as the CSV writes it: missing as empty, a formula neutralized with a leading quote."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str) and is_formula(value):
        return "'" + value
    return value
