"""Benchmark grids: task × dataset × backbone × seed, each cell a run in its own process.

``nlpplat bench`` expands a grid into *cells*, resolves and checks every cell's
configuration before starting any, and runs each cell as ``python -m nlpplat run …
--output CELL_DIR`` in a process of its own, so a crash, an out-of-memory kill or a
``kill -9`` takes down one cell, never the grid. The cell writes its own leaderboard
row when it finishes; the grid records a cell that fails (or is interrupted) with its
error.

Cell directories are named ``<task>-<backbone>-<dataset>-seed<seed>-<config hash>-<UTC
time>``. Re-running a grid finds them by everything up to the time: a cell whose
``results.json`` carries the same configuration hash is skipped, one with a saved
training state is resumed (``nlpplat run --resume``), any other is started again.

A grid file (``nlpplat bench GRID.toml``) has a ``[grid]`` table, the usual config
sections for settings shared by all cells, and ``[[override]]`` tables for some cells::

    [grid]
    task = ["ner"]
    backbone = ["rnn", "lstm", "transformer"]
    dataset = ["conll2003"]        # optional: each task's default dataset
    seeds = 3                      # seeds 1, 2, 3; or a list: [1, 7, 42]

    [train]
    max_time = "30m"

    [[override]]
    where = { backbone = "transformer" }   # task, dataset, backbone, seed: a value or a list
    train = { lr = 0.0005 }
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from nlpplat import config as cfg
from nlpplat.errors import ConfigError, NlpplatError
from nlpplat.leaderboard import FAILED, FINISHED, INTERRUPTED, Leaderboard
from nlpplat.runs import RESULTS, STATE

Layer = dict[str, dict[str, Any]]
GRID_KEYS = ("task", "dataset", "backbone", "seeds")
WHERE_KEYS = ("task", "dataset", "backbone", "seed")
LOG = "bench.log"


# -- the grid ------------------------------------------------------------------------------
@dataclass
class Override:
    """Settings for the cells that match ``where`` (key → allowed values)."""

    where: dict[str, list[Any]]
    layer: Layer

    def matches(self, identity: Mapping[str, Any]) -> bool:
        return all(identity[key] in values for key, values in self.where.items())


@dataclass
class GridSpec:
    """What to run: the axes of the grid, shared settings and per-cell overrides."""

    tasks: list[str]
    backbones: list[str]
    datasets: list[str] = field(default_factory=list)  # empty: each task's default dataset
    seeds: list[int] = field(default_factory=lambda: [1])
    layer: Layer = field(default_factory=dict)  # settings for every cell
    overrides: list[Override] = field(default_factory=list)
    command_line: Layer = field(default_factory=dict)  # options given to `nlpplat bench`: they win


def split_names(text: str | Sequence[str] | None) -> list[str]:
    """``"rnn,lstm"`` or ``["rnn", "lstm"]`` → ``["rnn", "lstm"]``."""
    if text is None:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    return [str(item).strip() for item in items if str(item).strip()]


def seed_list(value: Any, where: str = "seeds") -> list[int]:
    """``3`` → ``[1, 2, 3]``; a list of integers is taken as it is."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return list(range(1, value + 1))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return list(value)
    raise ConfigError(f"{where} = {value!r}: give a count (3 means seeds 1, 2, 3) or a list of integers")


