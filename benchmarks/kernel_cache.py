"""Training steps with oneDNN's primitive cache raised (``nlpplat.kernels``) against its default.

oneDNN reads its cache capacity once per process, so each setting runs in a child process
of its own (``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` set to ours, or to oneDNN's default of
1,024), the two alternating for ``--rounds``. A child builds the model as ``nlpplat run``
does and steps through the first ``--steps`` batches of the first epoch twice: the first
pass meets every batch shape for the first time and compiles its kernels, the second is
timed, as in any later epoch, when the shapes come back. Reported: the median seconds per
step of the second pass in each setting and their ratio (default / ours).

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/kernel_cache.py --run dialogue:transformer --precision bf16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence

import torch
from rich.console import Console
from training_steps import add_run_option, built_trainer, first_batches, runs, steps_table

from nlpplat.kernels import CAPACITY, VARIABLE

DEFAULT_RUNS = ("dialogue:transformer",)
ONEDNN_DEFAULT = 1024


def second_pass(task: str, backbone: str, dataset: str, steps: int, precision: str, threads: int) -> float:
    """Median seconds per step over the second pass of the first ``steps`` batches."""
    torch.set_num_threads(threads)
    with built_trainer(task, backbone, dataset, {"precision": precision, "threads": threads}) as trainer:
        batches = first_batches(trainer, steps)
        for batch in batches:  # every shape once: its kernels compiled
            trainer._step(batch)
        return statistics.median(trainer._step(batch)[2] for batch in batches)


def in_child(spec: tuple[str, str, str], capacity: int, args: argparse.Namespace) -> float:
    """:func:`second_pass` in a fresh process whose oneDNN cache holds ``capacity`` kernels."""
    command = [sys.executable, __file__, "--child", ":".join(spec), "--steps", str(args.steps)]
    command += ["--precision", args.precision, "--threads", str(args.threads)]
    environment = {**os.environ, VARIABLE: str(capacity)}
    output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout
    return float(json.loads(output.splitlines()[-1])["seconds_per_step"])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_option(parser, DEFAULT_RUNS)
    parser.add_argument("--steps", type=int, default=150, help="batches per pass (two passes)")
    parser.add_argument("--rounds", type=int, default=1, help="alternations of the two settings")
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        task, backbone, dataset = runs([args.child], ())[0]
        seconds = second_pass(task, backbone, dataset, args.steps, args.precision, args.threads)
        print(json.dumps({"seconds_per_step": seconds}))
        return
    table = steps_table(
        f"{args.precision}, second pass over {args.steps} batches",
        (f"cache {ONEDNN_DEFAULT} s/step", f"cache {CAPACITY} s/step", "ratio"),
        args.threads,
    )
    for spec in runs(args.run, DEFAULT_RUNS):
        times: dict[int, list[float]] = {ONEDNN_DEFAULT: [], CAPACITY: []}
        for _ in range(args.rounds):
            for capacity in times:
                times[capacity].append(in_child(spec, capacity, args))
        default, ours = (statistics.median(times[capacity]) for capacity in (ONEDNN_DEFAULT, CAPACITY))
        table.add_row(spec[0], spec[1], f"{default:.3f}", f"{ours:.3f}", f"{default / ours:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
