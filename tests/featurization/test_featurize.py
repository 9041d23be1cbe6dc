"""featurize(): per-item errors, exact hu2020/ogb encodings, standardization, workers == serial."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import torch
from ogb.utils import smiles2graph
from rdkit import Chem

import gnnpt
from gnnpt.featurization import ErrorReason


def reference_hu2020(smiles: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent per-atom/per-bond encoding, written from pretrain-gnns chem/loader.py."""
    mol = Chem.MolFromSmiles(smiles)
    chiral = {Chem.ChiralType.CHI_TETRAHEDRAL_CW: 1, Chem.ChiralType.CHI_TETRAHEDRAL_CCW: 2}
    btype = {
        Chem.BondType.SINGLE: 0,
        Chem.BondType.DOUBLE: 1,
        Chem.BondType.TRIPLE: 2,
        Chem.BondType.AROMATIC: 3,
        Chem.BondType.DATIVE: 0,
    }
    bdir = {Chem.BondDir.ENDUPRIGHT: 1, Chem.BondDir.ENDDOWNRIGHT: 2}
    x = np.array([[a.GetAtomicNum() - 1, chiral.get(a.GetChiralTag(), 0)] for a in mol.GetAtoms()])
    edges = []
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        f = (btype[b.GetBondType()], bdir.get(b.GetBondDir(), 0))
        edges += [(i, j, *f), (j, i, *f)]
    edges = np.array(sorted(edges), dtype=np.int64).reshape(-1, 4)
    return x, edges[:, :2].T, edges[:, 2:]


def graph(store: gnnpt.PackedGraphs, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = store.gather([i])
    return b.x.numpy(), b.edge_index.numpy(), b.edge_attr.numpy()


POLYMER = "C" * 10_000


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("C1CC", ErrorReason.UNPARSABLE),
        ("C(C)(C)(C)(C)C", ErrorReason.UNPARSABLE),  # valence: found while sanitizing, with RDKit's reason
        ("c1cccc1", ErrorReason.UNPARSABLE),  # cannot be kekulized
        ("", ErrorReason.EMPTY),
        ("   ", ErrorReason.EMPTY),
        (None, ErrorReason.EMPTY),
        (float("nan"), ErrorReason.EMPTY),
        ("[Xx]", ErrorReason.UNPARSABLE),
        (POLYMER, ErrorReason.TOO_MANY_ATOMS),
        ("CCÖ", ErrorReason.UNPARSABLE),  # RDKit alone would silently return "CC"
        ("C\x00O", ErrorReason.UNPARSABLE),
        ("\ud800", ErrorReason.UNPARSABLE),
        (42, ErrorReason.UNPARSABLE),
        ("*CC", ErrorReason.UNSUPPORTED_ELEMENT),
    ],
)
def test_bad_input_is_one_rows_error(smiles: object, reason: ErrorReason) -> None:
    store = gnnpt.featurize(["CCO", smiles, "c1ccccc1"])
    assert len(store) == 3
    assert [(e.index, e.reason) for e in store.errors] == [(1, reason)]
    assert store.errors[0].message
    assert store.smiles == ["CCO", None, "c1ccccc1"]
    assert store.valid.tolist() == [True, False, True]
    assert store.nodes_per_graph().tolist() == [3, 0, 6]


def test_sanitization_errors_say_what_rdkit_found() -> None:
    store = gnnpt.featurize(["C(C)(C)(C)(C)C", "c1cccc1", "F[C@H](Cl)C(C)(C)(C)(C)C"])
    messages = [e.message for e in store.errors]
    assert "valence" in messages[0].lower() and "kekulize" in messages[1].lower()
    assert [e.reason for e in store.errors] == [ErrorReason.UNPARSABLE] * 3  # a stereo SMILES: MolFromSmiles' path


def test_max_atoms_is_configurable() -> None:
    store = gnnpt.featurize([POLYMER], max_atoms=20_000)
    assert not store.errors and store.num_nodes == 10_000
    assert store.edge_index.dtype == torch.int16
    big = gnnpt.featurize(["C" * 40_000], max_atoms=50_000)
    assert big.edge_index.dtype == torch.int32  # local indices beyond int16
    assert int(big.gather([0]).edge_index.max()) == 39_999