def load_grid(path: str | Path) -> GridSpec:
    """Read a grid file (see the module docstring); errors name the file and the key."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such grid file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    grid = data.pop("grid", {})
    unknown = set(grid) - set(GRID_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key [grid] {sorted(unknown)[0]}; [grid] has {', '.join(GRID_KEYS)}"
        )
    overrides = []
    for number, table in enumerate(data.pop("override", []), 1):
        table = dict(table)
        where = table.pop("where", {})
        bad = set(where) - set(WHERE_KEYS)
        if bad:
            raise ConfigError(
                f"{path}: [[override]] {number}: where.{sorted(bad)[0]} is not one of {', '.join(WHERE_KEYS)}"
            )
        overrides.append(
            Override(
                {key: value if isinstance(value, list) else [value] for key, value in where.items()},
                _sections(table, f"{path}: [[override]] {number}"),
            )
        )
    return GridSpec(
        tasks=split_names(grid.get("task")),
        backbones=split_names(grid.get("backbone")),
        datasets=split_names(grid.get("dataset")),
        seeds=seed_list(grid.get("seeds", 1), f"{path}: seeds"),
        layer=_sections(data, str(path)),
        overrides=overrides,
    )


def _sections(data: Mapping[str, Any], where: str) -> Layer:
    for section, values in data.items():
        if section not in cfg.SECTIONS or not isinstance(values, dict):
            raise ConfigError(f"{where}: unknown section {section!r}; sections are {', '.join(cfg.SECTIONS)}")
    return {section: dict(values) for section, values in data.items()}


def merge(*layers: Layer) -> Layer:
    """Later layers win, key by key within each section."""
    merged: Layer = {}
    for layer in layers:
        for section, values in layer.items():
            merged.setdefault(section, {}).update(values)
    return merged


@dataclass
class Cell:
    """One run of the grid, with its resolved configuration."""

    task: str
    dataset: str
    backbone: str
    seed: int
    layer: Layer  # everything that differs from the defaults, as given
    config: cfg.RunConfig
    config_hash: str

    @property
    def prefix(self) -> str:
        """The run directory name without its time stamp."""
        return f"{self.task}-{self.backbone}-{self.dataset}-seed{self.seed}-{self.config_hash[:8]}"

    def arguments(self) -> list[str]:
        """Options of ``nlpplat run`` that reproduce this cell (without --output and --db)."""
        arguments = ["--task", self.task, "--backbone", self.backbone, "--dataset", self.dataset]
        arguments += ["--seed", str(self.seed)]
        implied = {
            ("run", "task"),
            ("run", "backbone"),
            ("run", "dataset"),
            ("run", "output"),
            ("train", "seed"),
        }
        for section, values in self.layer.items():
            for key, value in values.items():
                if (section, key) not in implied:
                    value = list(value) if isinstance(value, tuple) else value
                    arguments += ["--set", f"{section}.{key}={json.dumps(value)}"]  # JSON is valid TOML
        return arguments


def expand(spec: GridSpec, registry: Any, console: Console) -> list[Cell]:
    """Every cell of the grid, each configuration resolved and checked (nothing runs yet)."""
    from nlpplat.training import choose_dataset

    if not spec.tasks or not spec.backbones:
        raise ConfigError("a grid needs at least one task and one backbone (--task, --backbone or [grid])")
    for name in spec.backbones:
        registry.backbone(name)  # an unknown name lists the available ones
    datasets: dict[str, list[str]] = {}
    for task in spec.tasks:
        task_datasets = {d.name for d in registry.datasets_for(registry.task(task).name)}
        datasets[task] = [name for name in spec.datasets if name in task_datasets]
    for name in spec.datasets:
        if not any(name in names for names in datasets.values()):
            available = sorted({d.name for task in spec.tasks for d in registry.datasets_for(task)})
            raise ConfigError(
                f"no task of the grid ({', '.join(spec.tasks)}) has a dataset named {name!r}; "
                f"they have: {', '.join(available)}"
            )
    for task, names in datasets.items():
        if not names:  # the task's default: the first of its datasets available offline
            probe = cfg.resolve(registry, [{"run": {"task": task, "backbone": spec.backbones[0]}}])
            names.append(choose_dataset(probe, registry, console)[0].name)
    cells = []
    for task in spec.tasks:
        for dataset, backbone, seed in itertools.product(datasets[task], spec.backbones, spec.seeds):
            identity = {"task": task, "dataset": dataset, "backbone": backbone, "seed": seed}
            layer = merge(
                spec.layer,
                *(o.layer for o in spec.overrides if o.matches(identity)),
                spec.command_line,
                {"run": {"task": task, "backbone": backbone, "dataset": dataset}, "train": {"seed": seed}},
            )
            try:
                config = cfg.resolve(registry, [layer])
            except NlpplatError as error:
                raise ConfigError(f"cell {task}/{dataset}/{backbone}/seed {seed}: {error}") from None
            cells.append(Cell(task, dataset, backbone, seed, layer, config, config.hash()))
    return cells


# -- running -------------------------------------------------------------------------------
PENDING, SKIPPED, RUNNING = "pending", "skipped", "running"


@dataclass
class CellRun:
    """A cell's directory and how its run went in this invocation."""

    cell: Cell
    run_dir: Path
    action: str  # "run", "resume" or "skip"
    status: str = PENDING
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    seconds: float = 0.0
    score: float | None = None
    error: str = ""

    @property
    def log(self) -> Path:
        return self.run_dir / LOG


