"""``nlpplat srl-pipeline``: exact end-to-end scores and predictions of a trained ``srl`` run.

The scores a run records are computed from one pass over the instances of the file, so
their ``e2e.*`` part cannot see the arguments of a falsely identified predicate (nothing
marked it). This command runs the real pipeline (:func:`nlpplat_srl.pipeline.analyse`):
predicates first, then each predicted predicate marked in turn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from nlpplat.errors import NlpplatError


def pipeline_run(
    run_dir: str | Path, registry: Any, data: str | None = None, output: str | None = None
) -> dict[str, Any]:
    """Exact ``e2e.*`` scores of the run on ``data`` (default: its test split); maybe write predictions."""
    from nlpplat.inference import split_path
    from nlpplat.runs import load_run
    from nlpplat_srl.conllu import read_sentences, write_sentences
    from nlpplat_srl.pipeline import analyse
    from nlpplat_srl.scoring import pipeline_scores

    loaded = load_run(run_dir, registry)
    run = loaded.config.run
    if run.task != "srl":
        raise NlpplatError(f"{run_dir} is a {run.task!r} run; srl-pipeline needs an srl run")
    if data is None:
        data = str(split_path(loaded.config, registry, "test"))
    sentences = list(read_sentences(data))
    batch_size = loaded.config.train.eval_batch_size
    analyses = analyse(sentences, lambda examples: loaded.predict(examples, batch_size))
    if output:
        write_sentences(
            output,
            [
                (sentence, [(position, frame.roleset, frame.cells) for position, frame in analysis.frames])
                for sentence, analysis in zip(sentences, analyses, strict=True)
            ],
        )
    return {"data": str(data), **pipeline_scores(sentences, analyses)}


@click.command("srl-pipeline")
@click.argument("run_dir", type=click.Path())
@click.option("--data", type=click.Path(), help="UP CoNLL-U file to analyse (default: the run's test split).")
@click.option("--output", type=click.Path(), help="Write the end-to-end predictions here (UP CoNLL-U).")
@click.pass_context
def srl_pipeline(ctx: click.Context, run_dir: str, data: str | None, output: str | None) -> None:
    """End-to-end SRL with a trained srl run: predicates, then rolesets and arguments; prints exact e2e.* scores."""
    registry = getattr(ctx.find_root().obj, "registry", None)
    if registry is None:
        from nlpplat.training import default_registry

        registry = default_registry()
    click.echo(json.dumps(pipeline_run(run_dir, registry, data, output), indent=2))
