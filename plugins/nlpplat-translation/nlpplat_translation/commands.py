"""The ``export`` command group: ``nlpplat export ctranslate2 RUN_DIR``."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def export() -> None:
    """Convert a trained run for other inference engines."""


@export.command("ctranslate2")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--output", type=click.Path(file_okay=False), help="Model directory (default: RUN_DIR/ctranslate2)."
)
@click.pass_context
def ctranslate2_command(ctx: click.Context, run_dir: str, output: str | None) -> None:
    """Export a transformer translation run to a CTranslate2 model directory (needs ctranslate2)."""
    from nlpplat.training import default_registry
    from nlpplat_translation.export import export_ctranslate2

    registry = getattr(ctx.find_root().obj, "registry", None) or default_registry()
    written = export_ctranslate2(run_dir, output or Path(run_dir) / "ctranslate2", registry)
    click.echo(str(written))