def test_all_invalid_and_empty_input() -> None:
    store = gnnpt.featurize(["", "C1CC"])
    assert len(store) == 2 and store.num_nodes == 0 and len(store.errors) == 2
    empty = gnnpt.featurize([])
    assert len(empty) == 0 and empty.num_nodes == 0


def test_hu2020_encoding_by_hand() -> None:
    store = gnnpt.featurize(["CCO", "F/C=C/F", "C[C@H](N)O", "c1ccccc1", "C#N", "[Na+].[Cl-]"])
    x, ei, ea = graph(store, 0)
    assert x.tolist() == [[5, 0], [5, 0], [7, 0]]
    assert ei.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]] and ea.tolist() == [[0, 0]] * 4
    x, ei, ea = graph(store, 1)  # ENDUPRIGHT on both single bonds, NONE on the double bond
    assert sorted(map(tuple, ea.tolist())) == [(0, 1)] * 4 + [(1, 0)] * 2
    x, _, _ = graph(store, 2)
    assert x[1, 1] in (1, 2) and x[[0, 2, 3], 1].tolist() == [0, 0, 0]
    assert set(graph(store, 3)[2][:, 0].tolist()) == {3}
    assert set(graph(store, 4)[2][:, 0].tolist()) == {2}
    x, ei, ea = graph(store, 5)  # no bonds
    assert x.tolist() == [[10, 0], [16, 0]] and ei.shape == (2, 0) and ea.shape == (0, 2)


def test_atoms_written_by_atomic_number_featurize_as_by_symbol() -> None:
    by_number = gnnpt.featurize(["[13#6]C", "[8#4+]", "[#7]1[#6][#6]1"])  # "#4": beryllium (found by the fuzz test)
    by_symbol = gnnpt.featurize(["[13C]C", "[8Be+]", "N1CC1"])
    assert not by_number.errors
    assert torch.equal(by_number.x, by_symbol.x) and torch.equal(by_number.edge_attr, by_symbol.edge_attr)


def test_a_bond_rdkit_makes_dative_has_both_directions() -> None:
    smiles = "CC(=O)[O-][Na+]"  # RDKit reads the O-Na bond as dative (found comparing the SMILES and Mol paths)
    from_text, from_mol = gnnpt.featurize([smiles]), gnnpt.featurize([Chem.MolFromSmiles(smiles)])
    assert from_text.edge_index.shape[1] == 2 * Chem.MolFromSmiles(smiles).GetNumBonds() == 8
    assert torch.equal(from_text.edge_index, from_mol.edge_index) and torch.equal(from_text.x, from_mol.x)
    assert torch.equal(from_text.edge_attr, from_mol.edge_attr)


def test_oddities_have_defined_treatment() -> None:
    mol = Chem.RWMol(Chem.MolFromSmiles("CC(F)Cl"))
    mol.GetAtomWithIdx(1).SetChiralTag(Chem.ChiralType.CHI_OTHER)
    dative = "[NH3]->[Co+3]"
    store = gnnpt.featurize([mol.GetMol(), dative, "[2H]C([2H])([2H])O", "[H]N=C"])
    assert not store.errors
    assert graph(store, 0)[0][:, 1].tolist() == [0, 0, 0, 0]  # CHI_OTHER -> unspecified
    assert graph(store, 1)[2][:, 0].tolist() == [0, 0]  # dative -> single
    x, _, _ = graph(store, 2)
    assert sorted(x[:, 0].tolist()) == [0, 0, 0, 5, 7]  # deuterium stays an explicit atom
    assert graph(store, 3)[0][:, 0].tolist() == [6, 5]  # explicit [H] removed by RDKit


def _sample_smiles(moleculenet_dir, corpus_dir, per_file: int = 400) -> list[str]:
    out: list[str] = []
    for path in sorted(moleculenet_dir.glob("*.csv.gz")):
        frame = pd.read_csv(path)
        col = "smiles" if "smiles" in frame.columns else "mol"
        out += frame[col].astype(str).sample(min(per_file, len(frame)), random_state=0).tolist()
    with gzip.open(corpus_dir / "zinc250k.smi.gz", "rt") as fh:
        out += [next(fh).strip() for _ in range(per_file)]
    return out