def _finished_results(run_dir: Path, config_hash: str) -> dict[str, Any] | None:
    path = run_dir / RESULTS
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return results if results.get("config_hash") == config_hash else None


def plan(cells: Sequence[Cell], output: Path) -> list[CellRun]:
    """For each cell: skip it (finished), resume it (saved state) or run it (fresh or again)."""
    runs = []
    for cell in cells:
        # Newest first; the time stamp sorts as text.
        existing = sorted(output.glob(f"{cell.prefix}-*"), reverse=True) if output.is_dir() else []
        existing = [path for path in existing if path.is_dir()]
        finished = next((path for path in existing if _finished_results(path, cell.config_hash)), None)
        if finished:
            run = CellRun(cell, finished, "skip", SKIPPED)
            run.score = _score(_finished_results(finished, cell.config_hash))
        elif existing and (existing[0] / STATE).is_file():
            run = CellRun(cell, existing[0], "resume")
        elif existing:
            run = CellRun(cell, existing[0], "run")  # failed before its first epoch: start again
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            run = CellRun(cell, output / f"{cell.prefix}-{stamp}", "run")
        runs.append(run)
    return runs


def _score(results: Mapping[str, Any] | None) -> float | None:
    if not results:
        return None
    return results.get("test", {}).get(results.get("primary_metric"))


def run_command(run: CellRun, db: Path) -> list[str]:
    """The command line of a cell: a fresh run, or a resumed one."""
    base = [sys.executable, "-m", "nlpplat", "run"]
    if run.action == "resume":
        return [*base, "--resume", str(run.run_dir), "--db", str(db)]
    return [*base, *run.cell.arguments(), "--output", str(run.run_dir), "--db", str(db)]


