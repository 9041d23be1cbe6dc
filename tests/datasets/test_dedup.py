"""De-duplication: one row per molecule (by canonical isomeric SMILES), agreeing labels kept, conflicts made missing
and counted, close regression values averaged; unparsable SMILES never merged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnnpt.datasets import DedupReport, MoleculeDataset, deduplicate, get_spec

NAN = np.nan


def _dataset(name: str, rows: list[tuple]) -> MoleculeDataset:
    """A handmade dataset with the registered columns of ``name`` (SMILES first, then its tasks)."""
    spec = get_spec(name)
    frame = pd.DataFrame(rows, columns=[spec.smiles_columns[0], *spec.tasks])
    return MoleculeDataset.from_frame(spec, frame)


def test_classification_duplicates_merge_and_conflicts_become_missing() -> None:
    ds = _dataset("clintox", [
        ("OCC", 1, 0),            # 0: ethanol
        ("c1ccccc1O", 1, 1),      # 1: phenol
        ("C(O)C", 1, NAN),        # 2: ethanol again, written differently: agrees, one label missing
        ("Oc1ccccc1", 0, 1),      # 3: phenol again: FDA_APPROVED disagrees
        ("not a smiles", 1, 0),   # 4: unparsable, never merged
        ("not a smiles", 1, 0),   # 5
        ("CCN", 0, 0),            # 6
        ("NCC", 1, 1),            # 7: ethylamine again: both tasks disagree, nothing left
        ("C[C@H](N)O", 0, 0),     # 8: stereoisomers are different molecules
        ("C[C@@H](N)O", 1, 1),    # 9
    ])  # fmt: skip
    out, report = deduplicate(ds)
    assert report == DedupReport(rows_in=10, rows_out=6, merged=3, conflicts=3, dropped=1)
    assert out.smiles == ["OCC", "c1ccccc1O", "not a smiles", "not a smiles", "C[C@H](N)O", "C[C@@H](N)O"]
    expected = [[1, 0], [NAN, 1], [1, 0], [1, 0], [0, 0], [1, 1]]
    np.testing.assert_array_equal(out.targets, np.array(expected, dtype=np.float32))
    assert out.targets.dtype == np.float32 and out.task_names == ["FDA_APPROVED", "CT_TOX"] and out.spec is ds.spec
    assert out.frame.index.tolist() == [0, 1, 4, 5, 8, 9]  # the first source row of each molecule
    np.testing.assert_array_equal(out.frame[out.task_names].to_numpy(np.float32), out.targets)
    assert np.array_equal(ds.targets[2], [1, NAN], equal_nan=True) and len(ds) == 10  # the input is untouched
    assert report.describe() == (
        "10 rows -> 6 molecules: 3 duplicate rows merged, 3 conflicting labels set to missing, "
        "1 molecules left without a label dropped."
    )


def test_regression_duplicates_average_within_half_a_unit() -> None:
    ds = _dataset("esol", [
        ("OCC", -1.0),
        ("CCCC", 0.0),
        ("C(O)C", -1.5),      # spread 0.5: averaged
        ("C(C)CC", 0.75),     # spread 0.75: a conflict, and nothing left
        ("c1ccccc1", -2.0),
        ("C1=CC=CC=C1", NAN), # no second value: kept as is
    ])  # fmt: skip
    out, report = deduplicate(ds)
    assert report == DedupReport(rows_in=6, rows_out=2, merged=3, conflicts=1, dropped=1)
    assert out.smiles == ["OCC", "c1ccccc1"]
    assert out.targets[:, 0].tolist() == pytest.approx([-1.25, -2.0])


def test_nothing_to_merge_changes_nothing(moleculenet_dir) -> None:
    from gnnpt.datasets import load

    ds = load("freesolv", data_dir=moleculenet_dir)
    out, report = deduplicate(ds)
    assert report == DedupReport(642, 642, 0, 0, 0)
    assert out.smiles == ds.smiles and np.array_equal(out.targets, ds.targets)
