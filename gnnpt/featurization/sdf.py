"""SDF records to rows (canonical SMILES, title, properties), one record at a time: the RDKit work of reading an SDF,
kept apart so that it can run where a crash costs one record (:mod:`gnnpt.featurization.contained`)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

TERMINATOR = b"$$$$"
_HYDROGENS = (b"H", b"D", b"T")  # atom symbols that are not heavy atoms


def sdf_records(stream: BinaryIO, chunk_size: int) -> Iterator[list[bytes]]:
    """The raw records of an SDF stream (each up to and including its ``$$$$`` line), ``chunk_size`` at a time; a last
    record without a terminator counts when it holds anything. Plain text splitting: no RDKit in the caller."""
    records: list[bytes] = []
    lines: list[bytes] = []
    for line in stream:
        lines.append(line)
        if line.rstrip(b"\r\n ").startswith(TERMINATOR):
            records.append(b"".join(lines))
            lines = []
            if len(records) == chunk_size:
                yield records
                records = []
    if b"".join(lines).strip():
        records.append(b"".join(lines))
    if records:
        yield records


def listed_heavy_atoms(record: bytes, stop: int) -> int | None:
    """The heavy atoms an SDF record's atom block lists (V2000 or V3000; H, D and T are not heavy), read as text
    before any parse; counting ends at ``stop + 1``. None where the block cannot be told from the text (RDKit then
    judges the record). A parse takes time and memory in proportion to the atoms: this count refuses a huge record
    unread, as the SMILES readers count a SMILES' atoms from its text."""
    lines = record.splitlines()
    if len(lines) < 4:
        return None
    counts = lines[3]
    if b"V3000" in counts:
        symbols = _v3000_symbols(lines)
    else:
        try:
            listed = int(counts[:3])
        except ValueError:
            return None
        symbols = (line[31:34].strip() for line in lines[4 : 4 + listed])
    heavy = 0
    for symbol in symbols:
        heavy += symbol not in _HYDROGENS
        if heavy > stop:
            break
    return heavy


def _v3000_symbols(lines: list[bytes]) -> Iterator[bytes]:
    """The atom types of a V3000 atom block (``M  V30 <index> <type> x y z ...``)."""
    inside = False
    for line in lines:
        if line.startswith(b"M  V30 BEGIN ATOM"):
            inside = True
        elif line.startswith(b"M  V30 END ATOM"):
            return
        elif inside and line.startswith(b"M  V30 "):
            parts = line.split()
            if len(parts) > 3:
                yield parts[3]


def sdf_rows(records: list[bytes], start: int, text: bool, progress: Callable[[int], None] | None = None
             ) -> list[dict[str, Any]]:  # fmt: skip
    """One row per record (``start``: the first record's number in the file): canonical SMILES, title and properties
    (as text with ``text``), or an error naming the record. ``progress(done)`` before each record and after the
    last, as :func:`gnnpt.featurization.chunk.featurize_chunk` reports it."""
    from rdkit import Chem, rdBase

    rows = []
    with rdBase.BlockLogs():
        for k, record in enumerate(records):
            if progress is not None:
                progress(k)
            mol = next(iter(Chem.ForwardSDMolSupplier(io.BytesIO(record))), None)
            rows.append(_row(mol, start + k, text))
    if progress is not None:
        progress(len(records))
    return rows


def _row(mol: Any, number: int, text: bool) -> dict[str, Any]:
    if mol is None:
        return unreadable(number, "could not be read by RDKit")
    from rdkit import Chem

    title = mol.GetProp("_Name") if mol.HasProp("_Name") else None
    # as text: the property exactly as written (an ID 00007 stays 00007, a dose 1.50 stays 1.50)
    props = {k: mol.GetProp(k) for k in mol.GetPropNames()} if text else mol.GetPropsAsDict()
    return {"smiles": Chem.MolToSmiles(mol), "error": None, "title": title, **props}


def unreadable(number: int, why: str) -> dict[str, Any]:
    """The row of a record that gave no molecule."""
    return {"smiles": None, "error": f"SDF record {number} (0-based) {why}"}
