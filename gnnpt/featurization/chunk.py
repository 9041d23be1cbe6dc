"""Featurize one chunk of inputs into flat numpy arrays (runs in the caller or in a worker process).

This module imports no torch, so worker processes start quickly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from rdkit import Chem, rdBase

from gnnpt.featurization.atom_count import heavy_atoms
from gnnpt.featurization.fingerprints import FP_BITS, packed_fingerprint
from gnnpt.featurization.schemes import get_scheme, scheme_dims
from gnnpt.featurization.standardize import Standardization, Standardizer
from gnnpt.store.errors import ErrorReason, FeaturizationError, ItemError

# SMILES that _parse hands to MolFromSmiles: stereo marks, hydrogen atoms ([H], [2H], [H+]: MolFromSmiles removes
# them), CXSMILES extensions and names after a space
_FULL_PARSE = re.compile(r"[@/\\|\s]|\[\d*H[^a-z]")


# Bumped whenever featurization gives different graphs for the same input, so cached stores are rebuilt
# (2: a bond RDKit makes dative from plain SMILES, as in "[O-][Na+]", has both directions).
FEATURIZATION_VERSION = 2


@dataclass(frozen=True)
class FeaturizeOptions:
    """Everything that determines the output of featurization (part of the cache key)."""

    scheme: str = "hu2020"
    max_atoms: int = 1000
    standardize: Standardization | None = None
    canonical: bool = False
    fingerprints: bool = False  # also each molecule's packed Morgan-2 bits (applicability domain), from its Mol

    def key(self) -> str:
        std = self.standardize.to_dict() if self.standardize else None
        return (f"v={FEATURIZATION_VERSION};scheme={self.scheme};max_atoms={self.max_atoms};standardize={std};"
                f"canonical={self.canonical}" + (";fingerprints" if self.fingerprints else ""))  # fmt: skip


@dataclass
class ChunkResult:
    """Flat arrays for a chunk of graphs; a failed item is a graph with zero nodes and an error."""

    x: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    edge_attr: np.ndarray
    num_nodes: np.ndarray
    num_edges: np.ndarray
    smiles: list[str | None]
    errors: list[FeaturizationError] = field(default_factory=list)
    fingerprints: np.ndarray | None = None  # [n, FP_BYTES] uint8, zero rows for failed items

    def without(self, errors: list[FeaturizationError], start: int) -> ChunkResult:
        """This chunk with the items of ``errors`` (global positions; chunk ``start``) failed: rows dropped."""
        drop = np.zeros(len(self.num_nodes), bool)
        drop[[e.index - start for e in errors]] = True
        nodes, edges = np.repeat(~drop, self.num_nodes), np.repeat(~drop, self.num_edges)
        fingerprints = None if self.fingerprints is None else np.where(drop[:, None], 0, self.fingerprints)
        return ChunkResult(self.x[nodes], self.src[edges], self.dst[edges], self.edge_attr[edges],
                           np.where(drop, 0, self.num_nodes), np.where(drop, 0, self.num_edges),
                           [None if d else s for d, s in zip(drop, self.smiles, strict=True)],
                           sorted([*self.errors, *errors], key=lambda e: e.index), fingerprints)  # fmt: skip


def _as_text(item: object) -> str:
    if isinstance(item, Chem.Mol):
        try:
            return Chem.MolToSmiles(item)
        except Exception:  # RDKit raises assorted errors on broken Mol objects
            return "<Mol>"
    return str(item)


def _too_many_atoms(n: int, max_atoms: int) -> ItemError:
    return ItemError(ErrorReason.TOO_MANY_ATOMS,
                     f"{n} heavy atoms exceeds max_atoms={max_atoms} (raise max_atoms to accept it)")  # fmt: skip


def _check_size(text: str, max_atoms: int) -> None:
    """Refuse a SMILES over the atom limit from its text, before RDKit reads it: a parse is linear in the text but
    slow and large (a 10 MB SMILES: minutes and gigabytes), and ring perception grows about quadratically with a
    macrocycle's size (a 20k-atom ring takes 48 s, then crashes RDKit). Counting stops past the limit, so the check
    costs the same for any length."""
    if len(text) > max_atoms and heavy_atoms(text, stop=max_atoms) > max_atoms:
        raise ItemError(ErrorReason.TOO_MANY_ATOMS, f"more than max_atoms={max_atoms} heavy atoms (counted in the "
                        "SMILES text; raise max_atoms to accept it)")  # fmt: skip


def _to_mol(item: object, max_atoms: int) -> tuple[Chem.Mol, str | None]:
    """Parse one input. Returns the molecule and, for SMILES input, the text it came from."""
    if isinstance(item, Chem.Mol):
        return Chem.Mol(item), None
    if item is None or (isinstance(item, float) and math.isnan(item)):
        raise ItemError(ErrorReason.EMPTY, "missing value: no SMILES given")
    if not isinstance(item, str):
        raise ItemError(ErrorReason.UNPARSABLE, f"expected a SMILES string or RDKit Mol, got {type(item).__name__}")
    text = item.strip()
    if not text:
        raise ItemError(ErrorReason.EMPTY, "empty SMILES string")
    if not (text.isascii() and text.isprintable()):
        # RDKit stops reading at such characters and returns a truncated molecule: reject instead
        pos, char = next((i, c) for i, c in enumerate(text) if not (c.isascii() and c.isprintable()))
        raise ItemError(ErrorReason.UNPARSABLE, f"SMILES must be printable ASCII; found {char!r} at position {pos}")
    try:
        _check_size(text, max_atoms)
        mol = _parse(text)
    except (ItemError, MemoryError):  # out of memory is the process's state, not this SMILES' fault
        raise
    except Exception as exc:  # e.g. text RDKit cannot encode (lone surrogates)
        raise ItemError(ErrorReason.UNPARSABLE, f"RDKit could not read this SMILES ({exc})") from None
    if mol is None:
        raise ItemError(ErrorReason.UNPARSABLE, "RDKit could not parse this SMILES (syntax or valence error)")
    return mol, text


def _parse(text: str) -> Chem.Mol | None:
    """``Chem.MolFromSmiles(text)``, about 20% faster for SMILES without stereo marks or hydrogen atoms.

    For those, MolFromSmiles' extra steps after sanitizing (removing hydrogen atoms, perceiving stereo) change
    nothing, so parsing without sanitizing and then sanitizing gives the same molecule; a molecule RDKit cannot
    sanitize gets RDKit's reason. Other SMILES take MolFromSmiles itself.
    """
    if _FULL_PARSE.search(text):
        return Chem.MolFromSmiles(text)
    mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None:
        return None
    try:
        Chem.SanitizeMol(mol)
    except MemoryError:
        raise
    except Exception as exc:  # RDKit's valence and kekulization errors are several types
        raise ItemError(ErrorReason.UNPARSABLE, f"RDKit could not parse this SMILES ({exc})") from None
    return mol


def featurize_chunk(
    items: list[object], start: int, options: FeaturizeOptions, progress: Callable[[int], None] | None = None
) -> ChunkResult:
    """Featurize ``items`` (global positions ``start, start+1, ...``) without raising for bad inputs (a MemoryError
    is raised: it says nothing about the item).

    ``progress(done)``: called with the number of items finished before each item and once after the last, so that
    a supervisor of this process can tell which item it died or stalled on.
    """
    scheme = get_scheme(options.scheme)
    node_dim, edge_dim = scheme_dims(options.scheme)
    standardizer = Standardizer(options.standardize) if options.standardize else None
    xs, srcs, dsts, attrs = [], [], [], []
    num_nodes: list[int] = []
    num_edges: list[int] = []
    smiles_out: list[str | None] = []
    errors: list[FeaturizationError] = []
    fingerprints = np.zeros((len(items), FP_BITS // 8), np.uint8) if options.fingerprints else None
    block = rdBase.BlockLogs()
    for k, item in enumerate(items):
        if progress is not None:
            progress(k)
        try:
            mol, text = _to_mol(item, options.max_atoms)
            if standardizer is not None:
                try:
                    mol = standardizer(mol)
                except MemoryError:
                    raise
                except Exception as exc:  # RDKit standardizer errors are not one type
                    raise ItemError(ErrorReason.STANDARDIZATION_FAILED, f"standardization failed: {exc}") from None
                text = None
            n = mol.GetNumAtoms()
            if n == 0:
                raise ItemError(ErrorReason.EMPTY, "the molecule has no atoms")
            if n > options.max_atoms:
                raise _too_many_atoms(n, options.max_atoms)
            x, src, dst, attr = scheme.featurize_mol(mol, text)
            out_smiles = Chem.MolToSmiles(mol) if options.canonical or text is None else text
            if fingerprints is not None:
                fingerprints[k] = packed_fingerprint(mol)
        except ItemError as err:
            errors.append(FeaturizationError(start + k, _as_text(item), err.reason, err.message))
            smiles_out.append(None)
            num_nodes.append(0)
            num_edges.append(0)
            continue
        xs.append(x)
        srcs.append(src)
        dsts.append(dst)
        attrs.append(attr)
        num_nodes.append(len(x))  # a scheme may read fewer atoms than parsed (minimol: hydrogen atoms removed)
        num_edges.append(len(src))
        smiles_out.append(out_smiles)
    if progress is not None:
        progress(len(items))
    del block
    result = ChunkResult(
        x=np.concatenate(xs) if xs else np.empty((0, node_dim), np.int16),
        src=np.concatenate(srcs) if srcs else np.empty(0, np.int64),
        dst=np.concatenate(dsts) if dsts else np.empty(0, np.int64),
        edge_attr=np.concatenate(attrs) if attrs else np.empty((0, edge_dim), np.int16),
        num_nodes=np.array(num_nodes, np.int64),
        num_edges=np.array(num_edges, np.int64),
        smiles=smiles_out,
        errors=errors,
        fingerprints=fingerprints,
    )
    finish = getattr(scheme, "finish_chunk", None)  # a scheme with features computed per chunk (minimol)
    failed = finish(result) if finish is not None else {}
    if not failed:
        return result
    return result.without([FeaturizationError(start + k, _as_text(items[k]), e.reason, e.message)
                           for k, e in failed.items()], start)  # fmt: skip


def failed_item(item: object, index: int, options: FeaturizeOptions, error: ItemError) -> ChunkResult:
    """The result of one item (at global position ``index``) that failed outside :func:`featurize_chunk`: its
    process crashed or stalled on it."""
    empty = featurize_chunk([], index, options)
    fingerprints = None if empty.fingerprints is None else np.zeros((1, empty.fingerprints.shape[1]), np.uint8)
    return replace(empty, num_nodes=np.zeros(1, np.int64), num_edges=np.zeros(1, np.int64), smiles=[None],
                   errors=[FeaturizationError(index, _as_text(item), error.reason, error.message)],
                   fingerprints=fingerprints)  # fmt: skip
