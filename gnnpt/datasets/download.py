"""Download, verify (sha256 of the decompressed content) and cache data files.

One checksum rule serves every source: the sha256 of the file's *content* — the bytes after gzip
decompression, or of the named member of a zip archive. So the gzipped mirror copy, a plain-CSV
download from the canonical URL and a zipped upstream release of the same data all verify against
one number, and a changed byte anywhere is refused.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


class ChecksumError(RuntimeError):
    """A data file whose content does not have the expected sha256: it is never used."""


def cache_dir() -> Path:
    """``$GNNPT_CACHE_DIR`` or ``~/.cache/gnnpt``."""
    return Path(os.environ.get("GNNPT_CACHE_DIR", Path.home() / ".cache" / "gnnpt"))


def content_bytes(raw: bytes, member: str | None = None) -> bytes:
    """The content of a file: gunzipped if gzip, the named (or only) member if zip, else as is."""
    if raw[:2] == GZIP_MAGIC:
        return gzip.decompress(raw)
    if raw[:4] == ZIP_MAGIC:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if member is None and len(names) != 1:
                raise ValueError(f"zip archive holds {len(names)} files; name the member to read")
            return zf.read(member or names[0])
    return raw


def content_sha256(path: str | Path, member: str | None = None) -> str:
    """sha256 of the decompressed content of ``path`` (see module docstring)."""
    return hashlib.sha256(content_bytes(Path(path).read_bytes(), member)).hexdigest()


def verify(path: str | Path, sha256: str, member: str | None = None) -> Path:
    """Return ``path`` if its content has ``sha256``; else raise :class:`ChecksumError`."""
    got = content_sha256(path, member)
    if got != sha256:
        raise ChecksumError(
            f"{path}: content sha256 is {got}, expected {sha256}. The file is corrupt, truncated or a "
            "different version; delete it (or fix the mirror) and load again to download a verified copy."
        )
    return Path(path)


def _download(url: str, label: str) -> bytes:
    buf = io.BytesIO()
    with urllib.request.urlopen(url, timeout=60) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        columns = (TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task(label, total=total)
            while chunk := resp.read(1 << 20):
                buf.write(chunk)
                bar.advance(task, len(chunk))
    return buf.getvalue()


def fetch(urls: Sequence[str], sha256: str, dest: str | Path, member: str | None = None) -> Path:
    """Download the first of ``urls`` whose content verifies and cache it gzipped at ``dest``.

    Each URL is tried in turn; a download whose content has the wrong sha256 is discarded. If none
    verifies, :class:`ChecksumError` (or the last network error) names every URL and what it gave.
    """
    dest = Path(dest)
    problems: list[str] = []
    mismatch = False
    for url in urls:
        try:
            raw = _download(url, f"downloading {dest.name}")
        except OSError as exc:
            problems.append(f"{url}: {exc}")
            continue
        content = content_bytes(raw, member)
        got = hashlib.sha256(content).hexdigest()
        if got != sha256:
            mismatch = True
            problems.append(f"{url}: content sha256 {got} != expected {sha256}")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
            with gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz:
                gz.write(content)
        shutil.move(tmp.name, dest)
        return dest
    detail = "\n  ".join(problems)
    error = ChecksumError if mismatch else ConnectionError
    raise error(
        f"could not get a verified copy of {dest.name}:\n  {detail}\n"
        "Check the network, or put a verified copy in a mirror directory (GNNPT_DATA_DIR / GNNPT_CORPUS_DIR)."
    )


def resolve(
    filename: str,
    sha256: str,
    urls: Sequence[str],
    *,
    data_dir: str | Path | None = None,
    env_var: str = "GNNPT_DATA_DIR",
    member: str | None = None,
) -> Path:
    """A verified local copy of ``filename``: from ``data_dir``, then ``$env_var``, then the cache, else downloaded.

    A mirror or cached file with the wrong content is refused with :class:`ChecksumError`, never used.
    """
    for folder in (data_dir, os.environ.get(env_var)):
        if folder and (Path(folder) / filename).exists():
            return verify(Path(folder) / filename, sha256)
    cached = cache_dir() / "data" / filename
    if cached.exists():
        return verify(cached, sha256)
    return fetch(urls, sha256, cached, member)
