"""The local model store: named, versioned models and encoders in ``<root>/<name>/v<N>/{model.safetensors, card.json}``.

The store only ever holds safetensors + JSON, and a model enters it (or is handed out by :func:`resolve`) only
after its card has been checked against its weights, so using a stored model never unpickles anything and never
builds an architecture its weights do not fit. The root is ``$GNNPT_MODEL_DIR``, else ``<cache_dir>/models``
(:mod:`gnnpt.config`). Names resolve here too: :func:`resolve` is the one lookup of ``name``, ``name@v2``, a
directory or a shipped model.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from torch import nn

from gnnpt.config import settings
from gnnpt.models.artifact import TREES_FILE, load_model_dir
from gnnpt.models.card import CARD_FILE, WEIGHTS_FILE, CardError, file_sha256, read_card, write_card
from gnnpt.models.defaults import DEFAULT_MODEL
from gnnpt.models.domain import DOMAIN_FILE, TrainingDomain
from gnnpt.models.encoders import load_encoder, save_encoder
from gnnpt.models.hu2020 import export_hu2020_state_dict, load_hu2020_checkpoint, published_path
from gnnpt.models.packaged import packaged_dir, packaged_models
from gnnpt.nn.hu2020 import HuEncoder
from gnnpt.nn.minimol import MinimolEncoder

PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")
# Pickle protocol 2+ starts with 0x80; torch.save writes a zip archive around its pickle.
_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # a file name on every file system
_VERSION = re.compile(r"v(\d+)")
log = logging.getLogger(__name__)


class RegistryError(ValueError):
    """A model the store refuses: pickle files beside it, a card that does not match its weights, a bad name."""


@dataclass(frozen=True)
class ModelEntry:
    """One model version in the store, or one shipped model (``version`` None, ``shipped`` True)."""

    name: str
    version: str | None
    kind: str
    architecture: str
    tasks: tuple[str, ...]
    created: str | None
    path: Path
    latest: bool
    shipped: bool = False

    @property
    def ref(self) -> str:
        """What :func:`resolve` takes to find exactly this entry: ``name@v2`` (``name`` for a shipped model)."""
        return f"{self.name}@{self.version}" if self.version else self.name


def store_dir(root: str | Path | None = None) -> Path:
    """The store's root: ``root``, else ``$GNNPT_MODEL_DIR``, else ``<cache_dir>/models``."""
    return Path(root) if root is not None else settings().models()


def list_models(root: str | Path | None = None) -> list[ModelEntry]:
    """Every version in the store (by name, oldest first; the newest flagged ``latest``), then the shipped models.

    A version whose card cannot be read is left out with a logged warning: one broken model hides no other."""
    store = store_dir(root)
    candidates = []
    names = sorted(p.name for p in store.iterdir() if _NAME.fullmatch(p.name)) if store.is_dir() else []
    for name in names:
        versions = _versions(store, name)
        candidates += [(name, p.name, p, i == len(versions) - 1, False) for i, p in enumerate(versions)]
    candidates += [(n, None, packaged_dir() / n, True, True) for n in packaged_models()]
    entries = []
    for name, version, path, latest, shipped in candidates:
        try:
            entries.append(_entry(name, version, path, latest, shipped))
        except (RegistryError, CardError, OSError) as exc:
            log.warning("model %s%s is left out of the listing: %s", name, f"@{version}" if version else "", exc)
    return entries


def show(name: str, version: str | None = None, root: str | Path | None = None) -> dict[str, Any]:
    """The card of ``name`` (``name@v2`` or ``version=`` for a given version; the newest otherwise)."""
    return read_card(_locate(name, version, store_dir(root)))


def resolve(name_or_path: str | Path, root: str | Path | None = None) -> Path:
    """The directory of a model: a directory path as is, ``name`` / ``name@v2`` from the store, or a shipped model.

    Directories and store entries are checked with :func:`verify` (:class:`RegistryError` if refused); shipped models
    are part of the installed package and trusted like its code. FileNotFoundError lists what exists.
    """
    path = Path(name_or_path)
    if not path.is_dir():
        path = _locate(str(name_or_path), None, store_dir(root))
        if path.parent == packaged_dir():
            return path
    verify(path)
    return path


def model_path(name: str | Path | None = None) -> Path:
    """The directory of a model that scores: the default (:data:`DEFAULT_MODEL`) when ``name`` is None, else as
    :func:`resolve` finds it."""
    return packaged_dir() / DEFAULT_MODEL if name is None else resolve(name)


def resolve_name(ref: str, root: str | Path | None = None) -> Path:
    """:func:`resolve` for names only (``name`` / ``name@v2`` in the store, or a shipped model), never a path: what a
    service uses for names that come from requests."""
    path = _locate(ref, None, store_dir(root))
    if path.parent != packaged_dir():
        verify(path)
    return path


