"""Training steps with oneDNN's kernel cache raised against its default: time and memory.

On a CPU, torch runs bf16 matrix products through oneDNN, which compiles a kernel for each
new combination of shapes and keeps 1,024 of them (its primitive cache). Batch shapes
follow the sentence count and lengths, so an epoch can need more kernels than that, and a
step then compiles again what was evicted. oneDNN reads the capacity
(``ONEDNN_PRIMITIVE_CACHE_CAPACITY``) once per process, so each setting runs in a child
process of its own, the two alternating for ``--rounds``. A child builds the model as
``nlpplat run`` does and steps through the first ``--steps`` batches of the first epoch
twice: the first pass meets every batch shape and compiles its kernels, the second is
timed, as a later epoch would be when the shapes come back. Reported: the median seconds
per step of the second pass, the ratio (default / raised) and each child's peak memory.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/kernel_cache.py --run dialogue:transformer --precision bf16
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from collections.abc import Sequence

import torch
from rich.console import Console
from training_steps import add_run_option, built_trainer, first_batches, runs, steps_table

from nlpplat.provenance import fast_bf16

DEFAULT_RUNS = ("dialogue:transformer",)
VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
ONEDNN_DEFAULT = 1024
RAISED = 16384


def second_pass(task: str, backbone: str, dataset: str, steps: int, precision: str, threads: int) -> float:
    """Median seconds per step over the second pass of the first ``steps`` batches."""
    torch.set_num_threads(threads)
    with built_trainer(task, backbone, dataset, {"precision": precision, "threads": threads}) as trainer:
        batches = first_batches(trainer, steps)
        for batch in batches:  # every shape once: its kernels compiled
            trainer._step(batch)
        return statistics.median(trainer._step(batch)[2] for batch in batches)


def in_child(spec: tuple[str, str, str], capacity: int, args: argparse.Namespace) -> tuple[float, float]:
    """Seconds per step (:func:`second_pass`) and peak GiB of a fresh process whose oneDNN
    cache holds ``capacity`` kernels."""
    command = [sys.executable, __file__, "--child", ":".join(spec), "--steps", str(args.steps)]
    command += ["--precision", args.precision, "--threads", str(args.threads)]
    environment = {**os.environ, VARIABLE: str(capacity)}
    # The child's stderr passes through: a failure shows its own message.
    output = subprocess.run(command, env=environment, check=True, stdout=subprocess.PIPE, text=True).stdout
    result = json.loads(output.splitlines()[-1])
    return float(result["seconds_per_step"]), float(result["peak_gib"])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_option(parser, DEFAULT_RUNS)
    parser.add_argument("--steps", type=int, default=150, help="batches per pass (two passes)")
    parser.add_argument("--rounds", type=int, default=1, help="alternations of the two settings")
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.precision == "bf16" and not fast_bf16():
        raise SystemExit("oneDNN has no bf16 kernels for this CPU (it needs AVX512 or AVX-NE-CONVERT)")
    if args.child:
        task, backbone, dataset = runs([args.child], ())[0]
        seconds = second_pass(task, backbone, dataset, args.steps, args.precision, args.threads)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
        print(json.dumps({"seconds_per_step": seconds, "peak_gib": peak}))
        return
    columns = [f"{capacity} s/step" for capacity in (ONEDNN_DEFAULT, RAISED)]
    columns += ["ratio", *(f"{capacity} peak GiB" for capacity in (ONEDNN_DEFAULT, RAISED))]
    table = steps_table(f"{args.precision}, second pass over {args.steps} batches", columns, args.threads)
    for spec in runs(args.run, DEFAULT_RUNS):
        results: dict[int, list[tuple[float, float]]] = {ONEDNN_DEFAULT: [], RAISED: []}
        for _ in range(args.rounds):
            for capacity, measured in results.items():
                measured.append(in_child(spec, capacity, args))
        default, raised = (
            statistics.median(time for time, _ in results[c]) for c in (ONEDNN_DEFAULT, RAISED)
        )
        peaks = (max(peak for _, peak in results[c]) for c in (ONEDNN_DEFAULT, RAISED))
        table.add_row(
            spec[0],
            spec[1],
            f"{default:.3f}",
            f"{raised:.3f}",
            f"{default / raised:.2f}",
            *map("{:.1f}".format, peaks),
        )
    Console().print(table)


if __name__ == "__main__":
    main()
