"""Training throughput of N processes with one thread each against one process with N threads.

``--processes N`` (``train.processes``) trains data-parallel: each process steps its own
batch and DDP averages the gradients (``nlpplat.distributed``). On a CPU the alternative
is one process whose matrix products use N threads. Small recurrent steps split poorly
across threads, so processes may win there; large Transformer products split well, and
the gradient all-reduce is pure overhead. This script measures it: for each task and
backbone it builds the model as ``nlpplat run`` does and trains on the same batches of
the first epoch both ways, single first, in ``--rounds`` alternations, each after
untimed warm-up steps. Both see the same timed batches (the multi-process run one per
process and step), so the ratio of their real tokens per second is the speed-up of
``--processes N --set train.threads=1`` over ``--set train.threads=N``.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/processes.py --run srl:lstm --steps 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch
from rich.console import Console
from training_steps import WARM_UP, add_run_option, built_trainer, first_batches, runs, steps_table

from nlpplat import distributed

DEFAULT_RUNS = ("srl:lstm", "ner:lstm", "translation:rnn", "translation:transformer")


def tokens_per_second(
    task: str, backbone: str, dataset: str, steps: int, processes: int, threads: int
) -> float:
    """Real input tokens per second over ``steps`` timed optimizer steps of ``processes`` workers
    (this process alone when it is not a worker), each with ``threads`` threads."""
    group = distributed.current()
    train = {"threads": threads, "processes": group.size}
    with built_trainer(task, backbone, dataset, train) as trainer:
        # The first (WARM_UP + steps) × processes batches, whatever the number of workers:
        # a worker takes every processes-th one, a single process all of them in order.
        batches = first_batches(trainer, (WARM_UP + steps) * processes)
        mine = group.shard(batches) if group.distributed else batches
        warm_up = WARM_UP * len(mine) // (WARM_UP + steps)
        for batch in mine[:warm_up]:
            trainer._step(batch)
        group.any(False)  # start together
        start, tokens = time.perf_counter(), 0
        for batch in mine[warm_up:]:
            tokens += trainer._step(batch)[1]
        _, _, tokens = group.agree(0.0, False, tokens)  # the end of the slowest; tokens summed
        return tokens / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_option(parser, DEFAULT_RUNS)
    parser.add_argument(
        "--steps", type=int, default=20, help="timed optimizer steps of the multi-process run"
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="N: processes, and threads of the single one"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two")
    args = parser.parse_args(argv)
    n = args.processes
    torch.set_num_threads(n)
    table = steps_table(
        f"{n} processes × 1 thread against 1 process × {n} threads",
        (f"1×{n} tok/s", f"{n}×1 tok/s", f"{n}×1 / 1×{n}"),
        n,
    )
    for task, backbone, dataset in runs(args.run, DEFAULT_RUNS):
        single, several = [], []
        for _ in range(args.rounds):
            single.append(tokens_per_second(task, backbone, dataset, args.steps, n, n))
            several.append(
                distributed.launch(tokens_per_second, n, task, backbone, dataset, args.steps, n, 1)
            )
        a, b = statistics.median(single), statistics.median(several)
        table.add_row(task, backbone, f"{a:,.0f}", f"{b:,.0f}", f"{b / a:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
