"""``gnnpt distill``: train a smaller, faster student of a fine-tuned model for screening large libraries."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from gnnpt.cli.errors import missing_extra
from gnnpt.cli.finetune import parse_seeds, show_result


def distill(
    teacher: Annotated[str, typer.Option(help="The model to distil: a model-store name or a model directory.")],
    corpus: Annotated[
        str,
        typer.Option(
            help="Unlabeled molecules the student learns the teacher's scores on: a corpus name "
            "(zinc250k, moses, ...) or a SMILES file."
        ),
    ] = "zinc250k",
    corpus_limit: Annotated[int | None, typer.Option(help="Use only the first N corpus molecules.")] = None,
    data: Annotated[
        str | None, typer.Option(help="The teacher's labeled data (default: the dataset named on its card).")
    ] = None,
    encoder: Annotated[
        str,
        typer.Option(
            help="What the student starts from: none (a fresh GIN of --emb-dim x --num-layer) or a pretrained "
            "encoder (a shipped name or directory; it keeps its own size)."
        ),
    ] = "none",
    emb_dim: Annotated[int, typer.Option(help="Width of the student GIN.")] = 128,
    num_layer: Annotated[int, typer.Option(help="Message-passing layers of the student.")] = 5,
    epochs: Annotated[int, typer.Option(help="Training epochs over labeled + corpus molecules.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Graphs per batch.")] = 256,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    dropout: Annotated[float, typer.Option(help="Student dropout.")] = 0.0,
    seeds: Annotated[
        str,
        typer.Option(
            help="Training seeds, one student each, averaged into an ensemble: a count (3: seeds 0, 1, 2) or a list "
            "like 0,3,7."
        ),
    ] = "1",
    half: Annotated[bool, typer.Option(help="Store the weights as float16 (half the size).")] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output", "-o", "--output-dir", help="Model directory to write (--output-dir: the old name)."),
    ] = None,
    register: Annotated[
        str | None, typer.Option(help="Also add the student to the model store under this name.")
    ] = None,
) -> None:
    """Distil TEACHER into a GIN of --emb-dim x --num-layer, or one that starts from --encoder: same tasks, selected
    and tested on the teacher's split with the true labels (both scores go on the card)."""
    from gnnpt.finetune.distill import run_distill
    from gnnpt.finetune.train import FinetuneConfig

    fresh = encoder == "none"
    cfg = FinetuneConfig(
        encoder=encoder, emb_dim=emb_dim if fresh else None, num_layer=num_layer if fresh else None, epochs=epochs,
        batch_size=batch_size, lr=lr, dropout=dropout, seeds=parse_seeds(seeds), progress=True,
    )  # fmt: skip
    size = f"{emb_dim}x{num_layer}" if fresh else Path(encoder).name
    out = output_dir or Path("models") / f"{Path(teacher).name}_student_{size}"
    try:
        path, result = run_distill(teacher, corpus, out, cfg, data, corpus_limit, half,
                                   extra_card={"command": shlex.join(["gnnpt", *sys.argv[1:]])})  # fmt: skip
    except ImportError as exc:  # an optional package the teacher needs: not a mistyped option
        missing_extra(exc)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise typer.BadParameter(str(exc)) from None
    show_result(result, f"student of {teacher}: {result.metric} (teacher's split)", path, register)
