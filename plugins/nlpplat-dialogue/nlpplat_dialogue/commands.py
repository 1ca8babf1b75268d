"""The ``chat`` command: ``nlpplat chat RUN_DIR``."""

from __future__ import annotations

import sys

import click


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Change a task.* or train.* setting, e.g. task.decoding=sample or task.top_p=0.9.",
)
@click.pass_context
def chat(ctx: click.Context, run_dir: str, assignments: tuple[str, ...]) -> None:
    """Talk with a trained dialogue run in the terminal (/reset, /quit)."""
    from nlpplat.config import assignments_to_layer
    from nlpplat.runs import load_run
    from nlpplat.training import default_registry
    from nlpplat_dialogue.chat import HELP, converse, prompted_lines

    registry = getattr(ctx.find_root().obj, "registry", None) or default_registry()
    run = load_run(run_dir, registry, overrides=assignments_to_layer(assignments))
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(HELP)
    lines = prompted_lines() if interactive else sys.stdin
    converse(run, lines, lambda reply: click.echo(f"bot> {reply}" if interactive else reply))
