"""Property tests: any input list featurizes without raising and stays aligned with its inputs."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import gnnpt
from gnnpt.featurization.schemes import get_scheme
from gnnpt.store.errors import ItemError

SMILES_ALPHABET = "CNOSPFIBrcnos()[]=#@+-123456789%/\\.*H:$>< "
SEEDS = ["CCO", "c1ccccc1", "C[C@H](N)C(=O)O", "F/C=C/F", "[NH4+]", "CC(=O)[O-].[Na+]", "[Co]<-N"]
# what the fast SMILES path must also read as RDKit does: metals and salts, isotopes, charges and zwitterions,
# explicit hydrogens, radicals, aromatic heteroatoms, atoms by number, dative bonds from plain SMILES
GRAPH_SEEDS = [*SEEDS, "CC(=O)[O-][Na+]", "[13#6]C", "Clc1cc[nH]c1Br", "[se]1cccc1", "[2H]C([2H])([2H])O",
               "[11CH3]I", "[Fe+2].[Cl-].[Cl-]", "Cl[Pt](Cl)([NH3])[NH3]", "[Li]C", "[Mg+2].[O-]C(=O)C",
               "C[N+](C)(C)C", "O=[N+]([O-])c1ccccc1", "[O-][n+]1ccccc1", "[CH2]C", "[Si](C)(C)(C)C",
               "OB(O)c1ccccc1", "C[S@@](=O)c1ccccc1", "[NH3+]CC([O-])=O", "c1ccc2[nH]ccc2c1", "[Cu+2]<-[NH3]",
               "[Gd+3]", "[O-][Cl+3]([O-])([O-])[O-]", "[CH3][Hg]Cl", "P(=O)(O)(O)OC"]  # fmt: skip


def _mutate(smiles: str, rng: random.Random) -> str:
    chars = list(smiles)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(3)
        pos = rng.randrange(len(chars) + 1)
        if op == 0:
            chars.insert(pos, rng.choice(SMILES_ALPHABET))
        elif chars and op == 1:
            del chars[min(pos, len(chars) - 1)]
        elif chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(SMILES_ALPHABET)
    return "".join(chars)


def _check(inputs: list[str], scheme: str) -> None:
    store = gnnpt.featurize(inputs, scheme=scheme)
    assert len(store) == len(inputs) and len(store.smiles) == len(inputs)
    failed = {e.index for e in store.errors}
    assert all((store.smiles[i] is None) == (i in failed) for i in range(len(inputs)))
    counts = store.nodes_per_graph()
    assert all((counts[i] == 0) == (i in failed) for i in range(len(inputs)))
    batch = store.gather(store.valid_ids)
    assert batch.num_graphs == len(inputs) - len(failed)
    if batch.edge_index.numel():
        assert int(batch.edge_index.max()) < batch.num_nodes


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=SMILES_ALPHABET, max_size=30), max_size=8))
def test_random_smiles_like_strings(inputs: list[str]) -> None:
    _check(inputs, "hu2020")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=5))
def test_arbitrary_unicode(inputs: list[str]) -> None:
    _check(inputs, "hu2020")


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["hu2020", "ogb"]))
def test_mutated_real_smiles(seed: int, scheme: str) -> None:
    rng = random.Random(seed)
    _check([_mutate(rng.choice(SEEDS), rng) for _ in range(6)], scheme)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_fast_smiles_path_gives_rdkits_graph(seed: int) -> None:
    """hu2020 reads elements and bonds from the SMILES text when it can; it must give what RDKit's atoms and bonds
    give (found two bugs: "[13#6]" atoms, one-directional dative bonds)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    rng, scheme = random.Random(seed), get_scheme("hu2020")
    for _ in range(20):
        smiles = _mutate(rng.choice(GRAPH_SEEDS), rng)
        mol = Chem.MolFromSmiles(smiles)
        if mol is None or mol.GetNumAtoms() == 0:
            continue
        try:
            fast = scheme.featurize_mol(mol, smiles)
        except ItemError:
            continue
        for got, want in zip(fast, scheme.featurize_mol(mol, None), strict=True):
            assert np.array_equal(got, want), smiles
