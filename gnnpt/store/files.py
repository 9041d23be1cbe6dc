"""Packed stores on disk: one memory-mapped ``.npy`` per array, SMILES as Parquet, JSON metadata."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from gnnpt import __version__
from gnnpt.store.errors import FeaturizationError
from gnnpt.store.packed import PackedGraphs

FORMAT_VERSION = 1
_ARRAYS = ("x", "edge_index", "edge_attr", "node_ptr", "edge_ptr")


def save_packed(store: PackedGraphs, path: str | Path) -> Path:
    """Write ``store`` to directory ``path`` (one ``.npy`` per array, SMILES as Parquet, JSON metadata).

    The write goes to a temporary sibling directory that is renamed into place, so a reader never
    sees a half-written store.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
    try:
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", getattr(store, name).cpu().numpy())
        smiles = store.smiles if store.smiles is not None else [None] * len(store)
        pq.write_table(pa.table({"smiles": pa.array(smiles, pa.string())}), tmp / "smiles.parquet")
        meta = {
            "format_version": FORMAT_VERSION,
            "gnnpt_version": __version__,
            "scheme": store.scheme,
            "num_graphs": len(store),
            "num_nodes": store.num_nodes,
            "num_edges": store.num_edges,
            "errors": [e.to_dict() for e in store.errors],
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_packed(path: str | Path, mmap: bool = True) -> PackedGraphs:
    """Read a store written by :func:`save_packed`; arrays are memory-mapped (copy-on-write) by default."""
    path = Path(path)
    meta_file = path / "meta.json"
    if not meta_file.exists():
        raise FileNotFoundError(f"{path} is not a packed graph store (no meta.json); write one with save_packed")
    meta = json.loads(meta_file.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has store format {meta.get('format_version')}, this gnnpt reads {FORMAT_VERSION}; "
            "delete it and featurize again"
        )
    arrays = {n: torch.from_numpy(np.load(path / f"{n}.npy", mmap_mode="c" if mmap else None)) for n in _ARRAYS}
    smiles = pq.read_table(path / "smiles.parquet").column("smiles").to_pylist()
    errors = [FeaturizationError.from_dict(e) for e in meta["errors"]]
    return PackedGraphs(**arrays, scheme=meta["scheme"], smiles=smiles, errors=errors)
