"""Train/valid/test splits: deterministic scaffold (Hu et al. 2020), random and stratified with a seed.

Indices refer to the original rows. Rows whose SMILES RDKit cannot parse are in no split and are
reported in ``Split.invalid``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold


@dataclass(frozen=True)
class Split:
    """Row indices of each part, and the rows left out because they are invalid."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    invalid: np.ndarray

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.valid), len(self.test)


def _check_frac(frac: Sequence[float]) -> tuple[float, float, float]:
    if len(frac) != 3 or any(f < 0 for f in frac) or abs(sum(frac) - 1.0) > 1e-6:
        raise ValueError(f"frac must be three non-negative fractions summing to 1, got {tuple(frac)}")
    return float(frac[0]), float(frac[1]), float(frac[2])


def _idx(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def scaffold_split(smiles: Sequence[str], frac: Sequence[float] = (0.8, 0.1, 0.1)) -> Split:
    """Hu et al.'s deterministic scaffold split (pretrain-gnns ``chem/splitters.py``).

    Bemis-Murcko scaffolds (with chirality) group the molecules; the groups, sorted by size and then
    by first row, largest first, fill train up to 80%, then valid up to 90%, the rest go to test. No
    scaffold is shared between parts.
    """
    f_train, f_valid, _ = _check_frac(frac)
    groups: dict[str, list[int]] = {}
    invalid: list[int] = []
    with rdBase.BlockLogs():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s.strip()) if isinstance(s, str) and s.strip() else None
            if mol is None:
                invalid.append(i)
                continue
            key = MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=True)
            groups.setdefault(key, []).append(i)
    n_valid = len(smiles) - len(invalid)
    ordered = sorted(groups.values(), key=lambda g: (len(g), g[0]), reverse=True)
    train_cut, valid_cut = f_train * n_valid, (f_train + f_valid) * n_valid
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for group in ordered:
        if len(train) + len(group) > train_cut:
            if len(train) + len(valid) + len(group) > valid_cut:
                test.extend(group)
            else:
                valid.extend(group)
        else:
            train.extend(group)
    return Split(_idx(train), _idx(valid), _idx(test), _idx(invalid))


def _valid_rows(smiles: Sequence[str] | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    if smiles is None:
        return np.arange(n, dtype=np.int64), np.zeros(0, np.int64)
    with rdBase.BlockLogs():
        ok = np.array([isinstance(s, str) and Chem.MolFromSmiles(s.strip()) is not None for s in smiles], bool)
    return np.flatnonzero(ok), np.flatnonzero(~ok)


def random_split(
    n: int, frac: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0, smiles: Sequence[str] | None = None
) -> Split:
    """A seeded random split of ``n`` rows (rows with unparsable ``smiles`` are excluded and reported)."""
    f_train, f_valid, _ = _check_frac(frac)
    rows, invalid = _valid_rows(smiles, n)
    perm = rows[np.random.default_rng(seed).permutation(len(rows))]
    a, b = int(f_train * len(rows)), int((f_train + f_valid) * len(rows))
    return Split(np.sort(perm[:a]), np.sort(perm[a:b]), np.sort(perm[b:]), invalid)


def stratified_split(
    labels: Sequence[float] | np.ndarray,
    frac: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    smiles: Sequence[str] | None = None,
) -> Split:
    """A seeded split that keeps each class's share in every part (single-task labels; NaN rows excluded)."""
    f_train, f_valid, _ = _check_frac(frac)
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 1:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        else:
            raise ValueError(f"stratified_split needs one task's labels, got shape {y.shape}; use scaffold_split")
    rows, invalid = _valid_rows(smiles, len(y))
    rows = rows[~np.isnan(y[rows])]
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in np.unique(y[rows]):
        members = rows[y[rows] == cls]
        members = members[rng.permutation(len(members))]
        a, b = round(f_train * len(members)), round((f_train + f_valid) * len(members))
        for k, chunk in enumerate((members[:a], members[a:b], members[b:])):
            parts[k].append(chunk)
    train, valid, test = (np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts)
    return Split(train, valid, test, invalid)
