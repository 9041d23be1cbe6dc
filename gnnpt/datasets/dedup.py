"""One row per molecule: repeated molecules merged and their labels reconciled before splitting.

A molecule listed twice can land in train and test at once, and two rows that disagree teach nothing, so a
repeated-split evaluation de-duplicates first. ``load`` keeps the file's rows as they are; this is the step after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase

from gnnpt.datasets.registry import MoleculeDataset

REGRESSION_TOLERANCE = 0.5  # target units: duplicates whose values spread more than this are a conflict


@dataclass(frozen=True)
class DedupReport:
    """What :func:`deduplicate` did: ``rows_in`` -> ``rows_out`` rows; ``merged`` rows folded into an earlier row of
    the same molecule; ``conflicts`` molecule-task labels set to NaN because the duplicates disagreed; ``dropped``
    merged molecules left with no label at all."""

    rows_in: int
    rows_out: int
    merged: int
    conflicts: int
    dropped: int

    def describe(self) -> str:
        """One sentence for logs and reports."""
        return (f"{self.rows_in:,} rows -> {self.rows_out:,} molecules: {self.merged:,} duplicate rows merged, "
                f"{self.conflicts:,} conflicting labels set to missing, {self.dropped:,} molecules left without a "
                "label dropped.")  # fmt: skip


def _canonical(smiles: str) -> str | None:
    """RDKit's canonical isomeric SMILES, or None when the SMILES does not parse."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else None


def _merge(values: np.ndarray, regression: bool) -> tuple[float, bool]:
    """One task's label for a repeated molecule from its rows' ``values``, and whether they conflicted."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        return np.nan, False
    if regression:
        if present.max() - present.min() <= REGRESSION_TOLERANCE:
            return float(present.mean()), False
        return np.nan, True
    if np.all(present == present[0]):
        return float(present[0]), False
    return np.nan, True


def deduplicate(dataset: MoleculeDataset) -> tuple[MoleculeDataset, DedupReport]:
    """Merge rows whose RDKit canonical (isomeric) SMILES are equal into one, keeping the first row's SMILES.

    Per task, agreeing labels are kept. Disagreeing ones become NaN: for classification any disagreement, for
    regression a spread above ``REGRESSION_TOLERANCE`` (else the mean is taken). A merged molecule with no label
    left is dropped. Unparsable SMILES are never merged: each stays its own row for the featurizer to report.
    The result's ``frame`` holds the kept rows, with the merged labels in the task columns and the first source
    row's number as its index.
    """
    groups: dict[str, list[int]] = {}
    rows: list[list[int]] = []
    with rdBase.BlockLogs():
        for i, smiles in enumerate(dataset.smiles):
            key = _canonical(smiles)
            if key is None:
                rows.append([i])
            elif key in groups:
                groups[key].append(i)
            else:
                groups[key] = [i]
                rows.append(groups[key])
    regression = dataset.task_type == "regression"
    targets = dataset.targets.copy()
    keep: list[int] = []
    conflicts = dropped = 0
    for group in rows:
        first = group[0]
        if len(group) > 1:
            for t in range(targets.shape[1]):
                targets[first, t], conflicted = _merge(dataset.targets[group, t], regression)
                conflicts += conflicted
            if np.isnan(targets[first]).all():
                dropped += 1
                continue
        keep.append(first)
    frame = dataset.frame.iloc[keep].copy()
    frame[dataset.task_names] = targets[keep]
    result = MoleculeDataset(dataset.spec, frame, [dataset.smiles[i] for i in keep], targets[keep],
                             list(dataset.task_names))  # fmt: skip
    report = DedupReport(len(dataset), len(keep), len(dataset) - len(rows), conflicts, dropped)
    return result, report
