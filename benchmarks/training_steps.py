"""What the training-step benchmarks share: a model built as ``nlpplat run`` builds it, the
first batches of its first epoch, and (``compare_modes``) a whole A/B benchmark of steps.

Imported by ``dropout.py``, ``kernel_cache.py``, ``memory.py``, ``optimizer.py``,
``precision.py`` and ``processes.py`` (run as scripts from this folder, so a plain
``import training_steps`` finds it).
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
def built_trainer(
    task: str, backbone: str, dataset: str = "", train: dict[str, Any] | None = None
) -> Iterator[Trainer]:
    """A ``Trainer`` with its model built (default settings, or ``train``'s; vocabularies
    fitted on train), writing into a temporary run directory that is removed afterwards."""
    registry = default_registry()
    with tempfile.TemporaryDirectory() as run_dir:
        config: RunConfig = resolve(
            registry,
            [
                {
                    "run": {"task": task, "backbone": backbone, "dataset": dataset, "output": run_dir},
                    "train": train or {},
                }
            ],
        )
        trainer = Trainer(config, registry, Console(stderr=True, quiet=True))
        trainer.build(fresh=True)
        yield trainer


def first_batches(trainer: Trainer, count: int) -> list[list[Any]]:
    """The first ``count`` training batches of epoch 0, as lists of examples for ``_step``."""
    examples = trainer.splits["train"]
    return [[examples[i] for i in batch] for batch in trainer.epoch_batches(0)[:count]]


WARM_UP = 2  # untimed steps at the start of each phase of compare_modes


def compare_modes(
    description: str,
    what: str,
    modes: tuple[str, str],
    switch: Callable[[Trainer, str], None],
    defaults: Sequence[str],
    argv: Sequence[str] | None = None,
) -> None:
    """The command line of an A/B benchmark of whole training steps: ``--run`` specs,
    ``--steps``, ``--threads``; prints a table of the two modes' seconds per step and their
    ratio (first / second).

    For each run the model is built as ``nlpplat run`` builds it and the epoch's first
    batches are stepped (``Trainer._step``) in four phases on the same batches, A, B, A, B,
    so that slow drifts of the machine cancel. ``switch(trainer, mode)`` turns a mode on
    before its phase; each phase starts with ``WARM_UP`` untimed steps, and each mode
    reports the median of its timed steps. The last phase is the second mode's.
    """
    parser = argparse.ArgumentParser(description=description)
    add_run_option(parser, defaults)
    parser.add_argument("--steps", type=int, default=6, help="timed batches per phase (four phases)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    first, second = modes
    table = steps_table(what, (f"{first} s/step", f"{second} s/step", f"{first} / {second}"), args.threads)
    for task, backbone, dataset in runs(args.run, defaults):
        times: dict[str, list[float]] = {first: [], second: []}
        with built_trainer(task, backbone, dataset) as trainer:
            batches = first_batches(trainer, args.steps + WARM_UP)
            for mode in (first, second, first, second):
                switch(trainer, mode)
                for index, batch in enumerate(batches):
                    start = time.perf_counter()
                    trainer._step(batch)
                    if index >= WARM_UP:
                        times[mode].append(time.perf_counter() - start)
        a, b = (statistics.median(times[mode]) for mode in modes)
        table.add_row(task, backbone, f"{a:.3f}", f"{b:.3f}", f"{a / b:.2f}")
    Console().print(table)


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
