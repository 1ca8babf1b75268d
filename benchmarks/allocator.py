"""Training throughput under glibc's allocator and tcmalloc, with batches padded or not.

Two things decide how much a bf16 step on a CPU spends outside its arithmetic: the C
allocator that serves the step's thousands of allocations (``nlpplat.allocator``), and
how many batch shapes an epoch has, since oneDNN compiles a kernel for every new shape
(``train.pad_multiple``; ``nlpplat.model.Collator``). Neither can be switched back and forth
inside one process: the allocator is loaded before anything else (``LD_PRELOAD``), and
the kernels a setting compiled would serve the other. So every setting runs in a child
process of its own, the settings alternating for ``--rounds``. A child builds the model as
``nlpplat run`` does and steps once through the first ``--steps`` batches of the first
epoch, as an epoch meets them. Padding changes which examples share a batch, so the
settings are compared by real output tokens per second (the last side of each example's
length: response pieces for dialogue, tokens for one-sided tasks), not by seconds per step.
Reported per setting: tokens per second, the mean step of the first and the last fifth of
the pass (a step that slows as the pass goes on shows here), the peak memory, and the
throughput's ratio to the first setting.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/allocator.py --run dialogue:transformer --precision bf16
    python benchmarks/allocator.py --setting system:1 --setting tcmalloc:1 --steps 100
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

import torch
from rich.console import Console
from training_steps import add_run_option, built_trainer, runs, steps_table

from nlpplat import allocator
from nlpplat.batching import sides

DEFAULT_RUNS = ("dialogue:transformer",)
DEFAULT_SETTINGS = ("system:1", "tcmalloc:1", "system:8", "tcmalloc:8")


def one_pass(
    task: str, backbone: str, dataset: str, steps: int, precision: str, threads: int, multiple: int
) -> dict[str, float]:
    """Step once through the first ``steps`` batches; throughput and step times."""
    torch.set_num_threads(threads)
    settings = {"precision": precision, "threads": threads, "pad_multiple": multiple}
    with built_trainer(task, backbone, dataset, settings) as trainer:
        examples = trainer.splits["train"]
        batches = [[examples[i] for i in batch] for batch in trainer.epoch_batches(0)[:steps]]
        tokens = sum(sides(trainer.task.length(example))[-1] for batch in batches for example in batch)
        start = time.perf_counter()
        times = [trainer._step(batch)[2] for batch in batches]
        seconds = time.perf_counter() - start
    fifth = max(1, len(times) // 5)
    return {
        "tokens_per_second": tokens / seconds,
        "first_fifth": statistics.mean(times[:fifth]),
        "last_fifth": statistics.mean(times[-fifth:]),
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,  # KiB -> GiB
        "allocator": allocator.loaded(),
    }


def in_child(spec: tuple[str, str, str], setting: str, args: argparse.Namespace) -> dict[str, float]:
    """:func:`one_pass` in a fresh process under ``setting`` (ALLOCATOR:MULTIPLE)."""
    name, multiple = setting.split(":")
    environment = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}
    if name != "system":
        library = allocator.find(name)
        if library is None:
            raise SystemExit(
                f"lib{name} is not installed (Debian/Ubuntu: apt-get install libtcmalloc-minimal4)"
            )
        environment["LD_PRELOAD"] = str(library)
    command = [sys.executable, __file__, "--child", ":".join(spec), "--steps", str(args.steps)]
    command += ["--precision", args.precision, "--threads", str(args.threads), "--multiple", multiple]
    # The child's stderr passes through: a failure shows its own message.
    output = subprocess.run(command, env=environment, check=True, stdout=subprocess.PIPE, text=True).stdout
    result = json.loads(output.splitlines()[-1])
    if result["allocator"] != name:  # the preload did not take: the figures would be mislabelled
        raise SystemExit(f"the child ran with {result['allocator']}, not {name}")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_option(parser, DEFAULT_RUNS)
    parser.add_argument(
        "--setting",
        action="append",
        metavar="ALLOCATOR:MULTIPLE",
        help=f"allocator (system, tcmalloc, jemalloc) and train.pad_multiple; the first is the reference; "
        f"default: {DEFAULT_SETTINGS}",
    )
    parser.add_argument("--steps", type=int, default=300, help="batches stepped once per setting")
    parser.add_argument("--rounds", type=int, default=1, help="alternations of the settings")
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--multiple", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        task, backbone, dataset = runs([args.child], ())[0]
        result = one_pass(task, backbone, dataset, args.steps, args.precision, args.threads, args.multiple)
        print(json.dumps(result))
        return
    settings = args.setting or list(DEFAULT_SETTINGS)
    columns = ["setting", "tokens/s", "ratio", "first fifth s/step", "last fifth s/step", "peak GiB"]
    table = steps_table(f"{args.precision}, one pass over {args.steps} batches", columns, args.threads)
    for spec in runs(args.run, DEFAULT_RUNS):
        results: dict[str, list[dict[str, float]]] = {setting: [] for setting in settings}
        for _ in range(args.rounds):
            for setting, measured in results.items():
                measured.append(in_child(spec, setting, args))
        reference = statistics.median(result["tokens_per_second"] for result in results[settings[0]])
        for setting, measured in results.items():
            speed = statistics.median(result["tokens_per_second"] for result in measured)
            table.add_row(
                spec[0],
                spec[1],
                setting,
                f"{speed:,.0f}",
                f"{speed / reference:.2f}",
                f"{statistics.median(result['first_fifth'] for result in measured):.3f}",
                f"{statistics.median(result['last_fifth'] for result in measured):.3f}",
                f"{max(result['peak_gib'] for result in measured):.1f}",
            )
    Console().print(table)


if __name__ == "__main__":
    main()
