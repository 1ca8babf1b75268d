"""Using a finished run: evaluation on other data and prediction on raw text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from nlpplat.config import RunConfig
from nlpplat.contracts import DatasetSpec, Task
from nlpplat.data import CUSTOM, resolve_files
from nlpplat.evaluation import evaluate
from nlpplat.registry import Registry
from nlpplat.runs import load_run


def evaluate_run(
    run_dir: str | Path,
    registry: Registry,
    test_path: str | None = None,
    output: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Metrics of the run's best checkpoint on ``test_path`` (default: its dataset's test split).

    ``overrides`` change task and train settings, e.g. the decoding (:func:`load_run`).
    """
    loaded = load_run(run_dir, registry, overrides=overrides)
    path = Path(test_path) if test_path else split_path(loaded.config, registry, "test")
    examples = loaded.task.read(path)
    if not test_path and type(loaded.task).held_out is not Task.held_out:
        # The run's own test split, scored as training scored it: without train's repeats.
        examples = loaded.task.held_out(
            loaded.task.read(split_path(loaded.config, registry, "train")), examples
        )
    train = loaded.config.train
    result = evaluate(
        loaded.model, loaded.task, loaded.collate, examples, train.eval_batch_size, train.precision
    )
    if output:
        loaded.task.write_predictions(examples, result.predictions, Path(output))
    return {**result.metrics, "sentences_per_second": round(result.sentences_per_second, 1)}


def split_path(config: RunConfig, registry: Registry, split: str) -> Path:
    """Where the run's ``split`` is: its explicit path, else its dataset's file (only that one)."""
    run = config.run
    spec = registry.dataset(run.task, run.dataset) if run.dataset else DatasetSpec(CUSTOM, run.task, {})
    return resolve_files(spec, {split: getattr(run, split)}, splits=[split])[split]


def predict_lines(
    run_dir: str | Path,
    registry: Registry,
    lines: Iterable[str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """One result per non-empty input line, from the task's ``predict_text``."""
    loaded = load_run(run_dir, registry, overrides=overrides)
    for line in lines:
        if line.strip():
            yield loaded.predict_text(line.rstrip("\n"))
