"""Property tests: any input list featurizes without raising and stays aligned with its inputs."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

import gnnpt

SMILES_ALPHABET = "CNOSPFIBrcnos()[]=#@+-123456789%/\\.*H:$>< "
SEEDS = ["CCO", "c1ccccc1", "C[C@H](N)C(=O)O", "F/C=C/F", "[NH4+]", "CC(=O)[O-].[Na+]", "[Co]<-N"]


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
