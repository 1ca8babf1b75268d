"""Training steps with freed memory kept in the process against glibc's default.

``nlpplat.memory.keep_freed_memory`` (called by every training and evaluation process) stops
glibc from handing large freed blocks back to the kernel, so a step's big tensors (logits,
their gradients, activations) land on pages the previous step already touched instead of
faulting in new ones. This script shows what that buys on the real models: for each task
and backbone it builds the model exactly as ``nlpplat run`` does and times full training
steps (``Trainer._step``: collate, forward, loss, backward, clipping, AdamW) on the epoch's
first batches, in four phases on the same batches: glibc's default, kept, default, kept.
Before a default phase the heap's free pages go back to the kernel (``malloc_trim``) and
glibc's thresholds are restored; every phase starts with two untimed steps, so that glibc's
own adjustment of its thresholds has settled. Reported: the median seconds per step of each
mode and their ratio.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/memory.py
    python benchmarks/memory.py --run ner:lstm --run translation:transformer --steps 6
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence

import torch
from rich.console import Console
from rich.table import Table

from nlpplat.config import resolve
from nlpplat.memory import keep_freed_memory, return_freed_memory
from nlpplat.provenance import machine
from nlpplat.training import Trainer, default_registry

DEFAULT_RUNS = ("ner:lstm", "ner:transformer", "srl:lstm", "translation:transformer", "translation:lstm")
WARM_UP = 2  # untimed steps at the start of each phase


def measure(task: str, backbone: str, dataset: str, steps: int) -> dict[str, float]:
    """Median seconds per training step in each mode, on the same batches."""
    registry = default_registry()
    with tempfile.TemporaryDirectory() as run_dir:
        run = {"task": task, "backbone": backbone, "dataset": dataset, "output": run_dir}
        trainer = Trainer(resolve(registry, [{"run": run}]), registry, Console(stderr=True, quiet=True))
        trainer.build(fresh=True)
        examples = trainer.splits["train"]
        batches = [[examples[i] for i in batch] for batch in trainer.epoch_batches(0)[: steps + WARM_UP]]
        times: dict[str, list[float]] = {"default": [], "kept": []}
        for mode in ("default", "kept", "default", "kept"):
            if mode == "default":
                return_freed_memory()
            else:
                keep_freed_memory()
            for index, batch in enumerate(batches):
                start = time.perf_counter()
                trainer._step(batch)
                if index >= WARM_UP:
                    times[mode].append(time.perf_counter() - start)
        keep_freed_memory()
        return {mode: statistics.median(values) for mode, values in times.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run",
        action="append",
        metavar="TASK:BACKBONE[:DATASET]",
        help=f"repeatable; default: {DEFAULT_RUNS}",
    )
    parser.add_argument("--steps", type=int, default=6, help="timed batches per phase (four phases)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    host = machine()
    table = Table(
        title=f"training step, freed memory kept against glibc's default · {host['cpu']} "
        f"({host['cpu_capability']}) · torch {torch.__version__} · {args.threads} threads"
    )
    for column in ("task", "backbone", "default s/step", "kept s/step", "default / kept"):
        table.add_column(column, justify="left" if column in ("task", "backbone") else "right")
    for spec in args.run or DEFAULT_RUNS:
        task, backbone, dataset = [*spec.split(":"), ""][:3]
        result = measure(task, backbone, dataset, args.steps)
        table.add_row(
            task,
            backbone,
            f"{result['default']:.3f}",
            f"{result['kept']:.3f}",
            f"{result['default'] / result['kept']:.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