def error_from_log(log: Path, returncode: int) -> str:
    """One line saying how a cell ended: the signal that killed it, or its last error line."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    lines: list[str] = []
    try:
        with open(log, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle.readlines()[-200:] if line.strip()]
    except OSError:
        pass
    headers = [index for index, line in enumerate(lines) if line.startswith("== ")]
    if headers:  # only this attempt's output, not an earlier attempt's error
        lines = lines[headers[-1] + 1 :]
    message = next(
        (line.split("Error:", 1)[1].strip() for line in reversed(lines) if line.startswith("Error:")), ""
    )
    if not message:  # a traceback ends with "SomeError: what happened"
        pattern = re.compile(r"^[\w.]+(Error|Exception|Interrupt|Exit)\b")
        message = next((line for line in reversed(lines) if pattern.match(line)), lines[-1] if lines else "")
    return f"exit status {returncode}" + (f": {message}" if message else "")


class BenchInterrupted(NlpplatError):
    """The grid was stopped (Ctrl-C or SIGTERM); running cells saved their state."""


class Bench:
    """Runs planned cells, at most ``jobs`` at a time, and records those that fail.

    ``command(run, db)`` builds a cell's command line (tests substitute their own).
    """

    def __init__(
        self,
        runs: Sequence[CellRun],
        db: Path,
        jobs: int = 1,
        console: Console | None = None,
        command: Callable[[CellRun, Path], list[str]] = run_command,
        poll_seconds: float = 0.5,
    ):
        if jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, not {jobs}")
        self.runs, self.db, self.jobs = list(runs), Path(db), jobs
        self.console = console or Console(stderr=True)
        self.command, self.poll_seconds = command, poll_seconds
        self.stopping: int | None = None  # the signal that asked us to stop
        self.board = Leaderboard(self.db)

    def run(self) -> list[CellRun]:
        """Run every pending cell; return all cells with their final status.

        Raises :class:`BenchInterrupted` after Ctrl-C or SIGTERM, once the running cells
        have saved their state and stopped.
        """
        self.board.rows(status=None)  # create or migrate the database before cells write to it
        for run in self.runs:
            if run.status == SKIPPED:
                self._ensure_recorded(run)
        pending = [run for run in self.runs if run.status == PENDING]
        with self._signals(), self._display() as refresh:
            while pending or self._running():
                while pending and len(self._running()) < self.jobs and self.stopping is None:
                    self._start(pending.pop(0))
                for run in self._running():
                    if run.process is not None and run.process.poll() is not None:
                        self._finish(run)
                refresh()
                if self.stopping is not None and not self._running():
                    break
                time.sleep(self.poll_seconds)
        if self.stopping is not None:
            interrupted = sum(run.status == INTERRUPTED for run in self.runs)
            raise BenchInterrupted(
                f"stopped: {interrupted} running cell(s) saved their state; "
                "run the same command again to resume the grid"
            )
        return self.runs

    def _running(self) -> list[CellRun]:
        return [run for run in self.runs if run.status == RUNNING]

    def _ensure_recorded(self, run: CellRun) -> None:
        """A finished cell whose row is missing (another --db, a crash before the insert) is added."""
        row = self.board.get(run.run_dir.name)
        if row is None or row["status"] != FINISHED:
            self.board.add_run(run.run_dir)

    def _start(self, run: CellRun) -> None:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        command = self.command(run, self.db)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
            # Share the cores between parallel cells instead of oversubscribing them; an
            # environment variable rather than a setting, so the configuration hash is the
            # same whatever --jobs is.
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // self.jobs))
        with open(run.log, "a", encoding="utf-8") as log:
            log.write(f"== {datetime.now(UTC).isoformat(timespec='seconds')} {' '.join(command)}\n")
        log = open(run.log, "ab")  # noqa: SIM115 - held open by the child until it exits
        try:
            # A session of its own: Ctrl-C in the terminal reaches only the grid, which then
            # asks each cell to stop cleanly (they save their training state).
            run.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()  # the child has its own descriptor
        run.status, run.started = RUNNING, time.monotonic()
        self._event(run, "started" if run.action == "run" else "resumed")

    def _finish(self, run: CellRun) -> None:
        assert run.process is not None
        returncode = run.process.returncode
        run.seconds = time.monotonic() - run.started
        results = _finished_results(run.run_dir, run.cell.config_hash)
        if results is not None:
            run.status, run.score = FINISHED, _score(results)
            if returncode != 0 or self.board.get(run.run_dir.name) is None:
                self._ensure_recorded(run)
        else:
            run.error = error_from_log(run.log, returncode) if returncode else "exited without results.json"
            run.status = INTERRUPTED if self.stopping is not None else FAILED
            if returncode == 0 and results is None and (run.run_dir / RESULTS).is_file():
                run.error = "results.json has another configuration hash than the cell"
            self.board.add_failure(self._record(run, returncode), run.error, run.status)
        self._event(run, run.status)

    def _record(self, run: CellRun, returncode: int) -> dict[str, Any]:
        cell = run.cell
        config = cell.config.to_dict()
        config["run"]["output"] = str(run.run_dir)
        return {
            "run_id": run.run_dir.name,
            "task": cell.task,
            "dataset": cell.dataset,
            "backbone": cell.backbone,
            "seed": cell.seed,
            "config_hash": cell.config_hash,
            "config": config,
            "returncode": returncode,
            "error": run.error,
            "log": str(run.log),
            "resume": f"nlpplat run --resume {run.run_dir}" if (run.run_dir / STATE).is_file() else "",
        }

    # -- signals and display ------------------------------------------------------------------
    def _signals(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def handlers() -> Iterator[None]:
            def stop(signum: int, frame: Any) -> None:
                self.stopping = signum
                for run in self._running():
                    if run.process is not None and run.process.poll() is None:
                        run.process.send_signal(signal.SIGTERM)  # the run saves its state and exits

            try:
                previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
            except ValueError:  # not the main thread
                yield
                return
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        return handlers()

    def _event(self, run: CellRun, what: str) -> None:
        if self.console.is_terminal:
            return  # the live table shows it
        detail = f" {run.score:.2f}" if run.score is not None else ""
        detail += f" ({run.error})" if run.error else ""
        self.console.print(f"bench: {what} {run.run_dir.name}{detail}", highlight=False, soft_wrap=True)

    def _display(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def display() -> Iterator[Callable[[], None]]:
            if not self.console.is_terminal:
                yield lambda: None
                return
            with Live(self.table(), console=self.console, auto_refresh=False, transient=False) as live:
                yield lambda: live.update(self.table(), refresh=True)

        return display()

    def table(self) -> Table:
        """The grid as a table: one row per cell, with its state, time and score or last log line."""
        counts = {status: sum(run.status == status for run in self.runs) for status in STATUS_STYLE}
        summary = " · ".join(f"{count} {status}" for status, count in counts.items() if count)
        table = Table(
            "task", "dataset", "backbone", "seed", "status", "time", "score / progress", title=summary
        )
        for run in self.runs:
            cell = run.cell
            if run.status == RUNNING:
                seconds, detail = time.monotonic() - run.started, _last_line(run.log)
            else:
                seconds = run.seconds
                detail = f"{run.score:.2f}" if run.score is not None else run.error
            style = STATUS_STYLE.get(run.status, "")
            table.add_row(
                cell.task, cell.dataset, cell.backbone, str(cell.seed), f"[{style}]{run.status}[/]" if style else run.status,
                f"{seconds:.0f}s" if seconds else "", detail[:80],
            )  # fmt: skip
        return table


STATUS_STYLE = {
    PENDING: "dim", RUNNING: "cyan", FINISHED: "green", SKIPPED: "green",
    FAILED: "red", INTERRUPTED: "yellow",
}  # fmt: skip


def _last_line(log: Path) -> str:
    """The last line a running cell printed (its latest dev score, usually)."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 2000))
            lines = handle.read().decode("utf-8", errors="replace").replace("\r", "\n").splitlines()
    except OSError:
        return ""
    # Skip the header the grid writes before each attempt: it is the command, not progress.
    return next((line.strip() for line in reversed(lines) if line.strip() and not line.startswith("== ")), "")


def summary(runs: Sequence[CellRun]) -> str:
    counts = {status: sum(run.status == status for run in runs) for status in STATUS_STYLE}
    return ", ".join(f"{count} {status}" for status, count in counts.items() if count)


def cell_rows(runs: Sequence[CellRun]) -> Iterator[list[str]]:
    """For ``--dry-run``: each cell, what would happen, and its directory."""
    for run in runs:
        yield [
            run.cell.task,
            run.cell.dataset,
            run.cell.backbone,
            str(run.cell.seed),
            run.action,
            str(run.run_dir),
        ]