def test_matches_reference_encoding_on_real_data(moleculenet_dir, corpus_dir) -> None:
    """The fast parse (unsanitized, then sanitized) and the SMILES-token/adjacency path equal MolFromSmiles and the
    per-bond reference on every dataset: the same molecules fail, the same canonical SMILES and graphs."""
    smiles = _sample_smiles(moleculenet_dir, corpus_dir)
    store = gnnpt.featurize(smiles, canonical=True)
    failed = {e.index for e in store.errors}
    unparsable = {e.index for e in store.errors if e.reason == ErrorReason.UNPARSABLE}
    checked = 0
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s.strip())
        assert (mol is None) == (i in unparsable), s
        if mol is None or any(a.GetAtomicNum() == 0 for a in mol.GetAtoms()):
            assert i in failed
            continue
        assert store.smiles[i] == Chem.MolToSmiles(mol)
        x, ei, ea = graph(store, i)
        rx, rei, rea = reference_hu2020(s.strip())
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(ei, rei)
        np.testing.assert_array_equal(ea, rea)
        checked += 1
    assert checked > 0.95 * len(smiles)


def test_clintox_dummy_and_dative_rows(moleculenet_dir) -> None:
    smiles = pd.read_csv(moleculenet_dir / "clintox.csv.gz")["smiles"].tolist()
    store = gnnpt.featurize(smiles)
    reasons = {e.index: e.reason for e in store.errors}
    assert reasons[0] == ErrorReason.UNSUPPORTED_ELEMENT  # the leading '*'
    assert 983 not in reasons and 984 not in reasons  # dative bonds are encoded as single
    assert len(store) == len(smiles)


def test_ogb_scheme_matches_ogb_smiles2graph() -> None:
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "C[C@H](N)C(=O)O", "[Na+].[Cl-]", "*CC", "F/C=C/F"]
    store = gnnpt.featurize(smiles, scheme="ogb")
    assert not store.errors  # ogb maps '*' to its misc index
    for i, s in enumerate(smiles):
        ref = smiles2graph(s)
        x, ei, ea = graph(store, i)
        np.testing.assert_array_equal(x, ref["node_feat"])
        order = np.lexsort((ref["edge_index"][1], ref["edge_index"][0]))
        np.testing.assert_array_equal(ei, ref["edge_index"][:, order])
        np.testing.assert_array_equal(ea, ref["edge_feat"][order])


def test_standardization_and_canonical_smiles() -> None:
    store = gnnpt.featurize(["CC(=O)[O-].[Na+]", "OCC"], standardize=True, canonical=True)
    assert store.smiles == ["CC(=O)O", "CCO"]
    assert graph(store, 0)[0][:, 0].tolist() == [5, 5, 7, 7]
    plain = gnnpt.featurize(["CC(=O)[O-].[Na+]", "OCC"], canonical=True)
    assert plain.smiles == ["CC(=O)[O-].[Na+]", "CCO"]


def test_mol_inputs_and_whitespace() -> None:
    store = gnnpt.featurize([Chem.MolFromSmiles("CCO"), "CCO\r", " CCO "])
    a, b, c = (graph(store, i) for i in range(3))
    for arrays in (b, c):
        for u, v in zip(a, arrays, strict=True):
            np.testing.assert_array_equal(u, v)
    assert store.smiles == ["CCO", "CCO", "CCO"]


def test_workers_give_identical_results(moleculenet_dir) -> None:
    smiles = pd.read_csv(moleculenet_dir / "bbbp.csv.gz")["smiles"].tolist()
    serial = gnnpt.featurize(smiles, canonical=True)
    parallel = gnnpt.featurize(iter(smiles), canonical=True, workers=2, chunk_size=256)
    for name in ("x", "edge_index", "edge_attr", "node_ptr", "edge_ptr"):
        assert torch.equal(getattr(serial, name), getattr(parallel, name)), name
    assert serial.smiles == parallel.smiles
    assert serial.errors == parallel.errors and len(serial.errors) == 11


