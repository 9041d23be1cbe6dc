"""The service's settings: limits, micro-batching, API keys and CORS, from arguments or ``GNNPT_API_*`` variables."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gnnpt.nn.precision import DEFAULT_PRECISION
from gnnpt.registry.defaults import DEFAULT_ENCODER

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


@dataclass
class Settings:
    """How the service runs. Every field can be set by ``GNNPT_API_<FIELD>`` (e.g. ``GNNPT_API_MAX_MOLECULES=500``).

    Request limits answer 413 (molecules per request, body size); per-molecule limits (SMILES length, heavy atoms)
    give that molecule an error and score the rest. ``batch_window_ms``: how long the first request of a micro-batch
    waits for others to join it (up to ``max_batch_molecules``). ``api_keys_file`` / ``api_key_hashes``: SHA-256
    digests of accepted keys; none configured means no key is needed.
    """

    default_model: str | None = None  # None: the shipped Tox21 model
    preload: list[str] = field(default_factory=list)  # models loaded at start-up besides the default
    max_molecules: int = 5000
    max_body_bytes: int = 2_000_000
    max_smiles_length: int = 1000
    max_atoms: int = 200
    max_explain: int = 50  # molecules per request that may ask for atom attributions
    request_timeout_s: float = 30.0
    batch_window_ms: float = 2.0
    max_batch_molecules: int = 1024
    precision: str = DEFAULT_PRECISION  # auto (bf16 where native, as every interface), bf16 or fp32
    torch_threads: int = 0  # per worker process; 0: one less than the process's cores (the event loop keeps one)
    api_keys_file: str | None = None
    api_key_hashes: list[str] = field(default_factory=list)
    cors_origins: list[str] = field(default_factory=list)
    jobs_dir: str | None = None  # adaptation jobs (SQLite + job folders); default $GNNPT_JOBS_DIR or the cache
    adaptation_workers: int = 1  # processes running adaptation jobs, one job each at a time (0: none)
    adaptation_threads: int = 1  # torch threads per adaptation worker (leave cores to scoring)
    max_upload_bytes: int = 50_000_000  # an adaptation job's uploads
    adaptation_encoder: str = DEFAULT_ENCODER  # of a job that names none (a shipped/stored encoder, hu2020:<name>)

    def scoring_threads(self) -> int:
        """torch threads for scoring: ``torch_threads``, or one core less than this process may use (at least 1), so
        that the event loop, which parses and answers requests, never waits for a core."""
        from gnnpt.runtime import spare_cores

        return self.torch_threads or spare_cores(1)

    def key_hashes(self) -> set[str]:
        """Every accepted key's digest: the configured ones and those in ``api_keys_file``."""
        found = {h.lower() for h in self.api_key_hashes}
        return found | read_key_hashes(self.api_keys_file) if self.api_keys_file else found

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``GNNPT_API_*`` variables, then ``overrides``. Lists are comma-separated."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.default_factory is list:
                values[f.name] = [part.strip() for part in raw.split(",") if part.strip()]
            elif isinstance(f.default, (int, float)):
                try:
                    values[f.name] = type(f.default)(raw)
                except ValueError:
                    raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a number") from None
            else:
                values[f.name] = raw or None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
