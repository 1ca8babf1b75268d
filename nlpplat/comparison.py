"""``nlpplat leaderboard compare``: a paired bootstrap test between two recorded runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlpplat.confidence import (
    RESAMPLES,
    SEED,
    PairedTest,
    as_matrix,
    metric_function,
    paired_bootstrap,
    read_statistics,
)
from nlpplat.errors import NlpplatError
from nlpplat.leaderboard import FINISHED, Leaderboard


@dataclass
class RecordedRun:
    """A finished run's results and the example statistics of its test score."""

    results: dict[str, Any]
    statistics: list[list[float]] | None

    @property
    def run_id(self) -> str:
        return self.results["run_id"]


def find_run(reference: str, board: Leaderboard) -> RecordedRun:
    """A run by id (in the leaderboard) or by its directory."""
    path = Path(reference)
    if (path / "results.json").is_file():
        from nlpplat.runs import read_results

        results = read_results(path)
        return RecordedRun(results, read_statistics(path, results))
    row = board.get(reference)
    if row is None:
        raise NlpplatError(
            f"no run {reference!r}: give a run id from `nlpplat leaderboard` or a run directory"
        )
    if row["status"] != FINISHED:
        raise NlpplatError(f"run {reference!r} did not finish ({row['status']}: {row['error']})")
    return RecordedRun(json.loads(row["results"]), board.statistics([reference]).get(reference))


@dataclass
class Comparison:
    a: RecordedRun
    b: RecordedRun
    test: PairedTest

    @property
    def metric(self) -> str:
        return self.a.results["primary_metric"]

    def to_dict(self) -> dict[str, Any]:
        test = self.test
        return {
            "task": self.a.results["task"],
            "dataset": self.a.results["dataset"],
            "metric": self.metric,
            "a": {"run_id": self.a.run_id, "score": test.score_a, "ci": list(test.interval_a)},
            "b": {"run_id": self.b.run_id, "score": test.score_b, "ci": list(test.interval_b)},
            "difference": test.difference,
            "p_value": test.p_value,
            "test": "paired bootstrap (Koehn 2004; sacrebleu --paired-bs)",
            "resamples": test.resamples,
            "seed": test.seed,
        }

    def text(self, alpha: float = 0.05) -> str:
        test, results = self.test, self.a.results
        width = max(len(self.a.run_id), len(self.b.run_id))
        verdict = (
            f"significant at the {alpha} level"
            if test.p_value < alpha
            else f"not significant at the {alpha} level"
        )
        return "\n".join(
            [
                f"{results['task']} · {results['dataset']} · test {self.metric} · paired bootstrap, "
                f"{test.resamples} resamples, seed {test.seed}",
                f"A  {self.a.run_id:<{width}}  {test.score_a:6.2f}  95% CI {test.interval_a[0]:.2f}–{test.interval_a[1]:.2f}",
                f"B  {self.b.run_id:<{width}}  {test.score_b:6.2f}  95% CI {test.interval_b[0]:.2f}–{test.interval_b[1]:.2f}",
                f"B − A = {test.difference:+.2f}, p = {test.p_value:.4f}: {verdict}",
            ]
        )


def compare_runs(
    reference_a: str,
    reference_b: str,
    board: Leaderboard,
    registry: Any,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Comparison:
    """Paired bootstrap test of run B against run A on their common test set.

    Both runs must be of the same task on the same data (same content checksum), with
    per-example statistics, and the task must be installed to turn statistics into its
    metric.
    """
    a, b = find_run(reference_a, board), find_run(reference_b, board)
    for run in (a, b):
        if run.statistics is None:
            raise NlpplatError(
                f"run {run.run_id} has no per-example statistics (recorded by an older nlpplat, "
                "or its task does not provide them): it cannot be compared"
            )
    ra, rb = a.results, b.results
    if (ra["task"], ra["dataset"]) != (rb["task"], rb["dataset"]):
        raise NlpplatError(
            f"{a.run_id} is {ra['task']} on {ra['dataset']} but {b.run_id} is {rb['task']} on {rb['dataset']}; "
            "a paired test needs the same task and test set"
        )
    checksums = {ra.get("dataset_checksum"), rb.get("dataset_checksum")} - {None, ""}
    if len(checksums) > 1:
        raise NlpplatError(f"{a.run_id} and {b.run_id} were tested on different versions of {ra['dataset']}")
    metric = metric_function(registry, ra["task"], (ra.get("config") or {}).get("task"))
    if metric is None:
        raise NlpplatError(
            f"task {ra['task']!r} is not installed here (or has no statistics); install its plugin"
        )
    test = paired_bootstrap(as_matrix(a.statistics), as_matrix(b.statistics), metric, resamples, seed)
    return Comparison(a, b, test)
