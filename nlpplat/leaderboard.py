"""The leaderboard store: one SQLite row per finished run.

SQLite is embedded (nothing to install or run), safe for several processes writing at
once (WAL journal, a busy timeout) and a single file that can be copied between
machines. The schema is versioned; :data:`MIGRATIONS` upgrades older files in place.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from nlpplat.errors import NlpplatError

DB_VARIABLE = "NLPPLAT_DB"

# Each entry upgrades the schema from version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        task TEXT NOT NULL,
        dataset TEXT NOT NULL,
        dataset_checksum TEXT,
        backbone TEXT NOT NULL,
        config_hash TEXT,
        seed INTEGER,
        primary_metric TEXT,
        higher_is_better INTEGER,
        test_score REAL,
        dev_score REAL,
        metric_signature TEXT,
        parameters INTEGER,
        train_seconds REAL,
        train_tokens_per_second REAL,
        eval_sentences_per_second REAL,
        peak_memory_mb REAL,
        precision TEXT,
        device TEXT,
        commit_id TEXT,
        versions TEXT,
        machine TEXT,
        results TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE INDEX runs_by_task ON runs (task, dataset);
    """,
]


def default_path() -> Path:
    if os.environ.get(DB_VARIABLE):
        return Path(os.environ[DB_VARIABLE])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "nlpplat" / "leaderboard.sqlite"


class Leaderboard:
    """``Leaderboard(path).add(results)``; ``rows(task=...)`` reads them back."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path else default_path()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(self.path, timeout=60)
            with closing(connection):
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")  # a reported row survives a crash
                self._migrate(connection)
                yield connection
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                raise
            raise NlpplatError(f"{self.path}: not a usable nlpplat leaderboard database ({error})") from None

    def _migrate(self, connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise NlpplatError(
                f"{self.path}: leaderboard schema version {version} is newer than this nlpplat "
                f"understands ({len(MIGRATIONS)}); upgrade nlpplat"
            )
        if version == 0 and connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise NlpplatError(f"{self.path}: an SQLite database, but not an nlpplat leaderboard")
        for number in range(version, len(MIGRATIONS)):
            with connection:  # one transaction per migration
                connection.executescript(f"BEGIN; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1};")

    def add(self, results: dict[str, Any]) -> None:
        """Insert (or replace) the row of one finished run."""
        metric = results["primary_metric"]
        row = {
            "run_id": results["run_id"],
            "task": results["task"],
            "dataset": results["dataset"],
            "dataset_checksum": results.get("dataset_checksum"),
            "backbone": results["backbone"],
            "config_hash": results.get("config_hash"),
            "seed": results.get("seed"),
            "primary_metric": metric,
            "higher_is_better": int(results.get("higher_is_better", True)),
            "test_score": results["test"].get(metric),
            "dev_score": results["dev"].get(metric),
            "metric_signature": results.get("metric_signature"),
            "parameters": results.get("parameters"),
            "train_seconds": results.get("train_seconds"),
            "train_tokens_per_second": results.get("train_tokens_per_second"),
            "eval_sentences_per_second": results.get("eval_sentences_per_second"),
            "peak_memory_mb": results.get("peak_memory_mb"),
            "precision": results.get("precision"),
            "device": results.get("device"),
            "commit_id": results.get("versions", {}).get("commit"),
            "versions": json.dumps(results.get("versions", {})),
            "machine": json.dumps(results.get("machine", {})),
            "results": json.dumps(results),
        }
        columns = ", ".join(row)
        placeholders = ", ".join(f":{name}" for name in row)
        with self.connect() as connection, connection:
            connection.execute(f"INSERT OR REPLACE INTO runs ({columns}) VALUES ({placeholders})", row)

    def rows(self, task: str | None = None, dataset: str | None = None) -> list[dict[str, Any]]:
        """Rows as dictionaries, best first within each task and dataset."""
        query, parameters = "SELECT * FROM runs WHERE 1=1", []
        if task:
            query += " AND task = ?"
            parameters.append(task)
        if dataset:
            query += " AND dataset = ?"
            parameters.append(dataset)
        query += (
            " ORDER BY task, dataset,"
            " CASE WHEN higher_is_better THEN -test_score ELSE test_score END, created_at"
        )
        with self.connect() as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute(query, parameters)]
