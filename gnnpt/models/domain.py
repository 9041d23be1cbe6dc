"""Applicability domain: how close a query molecule is to the molecules a model was trained on.

A model's scores are most trustworthy for molecules that resemble its training set. ``TrainingDomain`` keeps
the training molecules' Morgan fingerprints (radius 2, 2048 bits, bit-packed to 256 bytes each) and gives each
query its maximum Tanimoto similarity to them. It is saved next to the model as ``domain.safetensors``
(a uint8 tensor; safetensors only, so loading never unpickles anything).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.numpy import save_file

from gnnpt.featurization.fingerprints import FP_BITS, FP_RADIUS, morgan_fingerprints
from gnnpt.models.card import CARD_FILE, CardError, file_sha256, read_card, write_card

DOMAIN_FILE = "domain.safetensors"
# Max Morgan-2 Tanimoto similarity to the training set at or above which a molecule counts as in the domain.
# Unrelated drug-like molecules mostly score below about 0.3 with these fingerprints, so a nearest training
# neighbour under 0.35 means the model saw no close analogue, the regime where QSAR predictions become less
# reliable. A rule-of-thumb flag for caution, not a calibrated cut-off: pass ``threshold=`` to the Predictor.
IN_DOMAIN_THRESHOLD = 0.35
# bytes of the (query block x training block x 256 bytes) AND array compared at once
_BLOCK_BYTES = 64 * 2**20
_TRAIN_BLOCK = 8192
# training sets up to this size keep their bits unpacked (float16 0/1, 4 KiB each: 200 MiB at the limit) for the
# row-sum path
_MATMUL_MAX_TRAIN = 50_000
_MATMUL_QUERY_BLOCK = 256
_BYTE_COUNTS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1).astype(np.uint8)


def _popcount(bits: np.ndarray) -> np.ndarray:
    """Set bits per row of a packed [..., 256] uint8 array (as uint64 words when numpy has ``bitwise_count``)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(bits.view(np.uint64)).sum(-1, dtype=np.int32)
    return _BYTE_COUNTS[bits].sum(-1, dtype=np.int32)


