"""The SQLite leaderboard store: rows, ranking, concurrency, foreign files, migrations, export."""

from __future__ import annotations

import io
import json
import multiprocessing
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from nlpplat.errors import NlpplatError
from nlpplat.leaderboard import EXPORT_KEY, MIGRATIONS, SCHEMA_VERSION, Leaderboard


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


def test_a_version_1_file_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
        connection.execute(
            "INSERT INTO runs (run_id, task, dataset, backbone, primary_metric, higher_is_better, test_score,"
            " dev_score, results) VALUES ('old', 'ner', 'demo', 'rnn', 'f1', 1, 70.0, 69.0, '{}')"
        )
    board = Leaderboard(path)
    [row] = board.rows()
    assert row["run_id"] == "old" and row["status"] == "finished" and row["test_ci_low"] is None
    board.add(result("new", 80.0))
    assert [r["run_id"] for r in board.rows()] == ["new", "old"]
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _open(path: str) -> None:
    Leaderboard(path).rows()


def test_processes_opening_an_old_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_open, args=(str(path),)) for _ in range(6)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0  # none of them failed on "duplicate column"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    Leaderboard(path).rows()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(NlpplatError, match="newer than this nlpplat understands"):
        Leaderboard(path).rows()


def test_failed_runs_are_kept_apart_and_replaced_when_the_run_finishes(tmp_path: Path) -> None:
    board = Leaderboard(tmp_path / "board.sqlite")
    board.add(result("ok", 80.0))
    cell = {"run_id": "cell", "task": "ner", "dataset": "demo", "backbone": "rnn", "seed": 2}
    board.add_failure(cell, "exit status 1: out of memory")
    assert [row["run_id"] for row in board.rows()] == ["ok"]
    [failed] = board.rows(status="failed")
    assert failed["error"] == "exit status 1: out of memory" and failed["seed"] == 2
    board.add(result("cell", 85.0))
    assert [row["run_id"] for row in board.rows()] == ["cell", "ok"] and not board.rows(status="failed")


def test_statistics_are_stored_with_the_row(tmp_path: Path) -> None:
    board = Leaderboard(tmp_path / "board.sqlite")
    board.add(result("a", 80.0), {"test": [[1, 2, 2], [0, 1, 0]]})
    assert board.statistics(["a", "missing"]) == {"a": [[1, 2, 2], [0, 1, 0]]}
    board.add(result("a", 81.0))  # replacing a run replaces its statistics
    assert board.statistics(["a"]) == {}


def test_export_and_import_merge_boards_by_run_id(tmp_path: Path) -> None:
    here, there = Leaderboard(tmp_path / "here.sqlite"), Leaderboard(tmp_path / "there.sqlite")
    here.add(result("shared", 80.0))
    here.add(result("only-here", 70.0), {"test": [[1, 1, 1]]})
    there.add(result("shared", 80.0))
    there.add(result("only-there", 90.0))
    there.add_failure({"run_id": "retry", "task": "ner", "dataset": "demo", "backbone": "rnn"}, "killed")
    here.add(result("retry", 75.0))  # finished here, failed there: the finished row stays
    lines = list(here.export_lines())
    assert len(lines) == 3 and all(json.loads(line)[EXPORT_KEY] == SCHEMA_VERSION for line in lines)
    report = there.import_lines(io.StringIO("\n".join(lines) + "\n"))
    assert (report.added, report.replaced, report.duplicates, report.conflicts) == (1, 1, 1, ())
    assert {row["run_id"] for row in there.rows()} == {"shared", "only-here", "only-there", "retry"}
    assert there.statistics(["only-here"]) == {"only-here": [[1, 1, 1]]}
    again = there.import_lines(io.StringIO("\n".join(lines)))
    assert (again.added, again.duplicates) == (0, 3)


def test_import_reports_conflicts_and_rejects_foreign_lines(tmp_path: Path) -> None:
    board = Leaderboard(tmp_path / "board.sqlite")
    board.add(result("a", 80.0))
    line = json.dumps({EXPORT_KEY: SCHEMA_VERSION, "status": "finished", "results": result("a", 82.0)})
    assert board.import_lines(io.StringIO(line)).conflicts == ("a",)
    with pytest.raises(NlpplatError, match=r"runs.jsonl:2: not a line of `nlpplat leaderboard export`"):
        board.import_lines(io.StringIO(line + '\n{"title": "song"}\n'), "runs.jsonl")