def test_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="hu2020"):
        gnnpt.featurize(["CCO"], scheme="nope")


def test_a_huge_macrocycle_is_refused_before_rdkit_perceives_its_rings() -> None:
    """Ring perception of a 20k-atom ring crashes RDKit and a 100k-atom one exhausts memory: the atom limit must act
    first (issue 16), for SMILES with hydrogens and stereo marks too (they take RDKit's full parse)."""
    ring = "C1" + "C" * 99_998 + "C1"
    store = gnnpt.featurize([ring, "CCO", "[2H]C1" + "C" * 30_000 + "C1", "F/C=C/" + "C" * 1500])
    reasons = {e.index: (e.reason, e.message) for e in store.errors}
    assert reasons[0] == (ErrorReason.TOO_MANY_ATOMS, "more than max_atoms=1000 heavy atoms (counted in the SMILES "
                          "text; raise max_atoms to accept it)")  # fmt: skip
    assert reasons[2][0] == reasons[3][0] == ErrorReason.TOO_MANY_ATOMS and 1 not in reasons
    assert store.smiles[1] == "CCO"


def test_the_atom_limit_is_checked_on_the_text_before_rdkit_reads_it(monkeypatch) -> None:
    """RDKit's parse of a 10 MB SMILES takes minutes and gigabytes even unsanitized (issue 32): a SMILES over the
    limit must never reach RDKit; one within it, hydrogens and stereo marks included, is read as before."""
    from gnnpt.featurization import chunk

    read: list[int] = []
    real = chunk.Chem.MolFromSmiles
    monkeypatch.setattr(
        chunk.Chem, "MolFromSmiles", lambda text, *a, **k: read.append(len(text)) or real(text, *a, **k)
    )
    huge = "C" * 2_000_000
    options = chunk.FeaturizeOptions(max_atoms=200)
    result = chunk.featurize_chunk([huge, "[2H]C(Cl)Br", "C" * 200 + "[H]", f"{huge} name"], 0, options)
    assert [(e.index, e.reason) for e in result.errors] == [(0, ErrorReason.TOO_MANY_ATOMS),
                                                            (3, ErrorReason.TOO_MANY_ATOMS)]  # fmt: skip
    assert result.smiles[1:3] == ["[2H]C(Cl)Br", "C" * 200 + "[H]"] and max(read) < 300


def test_heavy_atoms_counted_from_the_text_equal_rdkits(moleculenet_dir) -> None:
    """The text count is exact: hydrogen brackets are not heavy, Cl/Br and brackets are one atom, a name or a
    CXSMILES extension after a space does not count."""
    from gnnpt.featurization.atom_count import heavy_atoms

    smiles = pd.read_csv(moleculenet_dir / "tox21.csv.gz")["smiles"].tolist()
    smiles += ["[2H]C([2H])([2H])[2H]", "[Hg]Cl", "*CC", "[13CH4]", "Sc1ccccc1", "CCO |$;;$|", "CCO ethanol"]
    for s in smiles:
        mol = Chem.MolFromSmiles(s, sanitize=False)
        assert heavy_atoms(s) == sum(a.GetAtomicNum() != 1 for a in mol.GetAtoms()), s
    assert heavy_atoms("C" * 10_000_000, stop=200) == 201


def test_fingerprints_from_featurization_equal_those_of_the_canonical_smiles() -> None:
    """The applicability domain reads fingerprints computed from the parsed molecules (no second parse): they must
    be the ones its SMILES path gives, so every interface reports the same max_similarity."""
    from gnnpt.featurization.fingerprints import morgan_fingerprints

    smiles = ["CCO", "bad(", "c1ccccc1O", "[2H]C(Cl)Br", "C[C@H](N)C(=O)O", "", "O=C(O)c1ccccc1OC(C)=O"]
    store = gnnpt.featurize(smiles, canonical=True, fingerprints=True, workers=2, chunk_size=2)
    packed, valid = morgan_fingerprints(store.smiles)
    np.testing.assert_array_equal(valid, store.valid)
    np.testing.assert_array_equal(store.fingerprints.numpy(), packed)
    assert store.select([2, 0]).fingerprints.numpy().tolist() == packed[[2, 0]].tolist()
