"""Splits: Hu et al.'s deterministic scaffold split, seeded random and stratified splits."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

from gnnpt.datasets import load, random_split, scaffold_split, stratified_split


@pytest.fixture(scope="module")
def bbbp(moleculenet_dir):
    return load("bbbp", data_dir=moleculenet_dir)


def test_scaffold_split_is_deterministic_disjoint_and_80_10_10(bbbp) -> None:
    a, b = scaffold_split(bbbp.smiles), scaffold_split(bbbp.smiles)
    for part in ("train", "valid", "test", "invalid"):
        assert np.array_equal(getattr(a, part), getattr(b, part))
    assert len(a.invalid) == 11  # the unparsable BBBP rows are reported, not silently dropped
    assert a.sizes() == (1631, 204, 204)  # of 2039 valid molecules, as in Hu et al.
    everything = np.concatenate([a.train, a.valid, a.test, a.invalid])
    assert sorted(everything.tolist()) == list(range(len(bbbp)))

    def scaffolds(idx):
        return {MurckoScaffold.MurckoScaffoldSmiles(mol=Chem.MolFromSmiles(bbbp.smiles[i]), includeChirality=True)
                for i in idx}  # fmt: skip

    train, valid, test = scaffolds(a.train), scaffolds(a.valid), scaffolds(a.test)
    assert not (train & valid) and not (train & test) and not (valid & test)


def test_scaffold_split_puts_the_largest_scaffold_sets_in_train() -> None:
    smiles = ["c1ccccc1C"] * 5 + ["C1CCCCC1C"] * 3 + ["CCO", "CCN"]
    split = scaffold_split(smiles, frac=(0.8, 0.1, 0.1))
    assert split.train.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    with pytest.raises(ValueError, match="sum"):
        scaffold_split(smiles, frac=(0.8, 0.3, 0.1))


def test_random_split_is_seeded(bbbp) -> None:
    a = random_split(len(bbbp), seed=1, smiles=bbbp.smiles)
    b = random_split(len(bbbp), seed=1, smiles=bbbp.smiles)
    c = random_split(len(bbbp), seed=2, smiles=bbbp.smiles)
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    assert len(a.invalid) == 11 and sum(a.sizes()) == 2039


def test_stratified_split_keeps_class_ratios(bbbp) -> None:
    y = bbbp.targets[:, 0]
    split = stratified_split(y, seed=0, smiles=bbbp.smiles)
    overall = y[np.concatenate([split.train, split.valid, split.test])].mean()
    for part in (split.train, split.valid, split.test):
        assert y[part].mean() == pytest.approx(overall, abs=0.01)
    with pytest.raises(ValueError, match="one task"):
        stratified_split(np.zeros((10, 2)))
