"""From leaderboard rows to ranked boards: one per task and dataset, seeds grouped.

A *board* holds the runs of one task on one dataset (and one version of its files: the
content checksum is part of the key, so numbers on different data never share a
ranking). Runs that differ only in their seed form one *entry*, shown as mean ±
standard deviation over the seeds; entries are ranked by that mean on the task's
primary metric. Rendering is :mod:`nlpplat.report`'s job.
"""

from __future__ import annotations

import json
import statistics as stats
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlpplat.confidence import Metric, as_matrix, interval


@dataclass
class Entry:
    """One setup on a board: a single run, or the seeds of one configuration."""

    runs: list[dict[str, Any]]  # leaderboard rows, best test score first
    interval: tuple[float, float] | None = None  # 95 % bootstrap interval of the (mean) test score

    @property
    def backbone(self) -> str:
        return self.runs[0]["backbone"]

    @property
    def seeds(self) -> int:
        return len(self.runs)

    @property
    def scores(self) -> list[float]:
        return [row["test_score"] for row in self.runs]

    @property
    def mean(self) -> float:
        return stats.fmean(self.scores)

    @property
    def std(self) -> float | None:
        """Sample standard deviation over seeds (n − 1 in the denominator); None for one run."""
        return stats.stdev(self.scores) if len(self.runs) > 1 else None

    def average(self, column: str) -> float | None:
        values = [row[column] for row in self.runs if row.get(column) is not None]
        return stats.fmean(values) if values else None

    @property
    def config_id(self) -> str:
        """Short name of the configuration (without seed), so equal backbones can be told apart."""
        return (self.runs[0].get("group_hash") or self.runs[0].get("config_hash") or "")[:8]

    @property
    def run_ids(self) -> list[str]:
        return [row["run_id"] for row in self.runs]

    @property
    def decoding(self) -> dict[str, Any]:
        return json.loads(self.runs[0].get("decoding") or "{}")


@dataclass
class Board:
    """The ranked entries of one task on one dataset."""

    task: str
    dataset: str
    dataset_checksum: str
    metric: str
    higher_is_better: bool
    signatures: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    @property
    def key(self) -> str:
        """A stable identifier (HTML ids, file names)."""
        return f"{self.task}-{self.dataset}-{self.dataset_checksum[:8]}".strip("-")


StatisticsLoader = Callable[[list[str]], Mapping[str, Any]]
MetricResolver = Callable[[str, Mapping[str, Any] | None], Metric | None]


def build_boards(
    rows: Iterable[dict[str, Any]],
    by_run: bool = False,
    load_statistics: StatisticsLoader | None = None,
    metric_for: MetricResolver | None = None,
) -> list[Board]:
    """Group finished rows into ranked boards, sorted by task and dataset.

    ``by_run`` lists every run on its own instead of grouping seeds. The interval of a
    single run is the one stored when it finished. For a seed group it is computed here
    when ``load_statistics`` (run ids → example statistics) and ``metric_for`` (task
    name, task settings → ``metric_from_statistics``) can provide it; otherwise None.
    """
    boards: dict[tuple[str, str, str], Board] = {}
    groups: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        if row.get("test_score") is None:
            continue
        key = (row["task"], row["dataset"], row.get("dataset_checksum") or "")
        if key not in boards:
            boards[key] = Board(
                *key, metric=row["primary_metric"], higher_is_better=bool(row["higher_is_better"])
            )
            groups[key] = {}
        signature = row.get("metric_signature") or ""
        if signature and signature not in boards[key].signatures:
            boards[key].signatures.append(signature)
        group = row["run_id"] if by_run or not row.get("group_hash") else row["group_hash"]
        groups[key].setdefault(group, []).append(row)
    for key, board in boards.items():
        sign = -1.0 if board.higher_is_better else 1.0
        for members in groups[key].values():
            members.sort(key=lambda row: sign * row["test_score"])
            board.entries.append(Entry(members, _interval(members, load_statistics, metric_for)))
        board.entries.sort(key=lambda entry: (sign * entry.mean, entry.average("train_seconds") or 0.0))
    return [boards[key] for key in sorted(boards)]


def _interval(
    members: list[dict[str, Any]],
    load_statistics: StatisticsLoader | None,
    metric_for: MetricResolver | None,
) -> tuple[float, float] | None:
    if len(members) == 1:
        low, high = members[0].get("test_ci_low"), members[0].get("test_ci_high")
        return (low, high) if low is not None and high is not None else None
    if load_statistics is None or metric_for is None:
        return None
    config = json.loads(members[0].get("config") or "{}")
    metric = metric_for(members[0]["task"], config.get("task"))
    found = load_statistics([row["run_id"] for row in members])
    if metric is None or len(found) != len(members):
        return None
    matrices = [as_matrix(found[row["run_id"]]) for row in members]
    if len({matrix.shape for matrix in matrices}) != 1 or not all(np.isfinite(m).all() for m in matrices):
        return None
    return interval(matrices, metric)