def verify(directory: str | Path) -> dict[str, Any]:
    """The card of a saved gnnpt model or encoder directory, after checking that nothing in it is a pickle and that
    the architecture the card describes loads the weights strictly; :class:`RegistryError` names what is wrong."""
    directory = Path(directory)
    try:
        card = read_card(directory)
    except CardError as exc:
        raise RegistryError(str(exc)) from None
    _refuse_pickles(directory)
    if not (directory / WEIGHTS_FILE).is_file():
        raise RegistryError(f"{directory} has {CARD_FILE} but no {WEIGHTS_FILE}; it is not a saved gnnpt model")
    try:
        load_encoder(directory) if card["kind"] == "encoder" else load_model_dir(directory)
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as exc:
        raise RegistryError(
            f"{directory}: {CARD_FILE} does not match {WEIGHTS_FILE}: {_mismatch(directory, card, exc)}"
        ) from None
    try:
        TrainingDomain.load(directory)
    except (KeyError, ValueError, SafetensorError) as exc:
        raise RegistryError(f"{directory}: {DOMAIN_FILE} is not a valid applicability domain ({exc})") from None
    return card


def import_model(
    source: str | Path, name: str | None = None, root: str | Path | None = None, gnn_type: str | None = None
) -> ModelEntry:
    """Add ``source`` to the store as the next version of ``name`` (default: the card's name or the file's stem).

    ``source`` is a saved gnnpt model or encoder directory (checked with :func:`verify`, then its weights and card
    copied), or a published Hu et al. ``.pth`` file / ``hu2020:<name>`` (read with ``torch.load(weights_only=True)``
    and stored as safetensors; ``gnn_type`` tells GCN from GraphSAGE when the file name does not).
    """
    path = published_path(str(source)) or Path(source)
    store = store_dir(root)
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=store, prefix=".import-") as tmp:
        staged = Path(tmp) / "model"
        if path.is_dir():
            if gnn_type is not None:
                raise ValueError(f"gnn_type applies to .pth checkpoints only; {path} is a saved model directory")
            card = verify(path)
            staged.mkdir()
            for file in _payload(path):
                shutil.copyfile(path / file, staged / file)
            default, origin = card.get("name") or path.name, str(path.resolve())
        elif path.is_file() and path.suffix == ".pth":
            source_card = {"name": path.stem, "source": {"file": path.name, "sha256": file_sha256(path)}}
            save_encoder(load_hu2020_checkpoint(path, gnn_type=gnn_type), staged, source_card)
            card, default, origin = read_card(staged), path.stem, str(path.resolve())
        else:
            problem = "is neither a model directory nor a .pth file" if path.exists() else "not found"
            raise FileNotFoundError(
                f"{path} {problem}; import a saved gnnpt model or encoder directory, a published Hu et al. .pth file "
                "or hu2020:<name> (<name>.pth in $GNNPT_CHECKPOINT_DIR)"
            )
        name = _check_name(name if name is not None else re.sub(r"[^A-Za-z0-9._-]+", "_", default).lstrip("._-"))
        existing = _versions(store, name)
        version = f"v{int(existing[-1].name[1:]) + 1}" if existing else "v1"
        card["registry"] = {"name": name, "version": version, "imported_from": origin,
                            "imported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "weights_sha256": file_sha256(staged / WEIGHTS_FILE)}  # fmt: skip
        write_card(staged, card)
        verify(staged)
        target = store / name / version
        target.parent.mkdir(exist_ok=True)
        staged.rename(target)
    return _entry(name, version, target, latest=True)


def export_model(
    name: str, dest: str | Path, version: str | None = None, root: str | Path | None = None, fmt: str = "gnnpt"
) -> Path:
    """Copy a stored (or shipped) model's weights and card into the new or empty directory ``dest``; with
    ``fmt="pth"``, write a Hu et al. (GIN/GCN/GraphSAGE/GAT) encoder as the published pretrain-gnns state_dict file
    ``dest`` instead (float32, upstream's key names and order), loadable by upstream code."""
    source = _locate(name, version, store_dir(root))
    dest = Path(dest)
    if fmt == "pth":
        card = read_card(source)
        if card.get("kind") != "encoder" or card.get("architecture") != "hu2020":
            raise RegistryError(f"{name!r} is not a Hu et al. encoder; only those export as a pretrain-gnns .pth")
        if dest.exists():
            raise FileExistsError(f"{dest} exists; export into a new file")
        return export_hu2020_state_dict(load_encoder(source), dest)
    if fmt != "gnnpt":
        raise ValueError(f"unknown export format {fmt!r}; choose gnnpt or pth")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not an empty directory; export into a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    for file in (*_payload(source), CARD_FILE):
        shutil.copyfile(source / file, dest / file)
    return dest


def _payload(directory: Path) -> list[str]:
    """The files a model directory carries besides its card: its weights, its trees and its applicability domain
    when it has them."""
    return [f for f in (WEIGHTS_FILE, TREES_FILE, DOMAIN_FILE) if (directory / f).is_file()]


def remove(name: str, version: str | None = None, root: str | Path | None = None, dry_run: bool = False) -> list[Path]:
    """Delete one version of ``name`` (``name@v2`` or ``version=``) or, with none given, all of them.

    Returns the version directories removed (with ``dry_run``, those that would be).
    """
    store = store_dir(root)
    name, version = _split_ref(name, version)
    versions = _versions(store, name)
    if not versions and name in packaged_models():
        raise RegistryError(f"{name!r} is a shipped model; only models in the store ({store}) can be removed")
    targets = [p for p in versions if version is None or p.name == version]
    if not targets:
        _locate(name, version, store)  # raises, saying what exists
    if not dry_run:
        for path in targets:
            shutil.rmtree(path)
        if len(targets) == len(versions):
            shutil.rmtree(store / name)
    return targets


def _locate(ref: str, version: str | None, store: Path) -> Path:
    """The directory of ``name[@vN]`` in the store, else of a shipped model; FileNotFoundError lists what exists."""
    name, version = _split_ref(ref, version)
    versions = _versions(store, name)
    if versions and version is None:
        return versions[-1]
    if versions:
        for path in versions:
            if path.name == version:
                return path
        raise FileNotFoundError(f"{name} has no version {version} in {store}; it has {_names(versions)}")
    if version is None and name in packaged_models():
        return packaged_dir() / name
    names = sorted(p.name for p in store.iterdir()) if store.is_dir() else []
    stored = [f"{n} ({_names(versions)})" for n in names if (versions := _versions(store, n))]
    raise FileNotFoundError(
        f"{ref!r} is neither a saved model directory nor a shipped model ({', '.join(packaged_models()) or 'none'}) "
        f"nor in the model store at {store} ({', '.join(stored) or 'empty'}); add one with `gnnpt models import`"
    )


def _split_ref(ref: str, version: str | None) -> tuple[str, str | None]:
    """``"name@v2"`` -> ``("name", "v2")``; ``version`` (``"v2"`` or ``"2"``) may be given separately instead."""
    name, _, tag = ref.partition("@")
    if tag and version is not None and tag.lstrip("v") != str(version).lstrip("v"):
        raise ValueError(f"{ref!r} names version {tag} but version={version!r} was also given")
    version = tag or version
    if version is None:
        return name, None
    version = f"v{str(version).lstrip('v')}"
    if not _VERSION.fullmatch(version):
        raise ValueError(f"version {version!r}: expected v1, v2, ...")
    return name, version


def _versions(store: Path, name: str) -> list[Path]:
    """The version directories of ``name``, oldest first."""
    folder = store / name
    if not _NAME.fullmatch(name) or not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _VERSION.fullmatch(p.name) and (p / CARD_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name[1:]))


