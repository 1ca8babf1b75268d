"""Training throughput at several batch sizes, as a ratio to the first.

A larger batch does more work per step at the same number of Python and kernel launches, so
on a CPU a step of a small model often costs far less than twice as much when the batch
doubles; what matters for a run with a time budget is the training tokens per second (and,
separately, whether the fewer, larger updates learn as much, which only a run can say).
For each task and backbone the model is built once per batch size exactly as ``nlpplat run``
builds it (``train.batch_size``, all else default), and each is stepped on its epoch's
first batches (``Trainer._step``) in two alternating rounds, so that slow drifts of the
machine fall on every size alike. Reported: real input tokens per second of each size over
its timed steps, and the ratio to the first size.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/batch_size.py --run srl:lstm --sizes 32,64
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import ExitStack

import torch
from rich.console import Console
from training_steps import WARM_UP, add_run_option, built_trainer, first_batches, runs, steps_table

DEFAULT_RUNS = ("srl:lstm",)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_option(parser, DEFAULT_RUNS)
    parser.add_argument(
        "--sizes", default="32,64", help="comma-separated batch sizes; the first is the reference"
    )
    parser.add_argument("--steps", type=int, default=8, help="timed batches per size and round (two rounds)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = [int(size) for size in args.sizes.split(",")]
    columns = [f"{size} tok/s" for size in sizes] + [f"{size} / {sizes[0]}" for size in sizes[1:]]
    table = steps_table("throughput by batch size", columns, args.threads)
    for task, backbone, dataset in runs(args.run, DEFAULT_RUNS):
        with ExitStack() as stack:
            trainers = {
                size: stack.enter_context(built_trainer(task, backbone, dataset, {"batch_size": size}))
                for size in sizes
            }
            batches = {
                size: first_batches(trainer, args.steps + WARM_UP) for size, trainer in trainers.items()
            }
            tokens, seconds = dict.fromkeys(sizes, 0), dict.fromkeys(sizes, 0.0)
            for _ in range(2):
                for size, trainer in trainers.items():
                    for index, batch in enumerate(batches[size]):
                        _, count, took = trainer._step(batch)
                        if index >= WARM_UP:
                            tokens[size] += count
                            seconds[size] += took
        rates = [tokens[size] / seconds[size] for size in sizes]
        table.add_row(
            task, backbone, *(f"{rate:,.0f}" for rate in rates), *(f"{r / rates[0]:.2f}" for r in rates[1:])
        )
    Console().print(table)


if __name__ == "__main__":
    main()
