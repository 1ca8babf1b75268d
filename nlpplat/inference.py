"""Using a finished run: evaluation on other data and prediction on raw text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nlpplat.data import resolve_files
from nlpplat.evaluation import evaluate
from nlpplat.registry import Registry
from nlpplat.runs import load_run


def evaluate_run(
    run_dir: str | Path, registry: Registry, test_path: str | None = None, output: str | None = None
) -> dict[str, Any]:
    """Metrics of the run's best checkpoint on ``test_path`` (default: its dataset's test split)."""
    loaded = load_run(run_dir, registry)
    if test_path is None:
        run = loaded.config.run
        if run.test:
            test_path = run.test
        else:
            spec = registry.dataset(run.task, run.dataset)
            test_path = str(resolve_files(spec, {"train": run.train or None, "dev": run.dev or None})["test"])
    examples = loaded.task.read(Path(test_path))
    result = evaluate(
        loaded.model, loaded.task, loaded.collate, examples, loaded.config.train.eval_batch_size
    )
    if output:
        loaded.task.write_predictions(examples, result.predictions, Path(output))
    return {**result.metrics, "sentences_per_second": round(result.sentences_per_second, 1)}


def predict_lines(
    run_dir: str | Path, registry: Registry, lines: Iterable[str]
) -> Iterator[list[dict[str, Any]]]:
    """One result per non-empty input line, from the task's ``predict_text``."""
    loaded = load_run(run_dir, registry)
    for line in lines:
        if line.strip():
            yield loaded.predict_text(line.rstrip("\n"))
