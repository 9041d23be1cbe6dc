"""Fixtures for the encoder tests: the published Hu et al. checkpoints, read in place from ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def checkpoint_dir() -> Path:
    """``$GNNPT_CHECKPOINT_DIR`` (default ``../shared/checkpoints/hu2020_chem_model_architecture``)."""
    default = Path(__file__).resolve().parents[2].parent / "shared" / "checkpoints" / "hu2020_chem_model_architecture"
    path = Path(os.environ.get("GNNPT_CHECKPOINT_DIR", default))
    if not path.is_dir():
        pytest.skip(f"published checkpoints not found at {path}; set GNNPT_CHECKPOINT_DIR")
    return path
