"""Unlabeled molecule corpora for pretraining: MOSES, ZINC250k, ChEMBL v31 slices, mixtures, user files.

MOSES ships inside the ``molsets`` wheel; its data file is read from the installed distribution without
importing ``moses`` (whose dependencies do not install today). When ``molsets`` is not installed, pip
downloads the wheel and the file is read straight out of the zip (a ``moses_train.csv.gz`` in a mirror
directory is used first, if there is one). The other corpora come from a mirror directory (``data_dir=`` or
``$GNNPT_CORPUS_DIR``), the cache, or their pinned upstream URL; every named file is checksum-verified.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gnnpt.config import settings
from gnnpt.datasets.download import atomic_copy, find_mirrored, resolve, verify
from gnnpt.datasets.readers import FORMATS, iter_molecules

GH = "https://raw.githubusercontent.com/"
_DDVAE = GH + "insilicomedicine/DD-VAE/13498d098bae2c8177abec61ab80d8b618d274f3/data/zinc/"
_S4 = GH + "molML/s4-for-de-novo-drug-design/d07ee4d929e17cb368317909365f82db8fe2dc46/datasets/chemblv31/"
MOSES_WHEEL = "molsets==0.3.1"

CorpusSource = str | Path | Sequence[str | Path]


@dataclass(frozen=True)
class CorpusSpec:
    """A named corpus: one SMILES per line (``header``: the first line is a header, not a molecule).

    ``sha256`` is of the decompressed content, ``stored_sha256`` of the stored ``.gz`` file; ``member``
    is the file inside the downloaded archive (zip, or for MOSES the wheel).
    """

    name: str
    filename: str
    sha256: str
    stored_sha256: str
    urls: tuple[str, ...]
    member: str | None
    n_rows: int
    description: str
    header: bool = False


CORPORA: dict[str, CorpusSpec] = {
    c.name: c
    for c in (
        CorpusSpec(
            "moses",
            "moses_train.csv.gz",
            "cc9d6e8e9534e25a7a36361529ae739ddda8036e9072b2fc5cea6930a0592144",
            "786f0313aa6b9ba5514df685f885742a70ea8d86f1a4fa48115f7f80a634265c",
            (),
            "moses/dataset/data/train.csv.gz",
            1_584_663,
            "MOSES train (ZINC clean leads: neutral, 7 elements, MW 250-350), from the molsets 0.3.1 wheel.",
            header=True,
        ),
        CorpusSpec(
            "zinc250k",
            "zinc250k.smi.gz",
            "f900b46bb42b77aab37cd827d1ea474e2a037ecab2bd7def2b6027492216d36a",
            "50b6b95dbdd4547344602c352b6e770daf8bda801fcd670fc487334d04a1ab36",
            (_DDVAE + "250k_rndm_zinc_drugs_clean.smi.gz",),
            None,
            249_456,
            "ZINC250k (charged atoms, stereo, I and P).",
        ),
        CorpusSpec(
            "chembl31_s4_valid",
            "chembl31_s4_valid.smi.gz",
            "b983e5339f789ada537bea2a7ad9603f7689620084913f4d5822a77b3024a5e0",
            "62d8be6bcb7033714d89943698fe5616cc4ec07b8c5e520fa4feaea43718d8d7",
            (_S4 + "valid.zip",),
            "valid.txt",
            100_000,
            "ChEMBL v31, S4 de novo design validation split (non-isomeric).",
        ),
        CorpusSpec(
            "chembl31_s4_mini_train",
            "chembl31_s4_mini_train.smi.gz",
            "e7b3edfc5b1bfa286d3e457b165aa7cbcf93c44118bc57e5dd32f54052e5e050",
            "d84fed7191dcedc7422ef18088bdc6a6f69e55885b75e627780862a4b2c32c6d",
            (_S4 + "mini_train.zip",),
            "mini_train.txt",
            50_000,
            "ChEMBL v31, S4 50k subsample of the training split (non-isomeric).",
        ),
    )
}


def list_corpora() -> list[str]:
    """Names of the registered corpora."""
    return list(CORPORA)


def _download_moses(dest: Path) -> None:
    """Fetch the molsets wheel with pip (no install) and copy its MOSES train file to ``dest``."""
    member = CORPORA["moses"].member
    with tempfile.TemporaryDirectory(dir=dest.parent) as wheel_dir:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", wheel_dir,
               MOSES_WHEEL]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(wheel_dir).glob("molsets-*.whl"))
        if done.returncode != 0 or not wheels:
            raise ConnectionError(
                f"could not download {MOSES_WHEEL} with pip (is PyPI reachable?); or install it with "
                f"`pip install --no-deps {MOSES_WHEEL}`. pip said:\n{done.stderr[-2000:]}"
            )
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(member) as src:
            atomic_copy(src, dest)


def _moses_path(data_dir: str | Path | None) -> Path:
    """The verified MOSES train file: from a mirror, the installed molsets package, the cache, or the wheel."""
    spec = CORPORA["moses"]
    local = find_mirrored(spec.filename, data_dir, "corpus")
    if local is None:
        try:
            installed = Path(str(importlib.metadata.distribution("molsets").locate_file(spec.member)))
            local = installed if installed.is_file() else None
        except importlib.metadata.PackageNotFoundError:
            pass
    if local is not None:
        return verify(local, spec.sha256, stored_sha256=spec.stored_sha256)
    cached = settings().cache_dir / "data" / spec.filename
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        _download_moses(cached)
    return verify(cached, spec.sha256, stored_sha256=spec.stored_sha256)


def corpus_path(name: str, data_dir: str | Path | None = None) -> Path:
    """A verified local copy of corpus ``name``: mirror (``data_dir``, ``$GNNPT_CORPUS_DIR``), cache, download."""
    try:
        spec = CORPORA[name]
    except KeyError:
        raise KeyError(f"unknown corpus {name!r}; registered: {', '.join(CORPORA)} (or give a file path)") from None
    if name == "moses":
        return _moses_path(data_dir)
    return resolve(
        spec.filename,
        spec.sha256,
        spec.urls,
        data_dir=data_dir,
        mirror="corpus",
        member=spec.member,
        stored_sha256=spec.stored_sha256,
    )


def _iter_named(name: str, chunk_size: int, data_dir: str | Path | None) -> Iterator[pd.DataFrame]:
    spec = CORPORA[name]
    with io.TextIOWrapper(gzip.open(corpus_path(name, data_dir), "rb"), encoding="utf-8") as fh:
        if spec.header:
            next(fh)
        batch: list[str] = []
        for line in fh:
            if smi := line.strip():
                batch.append(smi)
                if len(batch) == chunk_size:
                    yield pd.DataFrame({"smiles": batch, "source": name})
                    batch = []
        if batch:
            yield pd.DataFrame({"smiles": batch, "source": name})


def _is_molecule_file(p: Path) -> bool:
    suffixes = [s.lower() for s in p.suffixes if s.lower() != ".gz"]
    return p.is_file() and bool(suffixes) and suffixes[-1] in FORMATS


def _iter_path(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """A file, or every molecule file under a directory (sorted), with ``source`` = the file path."""
    files = sorted(p for p in path.rglob("*") if _is_molecule_file(p)) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path} holds no molecule files ({', '.join(sorted(FORMATS))}, optionally .gz)")
    for file in files:
        for chunk in iter_molecules(file, chunk_size=chunk_size):
            if len(chunk):
                yield pd.DataFrame({"smiles": chunk["smiles"].to_numpy(), "source": str(file)})


def _parts(corpus: CorpusSource) -> list[str | Path]:
    """Split a corpus source into names and paths: ``"a+b"`` and lists are mixtures; an existing path wins."""
    if isinstance(corpus, Path):
        return [corpus]
    if isinstance(corpus, str):
        return [corpus] if corpus in CORPORA or Path(corpus).exists() else corpus.split("+")
    return list(corpus)


def iter_corpus(
    corpus: CorpusSource, chunk_size: int = 100_000, data_dir: str | Path | None = None
) -> Iterator[pd.DataFrame]:
    """Stream a corpus as DataFrames ``[smiles, source]`` of at most ``chunk_size`` rows, in constant memory.

    ``corpus`` is a registered name, a mixture (``"moses+zinc250k"`` or a list; parts follow one another,
    ``source`` says which), a molecule file, or a directory of them.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    for part in _parts(corpus):
        if isinstance(part, str) and part in CORPORA:
            yield from _iter_named(part, chunk_size, data_dir)
        elif Path(part).exists():
            yield from _iter_path(Path(part), chunk_size)
        else:
            raise FileNotFoundError(f"{str(part)!r} is neither a registered corpus ({', '.join(CORPORA)}) nor a file")


def load_corpus(corpus: CorpusSource, limit: int | None = None, data_dir: str | Path | None = None) -> pd.DataFrame:
    """A whole corpus (or its first ``limit`` rows) as one DataFrame ``[smiles, source]``."""
    chunks, total = [], 0
    chunk_size = min(limit, 200_000) if limit else 200_000
    for chunk in iter_corpus(corpus, chunk_size=chunk_size, data_dir=data_dir):
        chunks.append(chunk)
        total += len(chunk)
        if limit is not None and total >= limit:
            break
    if not chunks:
        return pd.DataFrame({"smiles": pd.Series([], dtype=object), "source": pd.Series([], dtype=object)})
    frame = pd.concat(chunks, ignore_index=True)
    return frame.iloc[:limit] if limit is not None else frame
