"""Training steps of a trained run with subnormal floats flushed to zero, against without.

A long run fills AdamW's moments with subnormal floats (the moments of embedding rows that
get no gradient decay towards zero), and x86 CPUs compute with those far more slowly
(``nlpplat.subnormals``). This script takes a run directory with its ``state.pt`` (a
finished or interrupted run) and times training steps on the first ``--steps`` batches of
its first epoch twice: with the model and optimizer freshly built, then with the run's
trained weights and optimizer state loaded. The setting holds for the threads a thread
starts, and torch starts its pool once per process, so each setting runs in a child process
of its own (the two alternating for ``--rounds``): flushed, as ``nlpplat run`` trains, and
not. Reported: the median seconds per step of each, and the share of subnormal entries in
the trained optimizer state.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/subnormals.py runs/srl-rnn-up-en-ewt-…/
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console
from training_steps import WARM_UP, first_batches, steps_table

import nlpplat.training
from nlpplat.runs import STATE, load_config
from nlpplat.training import Trainer, default_registry

MODES = ("kept", "flushed")


def subnormal_share(tensors: list[torch.Tensor]) -> float:
    """Share of the entries of ``tensors`` that are subnormal (nonzero, below float32's smallest normal)."""
    tiny = torch.finfo(torch.float32).tiny
    total = sum(tensor.numel() for tensor in tensors)
    count = sum(int(((tensor != 0) & (tensor.abs() < tiny)).sum()) for tensor in tensors)
    return count / max(total, 1)


def timed_steps(trainer: Trainer, batches: list[list]) -> float:
    """Median seconds per step over ``batches`` after ``WARM_UP`` untimed ones."""
    for batch in batches[:WARM_UP]:
        trainer._step(batch)
    return statistics.median(trainer._step(batch)[2] for batch in batches[WARM_UP:])


def child(run_dir: Path, mode: str, steps: int, threads: int) -> dict[str, float]:
    """Seconds per step of the fresh and of the trained model, in a process set to ``mode``."""
    if mode == "kept":  # the Trainer flushes first thing; this child must not
        nlpplat.training.flush_subnormals = lambda: False
    registry = default_registry()
    config = load_config(run_dir, registry)
    config.train.threads = threads
    trainer = Trainer(config, registry, Console(stderr=True, quiet=True), run_dir=run_dir)
    trainer.build(fresh=False)
    batches = first_batches(trainer, steps + WARM_UP)
    fresh = timed_steps(trainer, batches)
    trainer.load_state()
    moments = [value for state in trainer.optimizer.state.values() for value in state.values() if value.dim()]
    share = subnormal_share(moments)
    return {"fresh": fresh, "trained": timed_steps(trainer, batches), "subnormal": share}


def in_child(run_dir: Path, mode: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, str(run_dir), "--child", mode]
    command += ["--steps", str(args.steps), "--threads", str(args.threads)]
    # The child's stderr passes through: a failure shows its own message.
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run directory with its state.pt")
    parser.add_argument("--steps", type=int, default=30, help="timed batches per model")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two settings")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not (args.run_dir / STATE).is_file():
        raise SystemExit(f"{args.run_dir}: no {STATE}; give a run directory whose training has begun")
    if args.child:
        print(json.dumps(child(args.run_dir, args.child, args.steps, args.threads)))
        return
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode, measured in results.items():
            measured.append(in_child(args.run_dir, mode, args))
    config = load_config(args.run_dir, default_registry())
    columns = [f"{mode}: {model} s/step" for mode in MODES for model in ("fresh", "trained")]
    table = steps_table(
        f"subnormals kept against flushed, {args.steps} batches",
        [*columns, "trained: kept / flushed"],
        args.threads,
    )
    medians = {
        (mode, model): statistics.median(result[model] for result in results[mode])
        for mode in MODES
        for model in ("fresh", "trained")
    }
    table.add_row(
        config.run.task,
        config.run.backbone,
        *(f"{medians[key]:.4f}" for key in medians),
        f"{medians['kept', 'trained'] / medians['flushed', 'trained']:.2f}",
    )
    Console().print(table)
    share = statistics.median(result["subnormal"] for result in results["kept"])
    Console().print(f"subnormal entries in the trained optimizer state: {share:.2%}")


if __name__ == "__main__":
    main()
