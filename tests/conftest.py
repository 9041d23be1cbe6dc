"""Suite-wide settings: read data from the ../shared mirror and keep every cache inside pytest's tmp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GNNPT_SHARED_DIR", REPO.parent / "shared"))
MOLECULENET_DIR = SHARED / "datasets" / "moleculenet"
CORPUS_DIR = SHARED / "datasets" / "corpora"
TDC_DIR = SHARED / "datasets" / "tdc"
CHECKPOINT_DIR = SHARED / "checkpoints" / "hu2020_chem_model_architecture"

for var, path in (
    ("GNNPT_DATA_DIR", MOLECULENET_DIR),
    ("GNNPT_CORPUS_DIR", CORPUS_DIR),
    ("GNNPT_TDC_DIR", TDC_DIR),
    ("GNNPT_CHECKPOINT_DIR", CHECKPOINT_DIR),
):
    if path.is_dir():
        os.environ.setdefault(var, str(path))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test writes to the user's ~/.cache/gnnpt."""
    os.environ["GNNPT_CACHE_DIR"] = str(tmp_path_factory.mktemp("gnnpt-cache"))


def _require(path: Path, what: str) -> Path:
    if not path.is_dir():
        pytest.skip(f"{what} not found at {path}; set GNNPT_SHARED_DIR to the shared folder")
    return path


@pytest.fixture(scope="session")
def moleculenet_dir() -> Path:
    """The MoleculeNet mirror (skips the test, with the reason, when ../shared is absent)."""
    return _require(MOLECULENET_DIR, "the MoleculeNet mirror")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The unlabeled corpora mirror (ZINC250k, ChEMBL slices)."""
    return _require(CORPUS_DIR, "the corpora mirror")


@pytest.fixture(scope="session")
def tdc_dir() -> Path:
    """The TDC ADMET classification mirror (ten ``.tab.gz`` files and their MANIFEST)."""
    return _require(TDC_DIR, "the TDC mirror")
