"""The leaderboard store: one SQLite row per run, finished or failed.

SQLite is embedded (nothing to install or run), safe for several processes writing at
once (WAL journal, a busy timeout) and a single file that can be copied between
machines. Every commit is synced to disk before it returns (``synchronous=FULL``), so a
row that a run has reported is never lost. The schema is versioned; :data:`MIGRATIONS`
upgrades older files in place, one transaction per step, one process at a time.

Besides the columns that are searched and ranked on, each row keeps the run's whole
``results.json`` (all metrics, signature, decoding parameters, versions, machine) and,
in the ``statistics`` table, the per-example statistics of its test score that
confidence intervals and paired tests resample (:mod:`nlpplat.confidence`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nlpplat.errors import DataError, NlpplatError

DB_VARIABLE = "NLPPLAT_DB"
FINISHED, FAILED, INTERRUPTED = "finished", "failed", "interrupted"
EXPORT_KEY = "nlpplat_leaderboard"  # marks a line of `nlpplat leaderboard export`

# Each entry upgrades the schema from version i to i + 1. Never edit a released entry:
# files in the wild are at every version; add a new entry instead.
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
    # 2: failed cells, the configuration itself, seed groups, decoding, the confidence
    # interval, and per-example statistics in a table of their own (they are large and
    # only read for intervals and tests, never for listing).
    """
    ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'finished';
    ALTER TABLE runs ADD COLUMN error TEXT;
    ALTER TABLE runs ADD COLUMN config TEXT;
    ALTER TABLE runs ADD COLUMN group_hash TEXT;
    ALTER TABLE runs ADD COLUMN decoding TEXT;
    ALTER TABLE runs ADD COLUMN test_ci_low REAL;
    ALTER TABLE runs ADD COLUMN test_ci_high REAL;
    CREATE TABLE statistics (
        run_id TEXT NOT NULL,
        split TEXT NOT NULL,
        rows TEXT NOT NULL,
        PRIMARY KEY (run_id, split)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def default_path() -> Path:
    if os.environ.get(DB_VARIABLE):
        return Path(os.environ[DB_VARIABLE])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "nlpplat" / "leaderboard.sqlite"


def group_hash(config: Mapping[str, Any] | None) -> str | None:
    """A digest of a run's configuration without its seed: runs that share it are seeds of one setup.

    ``run.output`` is left out as well (where a run is written changes nothing).
    """
    if not config:
        return None
    data = {section: dict(values) for section, values in config.items()}
    data.get("train", {}).pop("seed", None)
    data.get("run", {}).pop("output", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ImportReport:
    """What :meth:`Leaderboard.import_lines` did."""

    added: int  # new run ids
    replaced: int  # a failed or interrupted row replaced by a finished one
    duplicates: int  # run ids already present (kept as they were)
    conflicts: tuple[str, ...]  # duplicates whose test score differs from the stored one


class Leaderboard:
    """The store at ``path`` (default: ``--db``/``NLPPLAT_DB``/the user data dir).

    Write with :meth:`add` (or :meth:`add_run` from a run directory) and
    :meth:`add_failure`; read with :meth:`rows`, :meth:`get` and :meth:`statistics`;
    move rows between machines with :meth:`export_lines` and :meth:`import_lines`.
    """

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
        if self._version(connection) == SCHEMA_VERSION:
            return
        # BEGIN IMMEDIATE takes the write lock first, so processes opening an old file at
        # once migrate one after the other; each re-reads the version inside the lock.
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = self._version(connection)
            if version == 0 and connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise NlpplatError(f"{self.path}: an SQLite database, but not an nlpplat leaderboard")
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number + 1}")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def _version(self, connection: sqlite3.Connection) -> int:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise NlpplatError(
                f"{self.path}: leaderboard schema version {version} is newer than this nlpplat "
                f"understands ({SCHEMA_VERSION}); upgrade nlpplat"
            )
        return version

    # -- writing -------------------------------------------------------------------------
    def add(
        self,
        results: dict[str, Any],
        statistics: Mapping[str, Sequence[Sequence[float]]] | None = None,
    ) -> None:
        """Insert (or replace) the row of one finished run, with its example statistics by split."""
        metric = results["primary_metric"]
        confidence = (results.get("confidence") or {}).get("test") or (None, None)
        row = {
            **_identity(results),
            "status": FINISHED,
            "error": None,
            "primary_metric": metric,
            "higher_is_better": int(results.get("higher_is_better", True)),
            "test_score": results["test"].get(metric),
            "dev_score": results["dev"].get(metric),
            "test_ci_low": confidence[0],
            "test_ci_high": confidence[1],
            "metric_signature": results.get("metric_signature"),
            "decoding": json.dumps(results.get("decoding") or {}),
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
        self._write(row, statistics or {})

    def add_run(self, run_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """Record a finished run directory (its ``results.json`` and statistics); return the results."""
        from nlpplat.confidence import read_statistics
        from nlpplat.runs import read_results

        results = read_results(Path(run_dir))
        rows = read_statistics(Path(run_dir), results)
        self.add(results, {"test": rows} if rows is not None else None)
        return results

    def add_failure(self, run: dict[str, Any], error: str, status: str = FAILED) -> None:
        """Record a run that did not finish (``failed`` or ``interrupted``) and why.

        ``run`` holds at least ``run_id``, ``task``, ``dataset`` and ``backbone``; it is
        stored whole, as a finished run's results are. A later finished run with the same
        id replaces the row.
        """
        row = {**_identity(run), "status": status, "error": error, "results": json.dumps(run)}
        self._write(row, {})

    def _write(self, row: dict[str, Any], statistics: Mapping[str, Sequence[Sequence[float]]]) -> None:
        columns = ", ".join(row)
        placeholders = ", ".join(f":{name}" for name in row)
        with self.connect() as connection, connection:  # one transaction: row and statistics
            connection.execute(f"INSERT OR REPLACE INTO runs ({columns}) VALUES ({placeholders})", row)
            connection.execute("DELETE FROM statistics WHERE run_id = ?", (row["run_id"],))
            connection.executemany(
                "INSERT INTO statistics (run_id, split, rows) VALUES (?, ?, ?)",
                [
                    (row["run_id"], split, json.dumps(rows, separators=(",", ":")))
                    for split, rows in statistics.items()
                ],
            )

    # -- reading -------------------------------------------------------------------------
    def rows(
        self, task: str | None = None, dataset: str | None = None, status: str | None = FINISHED
    ) -> list[dict[str, Any]]:
        """Rows as dictionaries, best first within each task and dataset.

        ``status`` selects finished (default), failed or interrupted rows; None: all.
        """
        query, parameters = "SELECT * FROM runs WHERE 1=1", []
        for column, value in (("task", task), ("dataset", dataset), ("status", status)):
            if value:
                query += f" AND {column} = ?"
                parameters.append(value)
        query += (
            " ORDER BY task, dataset,"
            " CASE WHEN higher_is_better THEN -test_score ELSE test_score END, created_at"
        )
        with self.connect() as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute(query, parameters)]

    def get(self, run_id: str) -> dict[str, Any] | None:
        """The row of ``run_id``, or None."""
        with self.connect() as connection:
            connection.row_factory = sqlite3.Row
            row = connection.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return dict(row) if row else None

    def statistics(self, run_ids: Iterable[str], split: str = "test") -> dict[str, list[list[float]]]:
        """Example statistics of ``split`` for those of ``run_ids`` that have them."""
        run_ids = list(run_ids)
        found: dict[str, list[list[float]]] = {}
        with self.connect() as connection:
            for start in range(0, len(run_ids), 500):  # SQLite limits the number of parameters
                chunk = run_ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                for run_id, rows in connection.execute(
                    f"SELECT run_id, rows FROM statistics WHERE split = ? AND run_id IN ({marks})",
                    [split, *chunk],
                ):
                    found[run_id] = json.loads(rows)
        return found

    # -- moving rows between machines ------------------------------------------------------
    def export_lines(self, task: str | None = None, dataset: str | None = None) -> Iterator[str]:
        """One JSON line per row (all statuses), with the row's statistics.

        Each line: ``{"nlpplat_leaderboard": SCHEMA_VERSION, "status", "error",
        "created_at", "results", "statistics": {split: rows}}``.
        """
        rows = self.rows(task, dataset, status=None)
        statistics: dict[str, dict[str, Any]] = {}
        with self.connect() as connection:
            for run_id, split, data in connection.execute("SELECT run_id, split, rows FROM statistics"):
                statistics.setdefault(run_id, {})[split] = json.loads(data)
        for row in rows:
            record = {
                EXPORT_KEY: SCHEMA_VERSION,
                "status": row["status"],
                "error": row["error"],
                "created_at": row["created_at"],
                "results": json.loads(row["results"]),
                "statistics": statistics.get(row["run_id"], {}),
            }
            yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    def import_lines(self, handle: IO[str], name: str = "<input>") -> ImportReport:
        """Merge exported lines; a run id already present is a duplicate and is kept as it is.

        The one exception: a finished run replaces a failed or interrupted row of the same
        id (the cell was re-run elsewhere). Malformed lines raise :class:`DataError` at
        ``file:line`` before anything is written.
        """
        records = [_parse_line(line, name, number) for number, line in enumerate(handle, 1) if line.strip()]
        added = replaced = duplicates = 0
        conflicts: list[str] = []
        for record in records:
            results = record["results"]
            existing = self.get(results["run_id"])
            finished = record["status"] == FINISHED
            if existing is not None and not (finished and existing["status"] != FINISHED):
                duplicates += 1
                if finished and existing["test_score"] != results["test"].get(results["primary_metric"]):
                    conflicts.append(results["run_id"])
                continue
            if finished:
                self.add(results, record.get("statistics") or {})
            else:
                self.add_failure(results, record.get("error") or "", record["status"])
            self._set_created_at(results["run_id"], record.get("created_at"))
            if existing is None:
                added += 1
            else:
                replaced += 1
        return ImportReport(added, replaced, duplicates, tuple(conflicts))

    def _set_created_at(self, run_id: str, created_at: str | None) -> None:
        """Keep the time a run was recorded on its own machine, not the time of the import."""
        if created_at:
            with self.connect() as connection, connection:
                connection.execute("UPDATE runs SET created_at = ? WHERE run_id = ?", (created_at, run_id))


def _identity(run: Mapping[str, Any]) -> dict[str, Any]:
    """The columns every row has, finished or not."""
    config = run.get("config")
    return {
        "run_id": run["run_id"],
        "task": run["task"],
        "dataset": run["dataset"],
        "dataset_checksum": run.get("dataset_checksum"),
        "backbone": run["backbone"],
        "config_hash": run.get("config_hash"),
        "config": json.dumps(config) if config else None,
        "group_hash": group_hash(config),
        "seed": run.get("seed"),
    }


def _statements(script: str) -> list[str]:
    """Split a migration into statements (ours contain no semicolons inside literals)."""
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def _parse_line(line: str, name: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(name, number, f"not JSON ({error.msg})") from None
    if not isinstance(record, dict) or EXPORT_KEY not in record:
        raise DataError(name, number, "not a line of `nlpplat leaderboard export`")
    if not isinstance(record[EXPORT_KEY], int) or record[EXPORT_KEY] > SCHEMA_VERSION:
        raise DataError(name, number, f"exported by a newer nlpplat (schema {record[EXPORT_KEY]}); upgrade")
    results = record.get("results")
    required = ("run_id", "task", "dataset", "backbone")
    if not isinstance(results, dict) or any(not results.get(key) for key in required):
        raise DataError(name, number, f"results must name {', '.join(required)}")
    status = record.get("status", FINISHED)
    if status not in (FINISHED, FAILED, INTERRUPTED):
        raise DataError(name, number, f"unknown status {status!r}")
    if status == FINISHED and not all(key in results for key in ("primary_metric", "test", "dev")):
        raise DataError(name, number, "a finished run needs primary_metric, test and dev")
    record["status"] = status
    return record
