"""Where gnnpt's configuration is read and validated: the ``GNNPT_*`` environment variables, in one place.

Every module that needs a folder or a default asks :func:`settings` instead of reading ``os.environ``, so a bad value
fails once with the variable named, and the README's table of variables is this class. The service's own options
(``GNNPT_API_*``) are :class:`gnnpt.api.settings.Settings`, built the same way.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GnnptSettings(BaseSettings):
    """Folders gnnpt reads and writes. Each field is ``GNNPT_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="GNNPT_", extra="ignore", env_ignore_empty=True)

    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "gnnpt",
                            description="downloads, featurized stores, feature caches")  # fmt: skip
    model_dir: Path | None = Field(None, description="the model store (default: <cache_dir>/models)")
    jobs_dir: Path | None = Field(None, description="adaptation jobs (default: <cache_dir>/jobs)")
    data_dir: Path | None = Field(None, description="a local mirror of the MoleculeNet CSVs (read before downloading)")
    corpus_dir: Path | None = Field(None, description="a local mirror of the pretraining corpora")
    tdc_dir: Path | None = Field(None, description="a local mirror of the TDC ADMET .tab.gz files")
    checkpoint_dir: Path = Field(Path("checkpoints"), description="published Hu et al. .pth files (hu2020:<name>)")

    def models(self) -> Path:
        """The model store's root."""
        return self.model_dir or self.cache_dir / "models"

    def jobs(self) -> Path:
        """The adaptation jobs' root."""
        return self.jobs_dir or self.cache_dir / "jobs"


def settings() -> GnnptSettings:
    """The settings as the environment says now (read on each call: cheap, and tests may change the environment)."""
    return GnnptSettings()
