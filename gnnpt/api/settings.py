"""The service's settings: limits, micro-batching, API keys and CORS, from arguments or ``GNNPT_API_*`` variables
(read and validated by pydantic-settings, as :mod:`gnnpt.config` reads the ``GNNPT_*`` folders)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gnnpt.models.defaults import DEFAULT_ENCODER
from gnnpt.nn.precision import DEFAULT_PRECISION

ENV_PREFIX = "GNNPT_API_"


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which an API key is stored (keys themselves are never kept)."""
    return hashlib.sha256(key.strip().encode()).hexdigest()


def read_key_hashes(path: str | Path) -> set[str]:
    """API key hashes from a file: one SHA-256 hex digest per line (``gnnpt serve --hash-key KEY`` prints one); blank
    lines and ``#`` comments are skipped, and ``label: digest`` lines name who a key belongs to."""
    hashes = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        digest = text.rsplit(":", 1)[-1].strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(
                f"{path}: {line!r} is not a SHA-256 hex digest; store hashes, not keys (gnnpt serve --hash-key)"
            )
        hashes.add(digest)
    return hashes


class Settings(BaseSettings):
    """How the service runs: defaults, then ``GNNPT_API_<FIELD>`` variables (e.g. ``GNNPT_API_MAX_MOLECULES=500``;
    lists comma-separated), then the arguments given. Values are validated: a bad one stops the server at start-up
    with the variable named.

    Request limits answer 413 (molecules per request, body size); per-molecule limits (SMILES length, heavy atoms)
    give that molecule an error and score the rest. ``batch_window_ms``: how long the first request of a micro-batch
    waits for others to join it (up to ``max_batch_molecules``). ``api_keys_file`` / ``api_key_hashes``: SHA-256
    digests of accepted keys; none configured means no key is needed.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", env_ignore_empty=True)

    default_model: str | None = None  # None: the shipped Tox21 model
    preload: Annotated[list[str], NoDecode] = Field(
        default_factory=list
    )  # models loaded at start-up besides the default
    max_molecules: PositiveInt = 5000
    max_body_bytes: PositiveInt = 2_000_000
    max_smiles_length: PositiveInt = 1000
    max_atoms: PositiveInt = 200
    max_explain: NonNegativeInt = 50  # molecules per request that may ask for atom attributions
    request_timeout_s: PositiveFloat = 60.0  # half of it for the estimate: 5,000 MiniMol-fed molecules fit (~15 s)
    header_timeout_s: PositiveFloat = 10.0  # a request's line and headers, from their first byte (408, then closed)
    body_timeout_s: PositiveFloat = 60.0  # a request's whole body, from its headers (408, then closed)
    keep_alive_timeout_s: PositiveInt = 30  # an idle connection between requests (closed)
    batch_window_ms: float = Field(2.0, ge=0)
    max_batch_molecules: PositiveInt = 1024
    max_batch_atoms: PositiveInt = 1024  # a batch's heavy atoms: bounds how long a small request waits behind others
    piece_ms: PositiveFloat = 75.0  # a big request is scored in pieces of about this long each (sized per model at
    # load from its measured cost, at most max_batch_atoms): what a small request arriving meanwhile waits behind one
    max_request_atoms: PositiveInt = 250_000  # a request's heavy atoms (counted from the SMILES text; 413 above)
    parse_memory_mb: PositiveInt = 1024  # memory parsing may add to the parse process (Linux; past it: a row error)
    parse_time_s: PositiveFloat = 10.0  # seconds one molecule may take to parse (past it: that row's error)
    precision: Literal["auto", "bf16", "fp32"] = DEFAULT_PRECISION  # auto: bf16 where native, as every interface
    torch_threads: NonNegativeInt = 0  # per worker process; 0: one less than the process's cores (event loop: one)
    api_keys_file: str | None = None
    api_key_hashes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    jobs_dir: str | None = None  # adaptation jobs (SQLite + job folders); default $GNNPT_JOBS_DIR or the cache
    adaptation_workers: NonNegativeInt = 1  # processes running adaptation jobs, one job each at a time (0: none)
    adaptation_threads: PositiveInt = 1  # torch threads per adaptation worker (leave cores to scoring)
    max_upload_bytes: PositiveInt = 50_000_000  # an adaptation job's uploads
    adaptation_encoder: str = DEFAULT_ENCODER  # of a job that names none (a shipped/stored encoder, hu2020:<name>)

    @field_validator("preload", "api_key_hashes", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def scoring_threads(self) -> int:
        """torch threads for scoring: ``torch_threads``, or one core less than this process may use (at least 1), so
        that the event loop, which parses and answers requests, never waits for a core."""
        from gnnpt.runtime import spare_cores

        return self.torch_threads or spare_cores(1)

    def key_hashes(self) -> set[str]:
        """Every accepted key's digest: the configured ones and those in ``api_keys_file``."""
        found = {h.lower() for h in self.api_key_hashes}
        return found | read_key_hashes(self.api_keys_file) if self.api_keys_file else found
