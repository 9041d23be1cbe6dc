"""``gnnpt pretrain``: run a pretraining recipe (YAML) with ``key=value`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def pretrain(
    overrides: Annotated[
        list[str] | None, typer.Argument(help="Recipe overrides, e.g. batch_size=512 encoder.jk=concat.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="A recipe from pretraining/*.yaml.")] = None,
    init: Annotated[
        str | None, typer.Option(help="Saved encoder dir or published .pth to continue from (domain adaptation).")
    ] = None,
    corpus: Annotated[str | None, typer.Option(help="Corpus name, mixture a+b, or molecule file / directory.")] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output", "-o", "--output-dir", help="Run directory to write (--output-dir: the old name)."),
    ] = None,
) -> None:
    """Pretrain an encoder; writes <run dir>/encoder (safetensors + card.json), checkpoints and logs."""
    from gnnpt.pretraining.config import load_config
    from gnnpt.pretraining.run import pretrain as run

    extra = [f"{k}={v}" for k, v in (("init", init), ("corpus", corpus), ("output_dir", output_dir)) if v is not None]
    try:
        cfg = load_config(config, [*(overrides or []), *extra])
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from None
    encoder_dir = run(cfg)
    console.print(f"[bold green]encoder written to {encoder_dir}[/] (model.safetensors + card.json)")
