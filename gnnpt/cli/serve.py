"""``gnnpt serve``: run the REST scoring service (and its web page) under uvicorn."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "access": {"format": '{"time": "%(asctime)s", "access": %(message)s}'},
    },
    "handlers": {
        "default": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
        "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "gnnpt.api.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads its own models).")] = 1,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Default model: a name or directory (default: tox21-fast).")
    ] = None,
    preload: Annotated[list[str] | None, typer.Option(help="Also load this model at start-up (repeatable).")] = None,
    api_keys_file: Annotated[
        Path | None, typer.Option(help="File of accepted API keys' SHA-256 digests, one per line.")
    ] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(help="Allow browser calls from this origin.")] = None,
    precision: Annotated[
        str | None, typer.Option(help="auto (bf16 where native, as gnnpt screen), bf16 or fp32 [default: auto].")
    ] = None,
    graceful_timeout: Annotated[int, typer.Option(help="Seconds in-flight requests get to finish on shutdown.")] = 30,
    hash_key: Annotated[str | None, typer.Option(help="Print the digest to store for this API key, and exit.")] = None,
    export_openapi: Annotated[Path | None, typer.Option(help="Write the OpenAPI document here, and exit.")] = None,
) -> None:
    """Serve every model of the registry over REST (docs at /docs, the web page at /). Settings not given here are read
    from GNNPT_API_* variables (e.g. GNNPT_API_MAX_MOLECULES); see gnnpt.api.Settings."""
    from gnnpt.api.settings import ENV_PREFIX
    from gnnpt.api.settings import hash_key as digest

    if hash_key is not None:
        typer.echo(digest(hash_key))
        return
    given = {"default_model": model, "preload": ",".join(preload or []) or None, "precision": precision,
             "api_keys_file": str(api_keys_file) if api_keys_file else None,
             "cors_origins": ",".join(cors_origin or []) or None}  # fmt: skip
    if workers > 1 and ENV_PREFIX + "TORCH_THREADS" not in os.environ:  # the worker processes share the cores
        from gnnpt.runtime import available_cores

        given["torch_threads"] = str(max(1, available_cores() // workers - 1))
    for name, value in given.items():
        if value is not None:
            os.environ[ENV_PREFIX + name.upper()] = value  # worker processes build their settings from these
    from gnnpt.api.app import create_app
    from gnnpt.api.settings import Settings

    try:
        Settings().key_hashes()  # a bad keys file stops here, with its message
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    if export_openapi is not None:
        export_openapi.write_text(json.dumps(create_app().openapi(), indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {export_openapi}")
        return
    import uvicorn

    from gnnpt.adaptation.worker import WorkerPool

    settings, adaptation = Settings(), WorkerPool(0)
    if workers > 1 and settings.adaptation_workers:
        # one set of adaptation workers for the server, started here: each web worker would start its own
        os.environ[ENV_PREFIX + "ADAPTATION_WORKERS"] = "0"
        adaptation = WorkerPool(settings.adaptation_workers, settings.jobs_dir, settings.adaptation_threads).start()
    try:  # TimedHttpTools: uvicorn's httptools protocol with deadlines for request heads and unread bodies
        uvicorn.run("gnnpt.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_config=LOG_CONFIG, access_log=False, timeout_graceful_shutdown=graceful_timeout,
                    timeout_keep_alive=settings.keep_alive_timeout_s,
                    http="gnnpt.api.limits:TimedHttpTools")  # fmt: skip
    finally:
        adaptation.stop()
