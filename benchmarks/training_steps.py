"""What the training-step benchmarks share: a model built as ``nlpplat run`` builds it, and
the first batches of its first epoch.

Imported by ``dropout.py``, ``memory.py``, ``optimizer.py`` and ``precision.py`` (run as
scripts from this folder, so a plain ``import training_steps`` finds it).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from nlpplat.config import RunConfig, resolve
from nlpplat.provenance import machine
from nlpplat.training import Trainer, default_registry


@contextmanager
def built_trainer(task: str, backbone: str, dataset: str = "") -> Iterator[Trainer]:
    """A ``Trainer`` with its model built (default settings, vocabularies fitted on train),
    writing into a temporary run directory that is removed afterwards."""
    registry = default_registry()
    with tempfile.TemporaryDirectory() as run_dir:
        config: RunConfig = resolve(
            registry, [{"run": {"task": task, "backbone": backbone, "dataset": dataset, "output": run_dir}}]
        )
        trainer = Trainer(config, registry, Console(stderr=True, quiet=True))
        trainer.build(fresh=True)
        yield trainer


def first_batches(trainer: Trainer, count: int) -> list[list[Any]]:
    """The first ``count`` training batches of epoch 0, as lists of examples for ``_step``."""
    examples = trainer.splits["train"]
    return [[examples[i] for i in batch] for batch in trainer.epoch_batches(0)[:count]]


def phase_medians(
    trainer: Trainer,
    batches: Sequence[list[Any]],
    phases: Sequence[tuple[str, Callable[[], None]]],
    warm_up: int,
) -> dict[str, float]:
    """Median seconds per training step of each mode named in ``phases``.

    The phases run in order: each calls its ``prepare`` (switching the mode on), then steps
    through every batch, timing all but the first ``warm_up``. A mode named by several
    phases pools their times, so alternating phases (A, B, A, B) cancel slow drifts.
    """
    times: dict[str, list[float]] = {}
    for mode, prepare in phases:
        prepare()
        for index, batch in enumerate(batches):
            start = time.perf_counter()
            trainer._step(batch)
            if index >= warm_up:
                times.setdefault(mode, []).append(time.perf_counter() - start)
    return {mode: statistics.median(values) for mode, values in times.items()}


def add_run_option(parser: argparse.ArgumentParser, defaults: Sequence[str]) -> None:
    """``--run TASK:BACKBONE[:DATASET]``, repeatable; read back with :func:`runs`."""
    parser.add_argument(
        "--run", action="append", metavar="TASK:BACKBONE[:DATASET]", help=f"repeatable; default: {defaults}"
    )


def runs(specs: Sequence[str] | None, defaults: Sequence[str]) -> list[tuple[str, str, str]]:
    """(task, backbone, dataset) of each ``--run`` spec, or of ``defaults`` when none was given;
    an empty dataset means the task's first one that is present."""
    return [tuple([*spec.split(":"), ""][:3]) for spec in specs or defaults]  # type: ignore[misc]


def steps_table(what: str, columns: Sequence[str], threads: int) -> Table:
    """A results table titled with ``what`` and the machine, torch version and thread count;
    the ``task`` and ``backbone`` columns come first, the numeric ``columns`` right-aligned."""
    host = machine()
    table = Table(
        title=f"training step, {what} · {host['cpu']} ({host['cpu_capability']}) · "
        f"torch {torch.__version__} · {threads} threads"
    )
    table.add_column("task")
    table.add_column("backbone")
    for column in columns:
        table.add_column(column, justify="right")
    return table
