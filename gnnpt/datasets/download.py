"""Download, verify and cache data files.

The checksum rule: a file is identified by the sha256 of its *content* — the bytes after gzip
decompression, or the named member of a zip archive, or the file itself when it is neither. One number
therefore verifies the gzipped mirror copy, a plain-CSV download from the canonical URL and a zipped
upstream release of the same data. A spec may also carry the sha256 of the mirror's ``.gz`` file as a
fast path (no decompression needed); a file matching neither is refused with :class:`ChecksumError`.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from gnnpt.config import settings

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
BLOCK = 1 << 20


class ChecksumError(RuntimeError):
    """A data file whose content does not have the expected sha256: it is never used."""


def magic(path: str | Path, size: int = 4) -> bytes:
    """The first ``size`` bytes of ``path`` (to tell gzip, zip and parquet from plain text)."""
    with open(path, "rb") as fh:
        return fh.read(size)


@contextmanager
def open_content(path: str | Path, member: str | None = None) -> Iterator[BinaryIO]:
    """A binary stream of the content of ``path``: gunzipped, the named (or only) zip member, or as is."""
    head = magic(path)
    if head.startswith(GZIP_MAGIC):
        with gzip.open(path, "rb") as fh:
            yield fh
    elif head == ZIP_MAGIC:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if member is None and len(names) != 1:
                raise ValueError(f"{path}: zip archive holds {len(names)} files; name the member to read")
            with zf.open(member or names[0]) as fh:
                yield fh
    else:
        with open(path, "rb") as fh:
            yield fh


def _sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := stream.read(BLOCK):
        digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of the bytes of ``path`` as stored."""
    with open(path, "rb") as fh:
        return _sha256_of(fh)


def content_sha256(path: str | Path, member: str | None = None) -> str:
    """sha256 of the decompressed content of ``path`` (the checksum rule, see the module docstring)."""
    with open_content(path, member) as fh:
        return _sha256_of(fh)


def _content_sha256_or_why(path: Path, member: str | None) -> str:
    """The content sha256, or why the content cannot be read (a truncated gzip, a bad zip...)."""
    try:
        return content_sha256(path, member)
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        return f"unreadable ({type(exc).__name__}: {exc})"


def verify(path: str | Path, sha256: str, *, member: str | None = None, stored_sha256: str | None = None) -> Path:
    """Return ``path`` if its content has ``sha256`` (or its stored bytes ``stored_sha256``); else raise.

    Raises :class:`ChecksumError` naming the file, both hashes and what to do.
    """
    path = Path(path)
    if stored_sha256 is not None and file_sha256(path) == stored_sha256:
        return path
    got = _content_sha256_or_why(path, member)
    if got != sha256:
        raise ChecksumError(
            f"{path}: content sha256 is {got}, expected {sha256}. The file is corrupt, truncated or a different "
            "version and will not be used: replace it with a verified copy, or delete it so the next load "
            "downloads one."
        )
    return path


def _download(url: str, out: BinaryIO, label: str) -> None:
    """Stream ``url`` into ``out`` with a progress bar."""
    with urllib.request.urlopen(url, timeout=60) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        columns = (TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task(label, total=total)
            while block := resp.read(BLOCK):
                out.write(block)
                bar.advance(task, len(block))


def atomic_copy(src: BinaryIO, dest: Path, *, compress: bool = False) -> None:
    """Write ``src`` to ``dest`` (gzipped if ``compress``) via a temporary file renamed into place."""
    handle, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            if compress:
                with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
                    shutil.copyfileobj(src, gz, BLOCK)
            else:
                shutil.copyfileobj(src, out, BLOCK)
        os.replace(name, dest)
    finally:
        Path(name).unlink(missing_ok=True)


def _store_gzipped(part: Path, dest: Path, member: str | None) -> None:
    """Move a verified download to ``dest``, gzipped; gzip input is kept byte for byte."""
    if member is None and magic(part).startswith(GZIP_MAGIC):
        os.replace(part, dest)
        return
    with open_content(part, member) as src:
        atomic_copy(src, dest, compress=True)


def fetch(urls: Sequence[str], sha256: str, dest: str | Path, member: str | None = None) -> Path:
    """Download the first of ``urls`` whose content verifies, and cache it gzipped at ``dest``.

    URLs are tried in order; a download with the wrong content sha256 is deleted and the next URL tried.
    Nothing lands at ``dest`` unless it verified: downloads go to a temporary file in the same folder and
    are renamed. If no URL gives a verified copy, :class:`ChecksumError` (some URL gave other bytes) or
    :class:`ConnectionError` (none could be read) lists every URL and what it gave.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    mismatch = False
    for url in urls:
        handle, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        part = Path(name)
        try:
            try:
                with os.fdopen(handle, "wb") as out:
                    _download(url, out, f"downloading {dest.name}")
            except (OSError, ValueError, http.client.HTTPException) as exc:
                problems.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            got = _content_sha256_or_why(part, member)
            if got != sha256:
                mismatch = True
                problems.append(f"{url}: content sha256 is {got}, expected {sha256}")
                continue
            _store_gzipped(part, dest, member)
            return dest
        finally:
            part.unlink(missing_ok=True)
    detail = "\n  ".join(problems) or "no download URL is known for this file"
    error = ChecksumError if mismatch else ConnectionError
    raise error(
        f"could not get a verified copy of {dest.name}:\n  {detail}\n"
        "Check the network, or put a verified copy in a mirror directory (data_dir=, $GNNPT_DATA_DIR, "
        "$GNNPT_TDC_DIR or $GNNPT_CORPUS_DIR)."
    )


def find_mirrored(filename: str, data_dir: str | Path | None, mirror: str = "data") -> Path | None:
    """``filename`` in ``data_dir`` or in the configured mirror (``mirror``: ``data`` for ``$GNNPT_DATA_DIR``,
    ``corpus`` for ``$GNNPT_CORPUS_DIR``, ``tdc`` for ``$GNNPT_TDC_DIR``), the first that has it, unverified."""
    config = settings()
    folders = {"data": config.data_dir, "corpus": config.corpus_dir, "tdc": config.tdc_dir}
    if mirror not in folders:
        raise ValueError(f"unknown mirror {mirror!r}; use one of {sorted(folders)}")
    for folder in (data_dir, folders[mirror]):
        if folder and (Path(folder) / filename).is_file():
            return Path(folder) / filename
    return None


def resolve(
    filename: str,
    sha256: str,
    urls: Sequence[str],
    *,
    data_dir: str | Path | None = None,
    mirror: str = "data",
    member: str | None = None,
    stored_sha256: str | None = None,
) -> Path:
    """A verified local copy of ``filename``: from ``data_dir``, the ``mirror`` folder, the cache, else downloaded.

    The first folder that holds the file is used; one that lacks it is passed over. A mirror or cached
    file with the wrong content is refused with :class:`ChecksumError`, never used.
    """
    mirrored = find_mirrored(filename, data_dir, mirror)
    if mirrored is not None:
        return verify(mirrored, sha256, stored_sha256=stored_sha256)
    cached = settings().cache_dir / "data" / filename
    if cached.is_file():
        return verify(cached, sha256, stored_sha256=stored_sha256)
    return fetch(urls, sha256, cached, member)