def _names(versions: list[Path]) -> str:
    return ", ".join(p.name for p in versions)


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise RegistryError(
            f"model name {name!r}: pass a name (name= / --name) of letters, digits, '.', '_' and '-' that starts "
            "with a letter or digit"
        )
    if name in packaged_models():
        raise RegistryError(f"{name!r} is the name of a shipped model; pass another name (name= / --name)")
    return name


def describe(card: dict[str, Any]) -> str:
    """A model's architecture in a few words: ``hu2020 gin 5x300``, ``lightgbm on ecfp4_counts+descriptors:fast``,
    ``mlp on frozen hu2020 gin 5x300``, ``ensemble of <component>, <component>``."""
    if card.get("kind") == "ensemble":
        return "ensemble of " + ", ".join(describe(c) for c in card.get("components", []))
    if card.get("kind") == "tabular":
        inputs = [f"frozen {describe(card['encoder'])}" if k == "encoder" and card.get("encoder") else k
                  for k in card.get("inputs", [])]  # fmt: skip
        return f"{card.get('learner', '?')} on {'+'.join(inputs)}"
    config = card.get("encoder_config") or card.get("config") or {}
    return (f"{card.get('architecture', '?')} {config.get('gnn_type', '?')} "
            f"{config.get('num_layer', '?')}x{config.get('emb_dim', '?')}")  # fmt: skip


def _entry(name: str, version: str | None, path: Path, latest: bool, shipped: bool = False) -> ModelEntry:
    card = read_card(path)
    architecture = describe(card)
    created = card.get("registry", {}).get("imported") or card.get("created")
    return ModelEntry(name, version, card.get("kind", "?"), architecture, tuple(card.get("task_names") or ()),
                      created, path, latest, shipped)  # fmt: skip


