"""How sure a score is: bootstrap intervals and paired bootstrap tests over test examples.

Both resample the *examples* of a test set with replacement, the way sacrebleu does for
BLEU (Koehn 2004, "Statistical significance tests for machine translation evaluation";
sacrebleu's ``--paired-bs``). A task supplies per-example sufficient statistics
(:meth:`nlpplat.Task.example_statistics`) and the metric of their sums
(:meth:`nlpplat.Task.metric_from_statistics`), so a resample costs one sum of rows
rather than re-scoring predictions: entity F1 and BLEU are corpus-level metrics, not
means of per-example scores, and resampling their statistics keeps them corpus-level.

Defaults follow sacrebleu: 1000 resamples, NumPy's ``default_rng(12345)``, indices drawn
as ``rng.choice(n, size=(resamples, n))``. With the same statistics, metric and seed the
paired p-value here is sacrebleu's, number for number (tested on BLEU).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nlpplat.errors import NlpplatError

RESAMPLES = 1000
SEED = 12345  # sacrebleu's default (SACREBLEU_SEED)
LEVEL = 0.95
STATISTICS_FILE = "statistics.{split}.json"

Metric = Callable[[Sequence[float]], float]


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, n) example indices drawn with replacement, exactly as sacrebleu draws them."""
    if n == 0:
        raise NlpplatError("cannot resample an empty test set")
    return np.random.default_rng(seed).choice(n, size=(resamples, n), replace=True)


def resampled_scores(statistics: np.ndarray, metric: Metric, indices: np.ndarray) -> np.ndarray:
    """The metric on every resample: (resamples,) from (n, K) statistics and (resamples, n) indices."""
    # counts[r, i] = how often example i is drawn in resample r; counts @ statistics sums the
    # drawn rows without materialising a (resamples, n, K) array.
    resamples, n = indices.shape
    offsets = (indices + n * np.arange(resamples)[:, None]).ravel()
    counts = np.bincount(offsets, minlength=resamples * n).reshape(resamples, n)
    totals = counts.astype(np.float64) @ statistics
    return np.array([float(metric(row)) for row in totals])


