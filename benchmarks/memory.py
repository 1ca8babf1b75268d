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
from collections.abc import Sequence

import torch
from rich.console import Console
from training_steps import add_run_option, built_trainer, first_batches, phase_medians, runs, steps_table

from nlpplat.memory import keep_freed_memory, return_freed_memory

DEFAULT_RUNS = ("ner:lstm", "ner:transformer", "srl:lstm", "translation:transformer", "translation:lstm")
WARM_UP = 2  # untimed steps at the start of each phase


def measure(task: str, backbone: str, dataset: str, steps: int) -> dict[str, float]:
    """Median seconds per training step in each mode, on the same batches."""
    with built_trainer(task, backbone, dataset) as trainer:
        batches = first_batches(trainer, steps + WARM_UP)
        phases = [("default", return_freed_memory), ("kept", keep_freed_memory)] * 2
        return phase_medians(trainer, batches, phases, WARM_UP)  # ends kept, as every process runs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_option(parser, DEFAULT_RUNS)
    parser.add_argument("--steps", type=int, default=6, help="timed batches per phase (four phases)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    table = steps_table(
        "freed memory kept against glibc's default",
        ("default s/step", "kept s/step", "default / kept"),
        args.threads,
    )
    for task, backbone, dataset in runs(args.run, DEFAULT_RUNS):
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
