"""Feature schemes: how one RDKit molecule becomes integer node and edge features.

``hu2020`` is exactly the encoding the published pretrain-gnns checkpoints expect (Hu et al. 2020,
``chem/loader.py``): node = (atomic number - 1, chirality tag), edge = (bond type, bond direction).
``ogb`` is OGB's 9 atom / 3 bond features from ``ogb.utils.features``. ``minimol`` is MiniMol's inputs
(:mod:`gnnpt.featurization.minimol_scheme`).

Edges are stored in both directions and sorted by (source, target), so every code path (the fast
SMILES-token path, the per-bond path, the worker processes) yields identical arrays.

Documented treatment of real-data oddities under ``hu2020``:
- dummy atoms ``*`` (atomic number 0) have no embedding row: the molecule gets an
  ``unsupported element`` error (``ogb`` maps them to its ``misc`` index instead);
- DATIVE bonds (metal complexes in ClinTox and HIV) are encoded as SINGLE, the nearest published type;
- chirality tags other than CW/CCW (``CHI_OTHER``, allene, square-planar, ...) are encoded as
  unspecified (index 0), because the published embedding has only 3 rows;
- bond directions other than ENDUPRIGHT/ENDDOWNRIGHT are encoded as NONE (index 0);
- molecules without bonds get zero edges.
"""

from __future__ import annotations

import re
from typing import Protocol

import numpy as np
from rdkit import Chem

from gnnpt.featurization.minimol_scheme import MinimolScheme
from gnnpt.store.errors import ErrorReason, ItemError

# --- hu2020 vocabulary sizes and special tokens (see shared checkpoints README) ---
HU_NUM_ATOM_TYPES = 120
HU_MASK_ATOM = 119
HU_NUM_CHIRALITY = 3
HU_NUM_BOND_TYPES = 6
HU_SELF_LOOP_BOND = 4
HU_MASK_BOND = 5
HU_NUM_BOND_DIRS = 3

_BT = Chem.BondType
_HU_BOND_TYPE = {_BT.SINGLE: 0, _BT.DOUBLE: 1, _BT.TRIPLE: 2, _BT.AROMATIC: 3, _BT.DATIVE: 0}
_HU_BOND_DIR = {Chem.BondDir.ENDUPRIGHT: 1, Chem.BondDir.ENDDOWNRIGHT: 2}
_HU_CHIRAL = {Chem.ChiralType.CHI_TETRAHEDRAL_CW: 1, Chem.ChiralType.CHI_TETRAHEDRAL_CCW: 2}
# bond order x 2 from GetAdjacencyMatrix(useBO=True) -> hu2020 edge features [bond type, direction 0];
# [-1, -1] marks an order the fast path does not handle (it then falls back to per-bond reading).
_ORDER2_ROWS = np.array([[t, 0 if t >= 0 else -1] for t in (-1, -1, 0, 3, 1, -1, 2, -1, -1)], dtype=np.int16)
# atomic number -> hu2020 node features [atomic number - 1, chirality 0] (row 0 is never used)
_Z_ROWS = np.stack([np.arange(-1, 119), np.zeros(120, int)], axis=1).astype(np.int16)

# Atoms in SMILES order: bracket atoms, the two-letter organic subset, one-letter organic/aromatic, '*'.
_ATOM_TOKEN = re.compile(r"\[[^\]]+\]|Br|Cl|[BCNOSPFI]|[bcnosp]|\*")
_BRACKET_SYMBOL = re.compile(r"\[\d*([A-Z][a-z]?|[a-z][a-z]?|\*)")
# SMILES text that the fast paths cannot read: CXSMILES/name suffixes (atom tokens), stereo bond
# directions, dative and quadruple bonds (bond features from the adjacency matrix alone).
_NOT_TOKENIZABLE = frozenset(" \t|")
_NOT_ADJACENCY = frozenset("/\\<>$|")
# The adjacency matrix is dense (n x n): use it only for drug-sized molecules.
_MAX_DENSE_ATOMS = 256
_PT = Chem.GetPeriodicTable()
_token_z: dict[str, int] = {}


def _z_of_token(tok: str) -> int:
    """Atomic number of a SMILES atom token (-1 if the token is not understood)."""
    z = _token_z.get(tok)
    if z is not None:
        return z
    if tok[0] == "[":
        m = _BRACKET_SYMBOL.match(tok)
        sym = m.group(1) if m else ""
    else:
        sym = tok
    if sym == "*":
        z = 0
    elif not sym:  # e.g. "[13#6]": an atomic number, not a symbol; RDKit's atom then says which element
        z = -1
    else:
        try:
            z = _PT.GetAtomicNumber(sym[0].upper() + sym[1:])
        except RuntimeError:
            z = -1
    _token_z[tok] = z
    return z


