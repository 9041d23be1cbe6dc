"""Splits: Hu et al.'s deterministic scaffold split, seeded balanced and parent-grouped scaffold splits, seeded
random and stratified splits."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold

from gnnpt.datasets import (
    Split,
    grouped_scaffold_split,
    load,
    parent_key,
    random_split,
    repeated_splits,
    scaffold_balanced_split,
    scaffold_split,
    single_class_parts,
    stratified_split,
)


@pytest.fixture(scope="module")
def bbbp(moleculenet_dir):
    return load("bbbp", data_dir=moleculenet_dir)


def _scaffold(smiles: str) -> str:
    return MurckoScaffold.MurckoScaffoldSmiles(smiles=smiles, includeChirality=True)


def _hu_scaffold_split(smiles_list: list[str]) -> tuple[list[int], list[int], list[int]]:
    """pretrain-gnns chem/splitters.py scaffold_split, transcribed (on the already-filtered list)."""
    all_scaffolds: dict[str, list[int]] = {}
    for i, smiles in enumerate(smiles_list):
        all_scaffolds.setdefault(_scaffold(smiles), []).append(i)
    all_scaffolds = {key: sorted(value) for key, value in all_scaffolds.items()}
    sets = [s for (_, s) in sorted(all_scaffolds.items(), key=lambda x: (len(x[1]), x[1][0]), reverse=True)]
    train_cutoff, valid_cutoff = 0.8 * len(smiles_list), 0.9 * len(smiles_list)
    train_idx: list[int] = []
    valid_idx: list[int] = []
    test_idx: list[int] = []
    for scaffold_set in sets:
        if len(train_idx) + len(scaffold_set) > train_cutoff:
            if len(train_idx) + len(valid_idx) + len(scaffold_set) > valid_cutoff:
                test_idx.extend(scaffold_set)
            else:
                valid_idx.extend(scaffold_set)
        else:
            train_idx.extend(scaffold_set)
    return train_idx, valid_idx, test_idx


def test_scaffold_split_matches_hu_et_al_on_bbbp(bbbp) -> None:
    a, b = scaffold_split(bbbp.smiles), scaffold_split(bbbp.smiles)
    for part in ("train", "valid", "test", "invalid"):
        assert np.array_equal(getattr(a, part), getattr(b, part)) and getattr(a, part).dtype == np.int64
    assert len(a.invalid) == 11  # the unparsable BBBP rows are reported, not silently dropped
    assert a.sizes() == (1631, 204, 204)  # of the 2,039 valid molecules: 80/10/10
    everything = np.concatenate([a.train, a.valid, a.test, a.invalid])
    assert sorted(everything.tolist()) == list(range(len(bbbp)))

    with rdBase.BlockLogs():
        valid_rows = [i for i, s in enumerate(bbbp.smiles) if Chem.MolFromSmiles(s) is not None]
        reference = _hu_scaffold_split([bbbp.smiles[i] for i in valid_rows])  # Hu et al. dropped invalid rows first
    for ours, theirs in zip((a.train, a.valid, a.test), reference, strict=True):
        assert ours.tolist() == [valid_rows[i] for i in theirs]

    train, valid, test = ({_scaffold(bbbp.smiles[i]) for i in part} for part in (a.train, a.valid, a.test))
    assert not (train & valid) and not (train & test) and not (valid & test)


def test_scaffold_split_order_and_errors() -> None:
    smiles = ["c1ccccc1C"] * 5 + ["C1CCCCC1C"] * 3 + ["CCO", "not a smiles", "CCN"]
    split = scaffold_split(smiles)
    assert split.train.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]  # largest scaffold sets first
    assert split.invalid.tolist() == [9]
    with pytest.raises(ValueError, match="sum"):
        scaffold_split(smiles, frac=(0.8, 0.3, 0.1))


def test_random_split_is_seeded_and_follows_hu_et_al() -> None:
    a, b, c = random_split(100, seed=1), random_split(100, seed=1), random_split(100, seed=2)
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    order = list(range(100))
    random.Random(1).shuffle(order)  # pretrain-gnns: random.seed(seed); random.shuffle(all_idx)
    assert a.train.tolist() == sorted(order[:80]) and a.valid.tolist() == sorted(order[80:90])
    assert isinstance(a, Split) and a.train.dtype == np.int64


def test_random_split_reports_invalid_smiles(bbbp) -> None:
    split = random_split(len(bbbp), seed=0, smiles=bbbp.smiles)
    assert len(split.invalid) == 11 and sum(split.sizes()) == 2039
    assert not set(split.invalid) & set(np.concatenate([split.train, split.valid, split.test]))
    with pytest.raises(ValueError, match="2050 SMILES for 10 rows"):
        random_split(10, smiles=bbbp.smiles)


def test_stratified_split_keeps_class_ratios(bbbp) -> None:
    y = bbbp.targets[:, 0]
    split = stratified_split(y, seed=0, smiles=bbbp.smiles)
    assert np.array_equal(split.test, stratified_split(y, seed=0, smiles=bbbp.smiles).test)
    assert not np.array_equal(split.test, stratified_split(y, seed=1, smiles=bbbp.smiles).test)
    overall = y[np.concatenate([split.train, split.valid, split.test])].mean()
    for part in (split.train, split.valid, split.test):
        assert y[part].mean() == pytest.approx(overall, abs=0.01)
    assert len(split.invalid) == 11 and sum(split.sizes()) == 2039

    labels = np.array([0, 1, np.nan] * 20)
    partial = stratified_split(labels, seed=0)
    assert partial.unlabeled.tolist() == list(range(2, 60, 3)) and sum(partial.sizes()) == 40
    with pytest.raises(ValueError, match="one task"):
        stratified_split(np.zeros((10, 2)))


def test_scaffold_balanced_split_keeps_scaffolds_apart_and_varies_with_the_seed(bbbp) -> None:
    smiles = bbbp.smiles[:600]
    a, b = scaffold_balanced_split(smiles, seed=0), scaffold_balanced_split(smiles, seed=1)
    for split in (a, b):
        parts = [set(split.train.tolist()), set(split.valid.tolist()), set(split.test.tolist())]
        assert sum(map(len, parts)) + len(split.invalid) == len(smiles)
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        scaffolds = [{_scaffold(smiles[i]) for i in p} for p in parts]
        assert not (scaffolds[0] & scaffolds[1] or scaffolds[0] & scaffolds[2] or scaffolds[1] & scaffolds[2])
        assert abs(len(parts[1]) - 60) <= 6 and abs(len(parts[2]) - 60) <= 10
    assert a.test.tolist() != b.test.tolist()
    assert scaffold_balanced_split(smiles, seed=0).test.tolist() == a.test.tolist()


def test_single_class_parts_names_the_part_and_its_class() -> None:
    y = np.array([[0.0], [1.0], [0.0], [0.0], [np.nan], [1.0]])
    split = Split(np.array([0, 1]), np.array([2, 3]), np.array([4, 5]))
    assert single_class_parts(y, split) == ["valid (2 molecules: only class 0)", "test (2 molecules: only class 1)"]
    two_tasks = np.column_stack([y[:, 0], [0, 1, 1, 0, 0, 1]])
    assert single_class_parts(two_tasks, split) == []  # the second task has both classes everywhere


def test_scaffold_folds_cover_the_rows_once_and_never_share_a_scaffold() -> None:
    from gnnpt.datasets.splits import scaffold_folds

    smiles = [f"{tail}{ring}" for ring in ("c1ccccc1", "c1ccncc1", "C1CCCCC1", "c1ccoc1", "C1CCNCC1")
              for tail in ("C", "CC", "O", "N")] + ["not a smiles"]  # fmt: skip
    rows = np.arange(1, len(smiles))
    folds = scaffold_folds(smiles, rows, k=3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == rows.tolist()
    scaffolds = [{MurckoScaffold.MurckoScaffoldSmiles(smiles[i]) for i in f if smiles[i] != "not a smiles"}
                 for f in folds]  # fmt: skip
    assert all(not (a & b) for i, a in enumerate(scaffolds) for b in scaffolds[i + 1 :])
    assert max(map(len, folds)) - min(map(len, folds)) <= 4  # whole scaffold groups of four, balanced
    assert [f.tolist() for f in scaffold_folds(smiles, rows, 3, 0)] == [f.tolist() for f in folds]
    with pytest.raises(ValueError, match="at least 2"):
        scaffold_folds(smiles, rows, k=1)


def _parts(split: Split) -> list[set[int]]:
    return [set(split.train.tolist()), set(split.valid.tolist()), set(split.test.tolist())]


def test_parent_key_joins_salts_charge_forms_and_stereoisomers() -> None:
    forms = ["C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)[O-].[Na+]", "C[C@H]([NH3+])C(=O)O.[Cl-]", "CC(N)C(=O)O"]
    mols = [Chem.MolFromSmiles(s) for s in forms]
    assert {parent_key(m) for m in mols} == {"CC(N)C(=O)O"}
    assert [Chem.MolToSmiles(m) for m in mols[:3]] == forms[:3]  # the molecules given keep their stereo
    nicotine = "CN1CCC[C@H]1c1cccnc1"
    salicylate = nicotine + ".OC(=O)c1ccccc1O"  # the larger, organic fragment is the parent
    assert parent_key(Chem.MolFromSmiles(salicylate)) == parent_key(Chem.MolFromSmiles(nicotine))
    assert parent_key(Chem.MolFromSmiles("CC(N)C(=O)OC")) != "CC(N)C(=O)O"


def test_repeated_grouped_splits_keep_scaffolds_and_parents_apart(bbbp) -> None:
    smiles = bbbp.smiles
    splits = repeated_splits(smiles, n_splits=3, first_seed=4)
    with rdBase.BlockLogs():
        mols = {i: Chem.MolFromSmiles(s) for i, s in enumerate(smiles)}
    for seed, split in zip((4, 5, 6), splits, strict=True):
        again = grouped_scaffold_split(smiles, seed=seed)  # the same as one call per seed, and deterministic
        for part in ("train", "valid", "test", "invalid"):
            assert np.array_equal(getattr(split, part), getattr(again, part))
        assert split.moved == again.moved == 35  # raw BBBP: salts joining their drug's scaffold, stereoisomers joined
        parts = _parts(split)
        assert sorted(set().union(*parts) | set(split.invalid.tolist())) == list(range(len(smiles)))
        assert sum(map(len, parts)) == 2039 and len(split.invalid) == 11
        assert abs(len(parts[1]) - 204) <= 10 and abs(len(parts[2]) - 204) <= 10
        for key in (lambda i: _scaffold(smiles[i]), lambda i: parent_key(mols[i])):
            keys = [{key(i) for i in p} for p in parts]
            assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    assert len({tuple(sorted(s.test.tolist())) for s in splits}) == 3  # other seeds, other test parts


def test_a_salt_and_stereoisomers_stay_together_for_every_seed() -> None:
    rings = ["c1ccccc1", "c1ccncc1", "C1CCCCC1", "c1ccoc1", "C1CCNCC1", "c1ccsc1", "C1CCOC1", "c1cnccn1"]
    filler = [a + link + b for i, a in enumerate(rings) for b in rings[i + 1 :] for link in ("", "C", "CC")]
    nicotine = "CN1CCC[C@H]1c1cccnc1"
    quinine = "C=C[C@H]1CN2CC[C@H]1C[C@@H]2[C@@H](O)c1ccnc2ccc(OC)cc12"
    quinidine = "C=C[C@H]1CN2CC[C@H]1C[C@H]2[C@H](O)c1ccnc2ccc(OC)cc12"
    smiles = [nicotine, quinine, *filler, quinidine, nicotine + ".OC(=O)c1ccccc1O"]
    assert _scaffold(quinine) != _scaffold(quinidine) and _scaffold(nicotine) != _scaffold(smiles[-1])
    pairs = [(0, len(smiles) - 1), (1, len(smiles) - 2)]
    split_apart = 0
    for seed in range(20):
        split = grouped_scaffold_split(smiles, seed=seed)
        assert split.moved == 2  # one of each pair joins the other's group
        where = {i: k for k, part in enumerate(_parts(split)) for i in part}
        assert all(where[a] == where[b] for a, b in pairs)
        plain = {i: k for k, part in enumerate(_parts(scaffold_balanced_split(smiles, seed=seed))) for i in part}
        split_apart += any(plain[a] != plain[b] for a, b in pairs)
    assert split_apart > 0  # by scaffold alone, the pairs land in different parts for some seeds

    no_parents_shared = grouped_scaffold_split(filler, seed=3)  # nothing joined: the balanced scaffold split
    reference = scaffold_balanced_split(filler, seed=3)
    assert no_parents_shared.moved == 0 and all(
        np.array_equal(getattr(no_parents_shared, p), getattr(reference, p)) for p in ("train", "valid", "test")
    )
    with pytest.raises(ValueError, match="at least 1"):
        repeated_splits(smiles, n_splits=0)
    with pytest.raises(ValueError, match="sum"):
        repeated_splits(smiles, frac=(0.8, 0.3, 0.1))