def percentile_interval(scores: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap scores.

    For 1000 resamples and 95 % these are the 26th and 975th smallest scores, the bounds
    sacrebleu's ``estimate_ci`` uses (it reports their half-distance around the mean).
    """
    ordered = np.sort(scores)
    cut = int(len(ordered) * (1 - level) / 2)
    return float(ordered[cut]), float(ordered[len(ordered) - cut - 1])


def as_matrix(rows: Any, n: int | None = None) -> np.ndarray:
    """Statistics as a float (n, K) matrix; ``n`` checks the number of examples."""
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.ndim != 2:
        raise NlpplatError("example statistics must be one row of numbers per example")
    if n is not None and len(matrix) != n:
        raise NlpplatError(f"{len(matrix)} rows of example statistics for {n} examples")
    return matrix


def interval(
    statistics: Sequence[np.ndarray],
    metric: Metric,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float]:
    """Bootstrap interval of the mean metric of one or more runs on the same test set.

    With one run it is that run's interval. With several (the seeds of one
    configuration) each resample draws the same examples for every run and scores their
    mean, so the interval shows how much the seed average depends on which test
    sentences were drawn; seed-to-seed spread is reported separately (the standard
    deviation).
    """
    n = len(statistics[0])
    if any(len(matrix) != n for matrix in statistics):
        raise NlpplatError("runs to combine were scored on test sets of different sizes")
    indices = resample_indices(n, resamples, seed)
    scores = np.mean([resampled_scores(matrix, metric, indices) for matrix in statistics], axis=0)
    return percentile_interval(scores, level)


@dataclass(frozen=True)
class PairedTest:
    """Result of :func:`paired_bootstrap`: B against A on the same examples."""

    score_a: float
    score_b: float
    interval_a: tuple[float, float]
    interval_b: tuple[float, float]
    p_value: float
    resamples: int
    seed: int

    @property
    def difference(self) -> float:
        return self.score_b - self.score_a


def paired_bootstrap(
    statistics_a: np.ndarray,
    statistics_b: np.ndarray,
    metric: Metric,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> PairedTest:
    """Paired bootstrap resampling test, as sacrebleu's ``--paired-bs`` computes it.

    Both systems are scored on the same resampled example sets. With ``d = |B − A|`` on
    the full test set and ``d_r = |B_r − A_r|`` on resample ``r``, the resampled
    differences are centred (``d_r − mean(d)``) to simulate the null hypothesis of no
    difference, and ``p = (1 + #{r : d_r − mean(d) > d}) / (resamples + 1)``: a two-sided
    p-value, never below ``1 / (resamples + 1)``. One deliberate departure from
    sacrebleu: when ``d`` is exactly 0 (the systems score the same) ``p = 1``, where
    sacrebleu's formula gives its smallest p-value to two identical systems.
    """
    if statistics_a.shape[0] != statistics_b.shape[0]:
        raise NlpplatError(
            f"the runs were tested on {statistics_a.shape[0]} and {statistics_b.shape[0]} examples; "
            "a paired test needs the same test set"
        )
    score_a = float(metric(statistics_a.sum(axis=0)))
    score_b = float(metric(statistics_b.sum(axis=0)))
    indices = resample_indices(len(statistics_a), resamples, seed)
    sampled_a = resampled_scores(statistics_a, metric, indices)
    sampled_b = resampled_scores(statistics_b, metric, indices)
    differences = np.abs(sampled_b - sampled_a)
    centred = differences - differences.mean()
    observed = abs(score_b - score_a)
    p_value = 1.0 if observed == 0 else (int(np.sum(centred > observed)) + 1) / (resamples + 1)
    return PairedTest(
        score_a,
        score_b,
        percentile_interval(sampled_a),
        percentile_interval(sampled_b),
        p_value,
        resamples,
        seed,
    )


# -- at the end of a run --------------------------------------------------------------


def record_statistics(
    task: Any, examples: Sequence[Any], predictions: Sequence[Any], reported: float, run_dir: Path
) -> dict[str, Any]:
    """Save the test set's example statistics in ``run_dir``; return what results.json gets.

    Returns ``{}`` when the task has no statistics. Otherwise ``{"statistics": {"test":
    FILE}, "confidence": {...}}`` with the 95 % bootstrap interval of the primary metric.
    The statistics must reproduce the score the task reported (``reported``). If they do
    not, the task's methods disagree (a bug in the task): nothing is saved and
    ``{"statistics_error": why}`` is returned, so a long run still records its score
    but never a misleading interval.
    """
    rows = task.example_statistics(predictions, examples)
    if rows is None:
        return {}
    matrix = as_matrix(rows, len(examples))
    total = float(task.metric_from_statistics(matrix.sum(axis=0)))
    if not math.isclose(total, float(reported), rel_tol=1e-9, abs_tol=1e-6):
        return {
            "statistics_error": f"task {task.name!r}: metric_from_statistics gives {total}, "
            f"metrics() gave {reported}"
        }
    name = STATISTICS_FILE.format(split="test")
    write_statistics(run_dir / name, matrix)
    low, high = interval([matrix], task.metric_from_statistics)
    return {
        "statistics": {"test": name},
        "confidence": {
            "test": [low, high],
            "level": LEVEL,
            "method": "percentile bootstrap over test examples",
            "resamples": RESAMPLES,
            "seed": SEED,
        },
    }


def write_statistics(path: Path, matrix: np.ndarray) -> None:
    """One compact JSON list of rows (integers stay integers), written atomically."""
    import json

    from nlpplat.io import atomic_writer

    rows = [[int(x) if float(x).is_integer() else float(x) for x in row] for row in matrix.tolist()]
    with atomic_writer(path) as handle:
        json.dump(rows, handle, separators=(",", ":"))
        handle.write("\n")


def read_statistics(
    run_dir: Path, results: Mapping[str, Any], split: str = "test"
) -> list[list[float]] | None:
    """The statistics a finished run saved for ``split``, or None."""
    import json

    name = (results.get("statistics") or {}).get(split)
    if not name:
        return None
    path = Path(run_dir) / name
    if not path.is_file():
        raise NlpplatError(f"{run_dir}: results.json names {name}, which is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def metric_function(registry: Any, task_name: str, task_settings: Mapping[str, Any] | None) -> Metric | None:
    """``metric_from_statistics`` of a task built from stored settings; None if unavailable.

    None when the task is not installed here or has no statistics: callers then show
    what was stored at the end of the run instead.
    """
    from nlpplat.config import apply
    from nlpplat.contracts import Task
    from nlpplat.errors import UnknownNameError

    try:
        task_cls = registry.task(task_name)
    except UnknownNameError:
        return None
    if task_cls.example_statistics is Task.example_statistics:
        return None
    try:
        config = apply(task_cls.Config(), dict(task_settings or {}), "task")
    except NlpplatError:
        config = task_cls.Config()  # settings from another version of the plugin
    return task_cls(config).metric_from_statistics