class Scheme(Protocol):
    """A featurization scheme: fixed-width integer node and edge features for one molecule."""

    name: str
    node_dim: int
    edge_dim: int

    def featurize_mol(
        self, mol: Chem.Mol, smiles: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(x [n, node_dim], src [e], dst [e], edge_attr [e, edge_dim])``; raise ItemError."""
        ...


def _sorted_edges(
    begin: list[int], end: list[int], feats: list[tuple[int, ...]], n: int, edge_dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both directions of each bond, sorted by (source, target)."""
    if not begin:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, edge_dim), np.int16)
    b = np.asarray(begin, np.int64)
    e = np.asarray(end, np.int64)
    f = np.asarray(feats, np.int16)
    src = np.concatenate([b, e])
    dst = np.concatenate([e, b])
    attr = np.concatenate([f, f])
    order = np.argsort(src * n + dst, kind="stable")
    return src[order], dst[order], attr[order]


class Hu2020Scheme:
    """The pretrain-gnns (Hu et al. 2020) encoding: 2 atom and 2 bond integer features."""

    name = "hu2020"
    node_dim = 2
    edge_dim = 2

    def featurize_mol(
        self, mol: Chem.Mol, smiles: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = mol.GetNumAtoms()
        z: list[int] | None = None
        if smiles is not None and _NOT_TOKENIZABLE.isdisjoint(smiles):
            toks = _ATOM_TOKEN.findall(smiles)
            if len(toks) == n:
                z = [_token_z.get(t) or _z_of_token(t) for t in toks]
                if min(z) <= 0:
                    z = None
        if z is None:
            z = [a.GetAtomicNum() for a in mol.GetAtoms()]
        if min(z) < 1 or max(z) > 118:
            i = next(k for k, v in enumerate(z) if not 1 <= v <= 118)
            raise ItemError(
                ErrorReason.UNSUPPORTED_ELEMENT,
                f"atom {i} is '{mol.GetAtomWithIdx(i).GetSymbol()}' (atomic number {z[i]}); the hu2020 encoding "
                "covers atomic numbers 1-118 only (remove dummy atoms or use scheme='ogb')",
            )
        x = _Z_ROWS[z]  # [z - 1, 0] per atom, one table lookup
        if smiles is None or "@" in smiles:
            x[:, 1] = [_HU_CHIRAL.get(a.GetChiralTag(), 0) for a in mol.GetAtoms()]

        if smiles is not None and n <= _MAX_DENSE_ATOMS and _NOT_ADJACENCY.isdisjoint(smiles):
            adj = Chem.GetAdjacencyMatrix(mol, useBO=True)
            src, dst = adj.nonzero()
            attr = _ORDER2_ROWS[(adj[src, dst] * 2).astype(np.intp)]  # [bond type, 0] per edge
            # a dative bond (RDKit makes one of "[O-][Na+]") is one direction of the matrix: then the bond loop
            if len(src) == 2 * mol.GetNumBonds() and (not attr.size or attr.min() >= 0):
                return x, src, dst, attr
        begin, end, feats = [], [], []
        for bond in mol.GetBonds():
            bt = _HU_BOND_TYPE.get(bond.GetBondType())
            if bt is None:
                raise ItemError(
                    ErrorReason.UNSUPPORTED_BOND,
                    f"bond {bond.GetIdx()} is {bond.GetBondType().name}; hu2020 encodes single, double, "
                    "triple, aromatic (and dative as single) bonds only",
                )
            begin.append(bond.GetBeginAtomIdx())
            end.append(bond.GetEndAtomIdx())
            feats.append((bt, _HU_BOND_DIR.get(bond.GetBondDir(), 0)))
        src, dst, attr = _sorted_edges(begin, end, feats, n, 2)
        return x, src, dst, attr


class OgbScheme:
    """OGB's molecule features (``ogb.utils.features``): 9 atom and 3 bond integer features."""

    name = "ogb"
    node_dim = 9
    edge_dim = 3

    def __init__(self) -> None:
        from ogb.utils.features import atom_to_feature_vector, bond_to_feature_vector

        self._atom = atom_to_feature_vector
        self._bond = bond_to_feature_vector

    def featurize_mol(
        self, mol: Chem.Mol, smiles: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = mol.GetNumAtoms()
        x = np.asarray([self._atom(a) for a in mol.GetAtoms()], np.int16).reshape(n, 9)
        begin, end, feats = [], [], []
        for bond in mol.GetBonds():
            begin.append(bond.GetBeginAtomIdx())
            end.append(bond.GetEndAtomIdx())
            feats.append(tuple(self._bond(bond)))
        src, dst, attr = _sorted_edges(begin, end, feats, n, 3)
        return x, src, dst, attr


_SCHEMES: dict[str, type] = {"hu2020": Hu2020Scheme, "ogb": OgbScheme, "minimol": MinimolScheme}


def get_scheme(name: str) -> Scheme:
    """The scheme called ``name`` (``hu2020``, ``ogb`` or ``minimol``)."""
    try:
        return _SCHEMES[name]()
    except KeyError:
        raise ValueError(f"unknown featurization scheme {name!r}; choose one of {sorted(_SCHEMES)}") from None


def scheme_dims(name: str) -> tuple[int, int]:
    """(node feature width, edge feature width) of a scheme."""
    cls = _SCHEMES.get(name)
    if cls is None:
        raise ValueError(f"unknown featurization scheme {name!r}; choose one of {sorted(_SCHEMES)}")
    return cls.node_dim, cls.edge_dim
