"""Fixtures for the dataset tests: a local HTTP server and a private, empty cache (never the network)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served on 127.0.0.1, and its base URL."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache folder, with no mirror directories configured: loads must download or fail."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GNNPT_CACHE_DIR", str(cache))
    monkeypatch.delenv("GNNPT_DATA_DIR", raising=False)
    monkeypatch.delenv("GNNPT_CORPUS_DIR", raising=False)
    monkeypatch.delenv("GNNPT_TDC_DIR", raising=False)
    return cache
