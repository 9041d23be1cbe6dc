"""Entry point of the ``gnnpt`` command; each stage registers its commands from its own module."""

from __future__ import annotations

import typer
from typer.core import TyperCommand

from gnnpt.cli import adapt as adapt_cmd
from gnnpt.cli import benchmark as benchmark_cmd
from gnnpt.cli import datasets as datasets_cmd
from gnnpt.cli import distill as distill_cmd
from gnnpt.cli import featurize as featurize_cmd
from gnnpt.cli import finetune as finetune_cmd
from gnnpt.cli import models as models_cmd
from gnnpt.cli import pretrain as pretrain_cmd
from gnnpt.cli import screen as screen_cmd
from gnnpt.cli import serve as serve_cmd
from gnnpt.cli.usage import Command

app = typer.Typer(
    name="gnnpt",
    help="Pretrain, adapt and serve molecular graph neural networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("featurize")(featurize_cmd.featurize)
app.command("pretrain")(pretrain_cmd.pretrain)
app.command("finetune")(finetune_cmd.finetune)
app.command("distill")(distill_cmd.distill)
app.command("screen")(screen_cmd.screen)
app.command("serve")(serve_cmd.serve)
app.add_typer(datasets_cmd.app, name="datasets")
app.add_typer(benchmark_cmd.app, name="benchmark")
app.add_typer(models_cmd.app, name="models")
app.add_typer(adapt_cmd.app, name="adapt")


def _usage_in_capitals(commands: typer.Typer) -> None:
    """Every command of ``commands`` and of its groups writes its usage line as :class:`Command` does."""
    for info in commands.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = Command
    for group in commands.registered_groups:
        _usage_in_capitals(group.typer_instance)


_usage_in_capitals(app)


@app.callback()
def _root() -> None:
    """gnnpt: featurize molecules, pretrain and fine-tune GNN encoders, score molecules."""


if __name__ == "__main__":
    app()
