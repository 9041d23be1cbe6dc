"""Where gnnpt keeps its files."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$GNNPT_CACHE_DIR`` or ``~/.cache/gnnpt`` (downloads in ``data/``, featurized stores in ``stores/``)."""
    return Path(os.environ.get("GNNPT_CACHE_DIR") or Path.home() / ".cache" / "gnnpt")
