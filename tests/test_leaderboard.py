"""The SQLite leaderboard store: rows, ranking, concurrency, foreign files."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from nlpplat.errors import NlpplatError
from nlpplat.leaderboard import Leaderboard


def result(run_id: str, score: float, backbone: str = "lstm") -> dict:
    return {
        "run_id": run_id, "task": "ner", "dataset": "demo", "backbone": backbone, "primary_metric": "f1",
        "higher_is_better": True, "dev": {"f1": score - 1}, "test": {"f1": score}, "seed": 1,
        "versions": {"commit": "abc"}, "machine": {"cores": 2},
    }  # fmt: skip


def test_rows_are_ranked_by_the_primary_metric(tmp_path: Path) -> None:
    board = Leaderboard(tmp_path / "board.sqlite")
    for run_id, score in [("a", 80.0), ("b", 91.5), ("c", 85.0)]:
        board.add(result(run_id, score))
    rows = board.rows(task="ner")
    assert [row["run_id"] for row in rows] == ["b", "c", "a"]
    assert rows[0]["test_score"] == 91.5 and rows[0]["commit_id"] == "abc"


def test_adding_the_same_run_twice_keeps_one_row(tmp_path: Path) -> None:
    board = Leaderboard(tmp_path / "board.sqlite")
    board.add(result("a", 80.0))
    board.add(result("a", 80.0))
    assert len(board.rows()) == 1


def _write(path: str, worker: int) -> None:
    board = Leaderboard(path)
    for index in range(10):
        board.add(result(f"w{worker}-{index}", float(index)))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "board.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write, args=(path, worker)) for worker in range(6)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert len(Leaderboard(path).rows()) == 60


def test_corrupt_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "board.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(NlpplatError, match="not a usable nlpplat leaderboard database"):
        Leaderboard(path).rows()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(NlpplatError, match="not an nlpplat leaderboard"):
        Leaderboard(path).rows()
