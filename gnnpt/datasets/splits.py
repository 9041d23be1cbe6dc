"""Train/valid/test splits: deterministic scaffold (Hu et al. 2020), seeded balanced scaffold (optionally with
a parent's salts, charge forms and stereoisomers kept together), random and stratified with a seed.

Indices (int64) refer to the original rows. Rows whose SMILES RDKit cannot parse are in no part and are
reported in ``Split.invalid``; rows a stratified split leaves out for a missing label, in ``Split.unlabeled``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize
from rdkit.Chem.Scaffolds import MurckoScaffold


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Split:
    """Row indices of each part, and the rows left out of every part (with the reason).

    ``moved`` (:func:`grouped_scaffold_split` only): the molecules in a group made mostly of another scaffold group
    than their own (a salt grouped by its drug's scaffold, a stereoisomer whose chiral scaffold differs joined
    through its parent): they move with their parent's forms rather than with their own scaffold.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    invalid: np.ndarray = field(default_factory=_empty)
    unlabeled: np.ndarray = field(default_factory=_empty)
    moved: int = 0

    def sizes(self) -> tuple[int, int, int]:
        """Rows in train, valid and test."""
        return len(self.train), len(self.valid), len(self.test)


def _check_frac(frac: Sequence[float]) -> tuple[float, float, float]:
    if len(frac) != 3 or any(f < 0 for f in frac) or abs(sum(frac) - 1.0) > 1e-6:
        raise ValueError(f"frac must be three non-negative fractions (train, valid, test) summing to 1, got {frac}")
    return float(frac[0]), float(frac[1]), float(frac[2])


def _idx(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _parse(smiles: object) -> Chem.Mol | None:
    return Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None


def scaffold_split(smiles: Sequence[str], frac: Sequence[float] = (0.8, 0.1, 0.1)) -> Split:
    """Hu et al.'s deterministic scaffold split (snap-stanford/pretrain-gnns ``chem/splitters.py``).

    Molecules are grouped by Bemis-Murcko scaffold with chirality (``MurckoScaffoldSmiles(...,
    includeChirality=True)``, the same call on the same parse); the groups, sorted by (size, first row)
    largest first, fill train while it stays within ``frac[0]`` of the valid molecules, then valid up to
    ``frac[0] + frac[1]``, and the rest go to test. No scaffold is shared between parts. Unparsable
    SMILES are in ``invalid`` (Hu et al. dropped them before splitting, so the parts match theirs).
    """
    f_train, f_valid, _ = _check_frac(frac)
    groups, invalid = _scaffold_groups(smiles)
    n_valid = len(smiles) - len(invalid)
    ordered = sorted(groups, key=lambda g: (len(g), g[0]), reverse=True)
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


def _scaffold(mol: Chem.Mol) -> str:
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=True)


def parent_key(mol: Chem.Mol) -> str:
    """The molecule's parent, for grouping: the largest organic fragment, uncharged, without stereo, as canonical
    SMILES. Salts, charge forms and stereoisomers of one compound share it, so a split can keep them together."""
    parent = _parent(mol)
    Chem.RemoveStereochemistry(parent)  # on uncharge's new molecule: the caller's keeps its stereo
    return Chem.MolToSmiles(parent)


def _group_rows(
    smiles: Sequence[str], *keys: Callable[[Chem.Mol], str]
) -> tuple[list[dict[str, list[int]]], list[int]]:
    """Rows grouped by each of ``keys`` of their molecule (insertion order: first seen), and the unparsable rows.
    Each SMILES is parsed once for every key (the parse is the slow part)."""
    groupings: list[dict[str, list[int]]] = [{} for _ in keys]
    invalid: list[int] = []
    with rdBase.BlockLogs():
        for i, s in enumerate(smiles):
            mol = _parse(s)
            if mol is None:
                invalid.append(i)
                continue
            for groups, key in zip(groupings, keys, strict=True):
                groups.setdefault(key(mol), []).append(i)
    return groupings, invalid


def _scaffold_groups(smiles: Sequence[str]) -> tuple[list[list[int]], list[int]]:
    """Rows grouped by Bemis-Murcko scaffold (with chirality), in first-seen order, and the unparsable rows."""
    (groups,), invalid = _group_rows(smiles, _scaffold)
    return list(groups.values()), invalid