def _refuse_pickles(directory: Path) -> None:
    """Raise if any file under ``directory`` looks like a pickle (by suffix, or by its first bytes)."""
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.name in (WEIGHTS_FILE, DOMAIN_FILE):  # a safetensors header may start with 0x80; loading checks these
            continue
        with path.open("rb") as f:
            head = f.read(4)
        if path.suffix.lower() in PICKLE_SUFFIXES or head.startswith(_PICKLE_MAGIC):
            raise RegistryError(
                f"{directory} contains {path.relative_to(directory)}, a pickle-like file (loading it could run code); "
                f"the model store accepts only {WEIGHTS_FILE} + {CARD_FILE}: move that file out and retry"
            )


def _mismatch(directory: Path, card: dict[str, Any], exc: Exception) -> str:
    """What differs between the card and the weights (emb_dim, num_layer, members), else the loader's own message."""
    if isinstance(exc, KeyError):
        return f"the card lacks {exc.args[0]!r}"
    try:
        with safe_open(str(directory / WEIGHTS_FILE), framework="pt") as f:
            shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
    except (SafetensorError, OSError) as err:
        return f"{WEIGHTS_FILE} is not a readable safetensors file ({err})"
    found: dict[str, int] = {}
    for key, shape in shapes.items():
        if key.endswith(("x_embedding1.weight", "atom_embedding_list.0.weight")):
            found["emb_dim"] = shape[1]
    layers = {int(m[1]) for k in shapes if (m := re.search(r"(?:^|\.)batch_norms\.(\d+)\.", k))}
    if layers:
        found["num_layer"] = max(layers) + 1
    claimed = dict(card.get("encoder_config") or card.get("config") or {})
    if card.get("kind") == "finetuned":
        found["members"], claimed["members"] = len({k.split(".", 1)[0] for k in shapes}), card.get("members")
    problems = [f"card says {key} {claimed[key]} but the weights have {value}"
                for key, value in found.items() if key in claimed and claimed[key] != value]  # fmt: skip
    return "; ".join(problems) or " ".join(str(exc).split())[:500]


MINIMOL = "minimol"  # the encoder name of MiniMol's published network


def scratch_gnn_type(spec: str | Path | None) -> str | None:
    """For an encoder spec meaning "no pretraining" (None, ``none``, ``none:gcn``, ``scratch``): the layer type it names
    (``""`` when none is named); None for any pretrained encoder."""
    text = "none" if spec is None else str(spec)
    head, _, named = text.partition(":")
    return named if head.lower() in ("none", "scratch") else None


def encoder_scheme(spec: str | Path | None) -> str:
    """The featurization scheme the encoder ``spec`` reads: ``minimol`` for :data:`MINIMOL`, else ``hu2020``."""
    return "minimol" if str(spec) == MINIMOL else "hu2020"


def resolve_encoder(spec: str | Path | None, gnn_type: str | None = None, **encoder_kwargs: Any) -> nn.Module:
    """The encoder a user names: ``None``/``"none[:gnn_type]"`` (a fresh ``HuEncoder``, GIN unless named), a saved gnnpt
    encoder directory, a model-store or shipped name (``name``, ``name@v2``), a published ``.pth`` file,
    ``"hu2020:<name>"``, or ``"minimol"`` (MiniMol's published network, :class:`~gnnpt.nn.minimol.MinimolEncoder`;
    the ``minimol`` extra). For ``.pth`` files and MiniMol only ``jk``/``drop_ratio`` (MiniMol: ``drop_ratio``) of
    ``encoder_kwargs`` apply."""
    named = scratch_gnn_type(spec)
    if named is not None:
        return HuEncoder(gnn_type=named or gnn_type or "gin", **encoder_kwargs)
    if str(spec) == MINIMOL:
        return MinimolEncoder(drop_ratio=encoder_kwargs.get("drop_ratio", 0.0))
    text = str(spec)
    path = published_path(text) or Path(text)
    if not path.exists() and not path.suffix:
        path = resolve(text)
    if path.suffix == ".pth":
        extra = {k: encoder_kwargs[k] for k in ("jk", "drop_ratio") if k in encoder_kwargs}
        return load_hu2020_checkpoint(path, gnn_type=gnn_type, **extra)
    if path.is_dir():
        encoder = load_encoder(path)
        if "drop_ratio" in encoder_kwargs and hasattr(encoder, "drop_ratio"):
            encoder.drop_ratio = encoder_kwargs["drop_ratio"]
        return encoder
    raise FileNotFoundError(
        f"encoder {text!r} is neither 'none', a saved gnnpt encoder directory or name, a .pth checkpoint nor "
        "'hu2020:<name>'"
    )