class TrainingDomain:
    """The (deduplicated) packed Morgan fingerprints of a model's training molecules."""

    def __init__(self, fingerprints: np.ndarray):
        fingerprints = np.ascontiguousarray(fingerprints, dtype=np.uint8)
        if fingerprints.ndim != 2 or fingerprints.shape[1] != FP_BITS // 8 or not len(fingerprints):
            raise ValueError(
                f"expected packed fingerprints of shape [n >= 1, {FP_BITS // 8}], got {fingerprints.shape}; "
                "build a domain with TrainingDomain.from_smiles"
            )
        self.fingerprints = fingerprints
        self._counts = _popcount(fingerprints)
        self._bits: torch.Tensor | None = None  # 0/1 float16 [2048, n] for the row-sum path, built on first use

    def __len__(self) -> int:
        return len(self.fingerprints)

    @classmethod
    def from_smiles(cls, smiles: Iterable[object]) -> TrainingDomain:
        """The domain of these training SMILES (unparsable ones are skipped, duplicate fingerprints kept once)."""
        packed, valid = morgan_fingerprints(smiles)
        if not valid.any():
            raise ValueError("none of the training SMILES could be parsed by RDKit; pass the model's training SMILES")
        return cls(np.unique(packed[valid], axis=0))

    def max_similarity(self, query_smiles: Iterable[object]) -> np.ndarray:
        """Max Tanimoto similarity of each query to the training set (float32; NaN where RDKit cannot parse it).

        Blocks of queries are compared with blocks of training fingerprints (AND + popcount on packed bits),
        so memory stays near 64 MB whatever the sizes.
        """
        return self.max_similarity_packed(*morgan_fingerprints(query_smiles))

    def max_similarity_packed(self, packed: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """:meth:`max_similarity` of already computed packed fingerprints [n, 256] (``valid``: rows that are
        molecules; NaN elsewhere)."""
        out = np.full(len(packed), np.nan, np.float32)
        queries = packed[valid]
        q_counts = _popcount(queries)
        if len(queries) and len(self) <= _MATMUL_MAX_TRAIN:
            out[valid] = self._max_similarity_row_sums(queries, q_counts)
            return out
        best = np.zeros(len(queries), np.float32)
        train_block = min(len(self), _TRAIN_BLOCK)
        query_block = max(1, _BLOCK_BYTES // (train_block * (FP_BITS // 8)))
        for t in range(0, len(self), train_block):
            train, t_counts = self.fingerprints[t : t + train_block], self._counts[t : t + train_block]
            for q in range(0, len(queries), query_block):
                inter = _popcount(queries[q : q + query_block, None, :] & train[None, :, :])
                union = q_counts[q : q + query_block, None] + t_counts[None, :] - inter
                sim = np.divide(inter, union, out=np.zeros(inter.shape, np.float32), where=union > 0)
                np.maximum(best[q : q + query_block], sim.max(1), out=best[q : q + query_block])
        out[valid] = best
        return out

    def max_similarity_async(self, query: Iterable[object] | tuple[np.ndarray, np.ndarray]) -> Future:
        """:meth:`max_similarity` (of SMILES) or :meth:`max_similarity_packed` (of ``(packed, valid)``) in a
        background thread (fingerprints and Tanimoto maxima release the GIL, so a forward pass runs beside them)."""
        if isinstance(query, tuple):
            return _domain_pool().submit(self.max_similarity_packed, *query)
        return _domain_pool().submit(self.max_similarity, list(query))

    def _max_similarity_row_sums(self, queries: np.ndarray, q_counts: np.ndarray) -> np.ndarray:
        """The same maxima, each query's intersection counts summed from the training bit rows of its set bits
        (``embedding_bag``: about 0.02 ms per query against 6,000 fingerprints, about 8x AND + popcount, and no
        fixed cost per call as ``torch._int_mm`` has). Exact: the float16 sums are integers of at most 2048."""
        if self._bits is None:
            self._bits = torch.from_numpy(np.unpackbits(self.fingerprints, axis=1).T.copy()).to(torch.float16)
        best = np.zeros(len(queries), np.float32)
        t_counts = torch.as_tensor(np.array(self._counts))  # a copy: arrays from Ray or a memory map are read-only
        for q in range(0, len(queries), _MATMUL_QUERY_BLOCK):
            block = torch.from_numpy(np.unpackbits(queries[q : q + _MATMUL_QUERY_BLOCK], axis=1))
            rows, bits = block.nonzero(as_tuple=True)
            offsets = torch.searchsorted(rows, torch.arange(len(block)))
            inter = F.embedding_bag(bits, self._bits, offsets, mode="sum").to(torch.int32)
            union = torch.from_numpy(q_counts[q : q + _MATMUL_QUERY_BLOCK])[:, None] + t_counts[None, :] - inter
            sim = inter.float() / union.clamp(min=1).float()
            best[q : q + _MATMUL_QUERY_BLOCK] = sim.max(1).values.numpy()
        return best

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/domain.safetensors`` and return its path."""
        path = Path(directory) / DOMAIN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {"fingerprint": "morgan", "radius": str(FP_RADIUS), "bits": str(FP_BITS)}
        save_file({"fingerprints": self.fingerprints}, str(path), metadata=metadata)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> TrainingDomain | None:
        """The domain saved in ``directory``, or None when it has none. When the model's card records a domain
        (its sha256), the file must be there and be that file: :class:`CardError` otherwise."""
        path = Path(directory) / DOMAIN_FILE
        record = read_card(directory).get("domain") if (Path(directory) / CARD_FILE).is_file() else None
        if record is not None:
            if not path.is_file():
                raise CardError(f"{directory}: the card records an applicability domain but {DOMAIN_FILE} is missing")
            if file_sha256(path) != record.get("sha256"):
                raise CardError(f"{directory}: {DOMAIN_FILE} is not the file its card records (sha256 differs)")
        if not path.is_file():
            return None
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            if (meta.get("radius"), meta.get("bits")) != (str(FP_RADIUS), str(FP_BITS)):
                raise ValueError(
                    f"{path} holds radius={meta.get('radius')}, bits={meta.get('bits')} fingerprints; this gnnpt "
                    f"uses radius={FP_RADIUS}, bits={FP_BITS}: rebuild it with write_domain_for_model"
                )
            return cls(f.get_tensor("fingerprints"))


@functools.cache
def _domain_pool() -> ThreadPoolExecutor:
    """One thread that computes applicability domains while a model scores."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="gnnpt-domain")


def write_domain_for_model(model_dir: str | Path, smiles: Iterable[object]) -> Path:
    """Add ``domain.safetensors`` built from the training ``smiles`` to the saved model in ``model_dir``, and record
    it (sha256, fingerprints) on the model's card, so a loader can tell a missing or swapped file."""
    card = read_card(model_dir)  # a clear error when model_dir is not a saved model
    domain = TrainingDomain.from_smiles(smiles)
    path = domain.save(model_dir)
    write_card(model_dir, {**card, "domain": {"file": DOMAIN_FILE, "sha256": file_sha256(path),
                                               "fingerprints": len(domain)}})  # fmt: skip
    return path