def scaffold_folds(
    smiles: Sequence[str], rows: Sequence[int] | np.ndarray, k: int = 5, seed: int = 0
) -> list[np.ndarray]:
    """``rows`` cut into ``k`` folds that never share a Bemis-Murcko scaffold (groups shuffled with ``seed``, each
    put into the smallest fold so far): cross-validation that, like a scaffold split, scores unseen scaffolds."""
    if k < 2:
        raise ValueError(f"k must be at least 2, not {k}")
    rows = _idx(rows)
    groups, invalid = _scaffold_groups([smiles[i] for i in rows])
    order = np.random.default_rng(seed).permutation(len(groups))
    folds: list[list[int]] = [[] for _ in range(k)]
    for g in order:
        min(folds, key=len).extend(rows[groups[g]].tolist())
    for n, i in enumerate(invalid):
        folds[n % k].append(int(rows[i]))
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]


def scaffold_balanced_split(smiles: Sequence[str], frac: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """A seeded, balanced scaffold split (Chemprop's ``scaffold_balanced``): scaffold groups too big for half of
    the valid or test part go to train first, the other groups follow in a seeded random order, each into train,
    valid or test, whichever still has room. Scaffolds stay apart as in :func:`scaffold_split`, but the small
    parts get a mix of scaffolds (and usually of classes) instead of the rarest ones; other seeds give other
    splits, for an estimate over several."""
    _check_frac(frac)
    groups, invalid = _scaffold_groups(smiles)
    return _balanced(groups, invalid, frac, seed)


def _balanced(groups: list[list[int]], invalid: list[int], frac: Sequence[float], seed: int, moved: int = 0) -> Split:
    """The seeded balanced assignment of :func:`scaffold_balanced_split`, for any grouping of the valid rows."""
    f_train, f_valid, _ = _check_frac(frac)
    n = sum(map(len, groups))
    sizes = (f_train * n, f_valid * n, n - int(f_train * n) - int(f_valid * n))
    rng = random.Random(seed)
    big = [g for g in groups if len(g) > sizes[1] / 2 or len(g) > sizes[2] / 2]
    small = [g for g in groups if not (len(g) > sizes[1] / 2 or len(g) > sizes[2] / 2)]
    rng.shuffle(big)
    rng.shuffle(small)
    parts: list[list[int]] = [[], [], []]
    for group in big + small:
        k = next((k for k in range(3) if len(parts[k]) + len(group) <= sizes[k]), 0 if not parts[0] else 2)
        parts[k].extend(group)
    return Split(_idx(parts[0]), _idx(parts[1]), _idx(parts[2]), _idx(invalid), moved=moved)


def _parent(mol: Chem.Mol) -> Chem.Mol:
    """The largest organic fragment, uncharged (a new molecule: the caller's is untouched)."""
    largest = rdMolStandardize.LargestFragmentChooser(preferOrganic=True).choose(mol)
    return rdMolStandardize.Uncharger().uncharge(largest)


def _parent_scaffold(mol: Chem.Mol) -> str:
    """The scaffold of the molecule's parent: a counterion's ring (tosylate, benzoate) is not the drug's scaffold."""
    return _scaffold(_parent(mol))


def _parent_groups(smiles: Sequence[str]) -> tuple[list[list[int]], list[int], int]:
    """Rows grouped by "same scaffold of the parent or same parent key", closed transitively (union-find), in
    first-seen order; the unparsable rows; and how many rows moved: joined a group made mostly of another plain
    scaffold group (the whole molecule's scaffold, as :func:`scaffold_split` groups) than their own. Scaffolds are
    taken of the parent so that salts join their free base, not every molecule that shares their counterion
    (Tox21: 3,299 molecules, acyclic and benzene ones, were one group that way)."""
    (by_scaffold, by_parent, plain), invalid = _group_rows(smiles, _parent_scaffold, parent_key, _scaffold)
    scaffold_groups = list(by_scaffold.values())
    owner = {row: g for g, rows in enumerate(scaffold_groups) for row in rows}
    root = list(range(len(scaffold_groups)))

    def find(g: int) -> int:
        while root[g] != g:
            root[g] = root[root[g]]
            g = root[g]
        return g

    for rows in by_parent.values():
        first = find(owner[rows[0]])
        for row in rows[1:]:
            other = find(owner[row])
            if other != first:
                root[max(first, other)] = min(first, other)  # the earlier group's index stays the root
                first = min(first, other)
    joined: dict[int, list[int]] = {}
    for g in range(len(scaffold_groups)):
        joined.setdefault(find(g), []).append(g)
    groups = [sorted(row for g in members for row in scaffold_groups[g]) for members in joined.values()]
    return groups, invalid, _moved(groups, list(plain.values()))


def _moved(groups: list[list[int]], plain: list[list[int]]) -> int:
    """Rows that joined a group whose molecules are mostly of another plain scaffold group than theirs."""
    plain_of = {row: p for p, rows in enumerate(plain) for row in rows}
    moved = 0
    for rows in groups:
        counts = Counter(plain_of[row] for row in rows)
        moved += len(rows) - max(counts.values())
    return moved


def grouped_scaffold_split(smiles: Sequence[str], frac: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """:func:`scaffold_balanced_split` over groups that also keep a parent's forms together.

    A group is a connected set of molecules linked by "same Bemis-Murcko scaffold (with chirality) of the parent
    (largest organic fragment)" or "same :func:`parent_key`", so a salt and its free base, or two stereoisomers
    whose chiral scaffolds differ, never straddle parts. ``Split.moved`` counts the molecules in a group made
    mostly of another scaffold group (the whole molecule's) than their own. With none moved the split equals
    :func:`scaffold_balanced_split`'s for the same seed.
    """
    _check_frac(frac)
    groups, invalid, moved = _parent_groups(smiles)
    return _balanced(groups, invalid, frac, seed, moved)


def repeated_splits(
    smiles: Sequence[str], n_splits: int = 5, frac: Sequence[float] = (0.8, 0.1, 0.1), first_seed: int = 0
) -> list[Split]:
    """:func:`grouped_scaffold_split` with seeds ``first_seed`` .. ``first_seed + n_splits - 1``, for an estimate over
    several splits; the molecules are parsed and grouped once and the groups reused for every seed."""
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1, not {n_splits}")
    _check_frac(frac)
    groups, invalid, moved = _parent_groups(smiles)
    return [_balanced(groups, invalid, frac, seed, moved) for seed in range(first_seed, first_seed + n_splits)]


def single_class_parts(targets: np.ndarray, split: Split) -> list[str]:
    """The parts of ``split`` in which no classification task has both classes (so ROC-AUC and model selection
    are undefined there), each described as ``"valid (65 molecules: only class 0)"``."""
    y = np.asarray(targets, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    problems = []
    for part in ("train", "valid", "test"):
        rows = np.asarray(getattr(split, part), dtype=np.int64)
        labels = y[rows]
        both = [np.unique(col[~np.isnan(col)]).size >= 2 for col in labels.T]
        if not any(both):
            present = np.unique(labels[~np.isnan(labels)])
            what = "no label" if present.size == 0 else f"only class {present[0]:g}"
            problems.append(f"{part} ({len(rows)} molecules: {what})")
    return problems


def _valid_rows(smiles: Sequence[str] | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose SMILES parse, and those that do not (every row is valid when ``smiles`` is None)."""
    if smiles is None:
        return np.arange(n, dtype=np.int64), _empty()
    if len(smiles) != n:
        raise ValueError(f"got {len(smiles)} SMILES for {n} rows")
    with rdBase.BlockLogs():
        ok = np.array([_parse(s) is not None for s in smiles], dtype=bool)
    return np.flatnonzero(ok).astype(np.int64), np.flatnonzero(~ok).astype(np.int64)


def _cut(rows: np.ndarray, f_train: float, f_valid: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = int(f_train * len(rows)), int(f_train * len(rows)) + int(f_valid * len(rows))
    return rows[:a], rows[a:b], rows[b:]


def random_split(
    n: int, frac: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0, smiles: Sequence[str] | None = None
) -> Split:
    """A seeded random split of ``n`` rows: Hu et al.'s ``random_split`` (Python ``random`` shuffle, sizes
    truncated), so with no invalid rows the parts equal theirs for the same seed.

    Give ``smiles`` to keep unparsable rows out of every part (they are reported in ``invalid``).
    """
    f_train, f_valid, _ = _check_frac(frac)
    rows, invalid = _valid_rows(smiles, n)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    train, valid, test = (np.sort(p) for p in _cut(rows[order], f_train, f_valid))
    return Split(train, valid, test, invalid)


def stratified_split(
    labels: Sequence[float] | np.ndarray,
    frac: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    smiles: Sequence[str] | None = None,
) -> Split:
    """A seeded split that keeps each class's share in every part (one classification task).

    Rows with a missing (NaN) label are reported in ``unlabeled``, unparsable ``smiles`` in ``invalid``.
    """
    f_train, f_valid, _ = _check_frac(frac)
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"stratified_split needs the labels of one task, got shape {y.shape}; pick a column "
            "(labels[:, k]) or use scaffold_split / random_split for multi-task data"
        )
    rows, invalid = _valid_rows(smiles, len(y))
    unlabeled = rows[np.isnan(y[rows])]
    rows = rows[~np.isnan(y[rows])]
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in np.unique(y[rows]):
        members = rows[y[rows] == cls]
        members = members[rng.permutation(len(members))]
        a, b = round(f_train * len(members)), round((f_train + f_valid) * len(members))
        for k, chunk in enumerate((members[:a], members[a:b], members[b:])):
            parts[k].append(chunk)
    train, valid, test = (np.sort(np.concatenate(p)) if p else _empty() for p in parts)
    return Split(train, valid, test, invalid, unlabeled)
