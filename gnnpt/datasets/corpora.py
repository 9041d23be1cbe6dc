"""Unlabeled molecule corpora for pretraining: MOSES, ZINC250k, ChEMBL v31 slices, mixtures, user files.

MOSES ships inside the ``molsets`` wheel; its data file is read without importing ``moses`` (whose
dependencies do not install today). When ``molsets`` is not installed the wheel is downloaded with
pip and the file is read straight out of the zip.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gnnpt.datasets.download import cache_dir, resolve, verify
from gnnpt.datasets.readers import FORMATS, iter_molecules

GH = "https://raw.githubusercontent.com/"
ZINC250K_URL = (
    GH + "insilicomedicine/DD-VAE/13498d098bae2c8177abec61ab80d8b618d274f3/data/zinc/250k_rndm_zinc_drugs_clean.smi.gz"
)
_S4 = GH + "molML/s4-for-de-novo-drug-design/d07ee4d929e17cb368317909365f82db8fe2dc46/datasets/chemblv31/"


@dataclass(frozen=True)
class CorpusSpec:
    """A named corpus: one SMILES per line (``header`` names the first line if it is a header)."""

    name: str
    filename: str
    sha256: str  # of the decompressed content
    urls: tuple[str, ...]
    member: str | None
    description: str
    header: bool = False


CORPORA: dict[str, CorpusSpec] = {
    c.name: c
    for c in (
        CorpusSpec(
            "moses",
            "moses_train.csv.gz",
            "cc9d6e8e9534e25a7a36361529ae739ddda8036e9072b2fc5cea6930a0592144",
            (),
            "moses/dataset/data/train.csv.gz",
            "MOSES train (1,584,663 ZINC molecules; neutral, 7 elements, MW 250-350), from the molsets 0.3.1 wheel.",
            header=True,
        ),
        CorpusSpec(
            "zinc250k",
            "zinc250k.smi.gz",
            "f900b46bb42b77aab37cd827d1ea474e2a037ecab2bd7def2b6027492216d36a",
            (ZINC250K_URL,),
            None,
            "ZINC250k (249,456 molecules; charged atoms, stereo, I and P).",
        ),
        CorpusSpec(
            "chembl31_s4_valid",
            "chembl31_s4_valid.smi.gz",
            "b983e5339f789ada537bea2a7ad9603f7689620084913f4d5822a77b3024a5e0",
            (_S4 + "valid.zip",),
            "valid.txt",
            "ChEMBL v31 (S4 de novo design validation split, 100,000 molecules, non-isomeric).",
        ),
        CorpusSpec(
            "chembl31_s4_mini_train",
            "chembl31_s4_mini_train.smi.gz",
            "e7b3edfc5b1bfa286d3e457b165aa7cbcf93c44118bc57e5dd32f54052e5e050",
            (_S4 + "mini_train.zip",),
            "mini_train.txt",
            "ChEMBL v31 (S4 50k subsample of the training split, non-isomeric).",
        ),
    )
}
MOSES_WHEEL = "molsets==0.3.1"


def list_corpora() -> list[str]:
    """Names of the registered corpora."""
    return list(CORPORA)


def _moses_path() -> Path:
    """The MOSES train file: from the installed molsets package, else from the downloaded wheel."""
    spec = CORPORA["moses"]
    try:
        installed = Path(str(importlib.metadata.distribution("molsets").locate_file(spec.member)))
        if installed.exists():
            return verify(installed, spec.sha256)
    except importlib.metadata.PackageNotFoundError:
        pass
    cached = cache_dir() / "data" / spec.filename
    if cached.exists():
        return verify(cached, spec.sha256)
    wheel_dir = cache_dir() / "wheels"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(wheel_dir),
           MOSES_WHEEL]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(wheel_dir.glob("molsets-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ConnectionError(f"could not download {MOSES_WHEEL} with pip:\n{done.stderr[-2000:]}")
    with zipfile.ZipFile(wheels[-1]) as zf:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(zf.read(spec.member))
    return verify(cached, spec.sha256)


def corpus_path(name: str, data_dir: str | Path | None = None) -> Path:
    """A verified local copy of corpus ``name`` (mirror ``data_dir`` / ``$GNNPT_CORPUS_DIR``, cache, download)."""
    try:
        spec = CORPORA[name]
    except KeyError:
        raise KeyError(f"unknown corpus {name!r}; registered: {', '.join(CORPORA)} (or give a file path)") from None
    if name == "moses":
        return _moses_path()
    return resolve(spec.filename, spec.sha256, spec.urls, data_dir=data_dir, env_var="GNNPT_CORPUS_DIR",
                   member=spec.member)  # fmt: skip


def _iter_named(name: str, chunk_size: int, data_dir: str | Path | None) -> Iterator[pd.DataFrame]:
    spec = CORPORA[name]
    path = corpus_path(name, data_dir)
    with io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8") as fh:
        if spec.header:
            next(fh)
        batch: list[str] = []
        for line in fh:
            smi = line.strip()
            if smi:
                batch.append(smi)
            if len(batch) == chunk_size:
                yield pd.DataFrame({"smiles": batch, "source": name})
                batch = []
        if batch:
            yield pd.DataFrame({"smiles": batch, "source": name})


def _files_of(path: Path) -> list[Path]:
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*")) if p.is_file() and _known_suffix(p)]
        if not files:
            raise FileNotFoundError(f"{path} holds no molecule files ({', '.join(sorted(FORMATS))}, optionally .gz)")
        return files
    return [path]


def _known_suffix(p: Path) -> bool:
    suffixes = [s.lower() for s in p.suffixes if s.lower() != ".gz"]
    return bool(suffixes) and suffixes[-1] in FORMATS


def iter_corpus(
    corpus: str | Path | list[str | Path], chunk_size: int = 100_000, data_dir: str | Path | None = None
) -> Iterator[pd.DataFrame]:
    """Stream a corpus as DataFrames ``[smiles, source]`` of at most ``chunk_size`` rows (constant memory).

    ``corpus`` is a registered name, a mixture (``"moses+zinc250k"`` or a list), a file, or a directory
    of files.
    """
    parts = corpus if isinstance(corpus, list) else ([corpus] if isinstance(corpus, Path) else corpus.split("+"))
    for part in parts:
        if isinstance(part, str) and part in CORPORA:
            yield from _iter_named(part, chunk_size, data_dir)
            continue
        path = Path(part)
        if not path.exists():
            raise FileNotFoundError(f"{part!r} is neither a registered corpus ({', '.join(CORPORA)}) nor a file")
        for file in _files_of(path):
            for chunk in iter_molecules(file, chunk_size=chunk_size):
                yield pd.DataFrame({"smiles": chunk["smiles"].to_numpy(), "source": str(file)})


def load_corpus(
    corpus: str | Path | list[str | Path], limit: int | None = None, data_dir: str | Path | None = None
) -> pd.DataFrame:
    """A whole corpus (or its first ``limit`` rows) as one DataFrame ``[smiles, source]``."""
    chunks, total = [], 0
    for chunk in iter_corpus(corpus, chunk_size=min(limit or 200_000, 200_000), data_dir=data_dir):
        chunks.append(chunk)
        total += len(chunk)
        if limit is not None and total >= limit:
            break
    frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame({"smiles": [], "source": []})
    return frame.iloc[:limit] if limit is not None else frame
