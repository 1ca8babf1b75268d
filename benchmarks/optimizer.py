"""The training step's AdamW: the fused implementation against PyTorch's default.

``nlpplat.training.make_optimizer`` asks for ``AdamW(fused=True)`` on CPU and CUDA. This
script shows what that buys on the real models: for each backbone it builds the task's
model exactly as ``nlpplat run`` does (vocabularies fitted on the dataset's train split),
fills every gradient with one real backward pass, and then times ``optimizer.step()`` of
two AdamW optimizers over those parameters, interleaved step by step (which goes first
alternates): PyTorch's default (the multi-tensor ``foreach`` path on CPU) and the fused
one. Both take the same arguments from the run's ``train`` settings. Reported: the median
milliseconds per step of each and their ratio; the same gradients serve every step, so
only the optimizer's own work is timed.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/optimizer.py --task ner
    python benchmarks/optimizer.py --task translation --backbone transformer --steps 50
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch
from rich.console import Console
from rich.table import Table
from training_steps import built_trainer, first_batches

from nlpplat.model import parameter_count
from nlpplat.provenance import machine


def step_times(optimizers: dict[str, torch.optim.Optimizer], steps: int) -> dict[str, float]:
    """Median seconds of ``optimizer.step()`` for each optimizer, interleaved."""
    times: dict[str, list[float]] = {name: [] for name in optimizers}
    names = list(optimizers)
    for step in range(steps + 3):  # the first 3 allocate the optimizer states: not timed
        for name in names if step % 2 else reversed(names):
            start = time.perf_counter()
            optimizers[name].step()
            if step >= 3:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(task: str, backbone: str, dataset: str, steps: int) -> dict[str, float]:
    """Build the model of one run, give it real gradients, time both optimizers."""
    with built_trainer(task, backbone, dataset) as trainer:
        (batch,) = first_batches(trainer, 1)
        trainer._step(batch)  # real gradients on every parameter that the task uses
        train = trainer.config.train
        arguments = {"lr": train.lr, "betas": train.betas, "weight_decay": train.weight_decay}
        parameters = list(trainer.model.parameters())
        optimizers = {
            "default": torch.optim.AdamW(parameters, **arguments),
            "fused": torch.optim.AdamW(parameters, **arguments, fused=True),
        }
        times = step_times(optimizers, steps)
        return {**times, "parameters": parameter_count(trainer.model)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="ner")
    parser.add_argument("--backbone", action="append", help="repeatable; default: rnn, lstm, transformer")
    parser.add_argument("--dataset", default="", help="default: the task's first dataset that is present")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per optimizer")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    console = Console()
    host = machine()
    table = Table(
        title=f"AdamW step · task {args.task} · {host['cpu']} ({host['cpu_capability']}) · "
        f"torch {torch.__version__} · {args.threads} threads"
    )
    for column in ("backbone", "parameters", "default ms", "fused ms", "default / fused"):
        table.add_column(column, justify="left" if column == "backbone" else "right")
    for backbone in args.backbone or ["rnn", "lstm", "transformer"]:
        result = measure(args.task, backbone, args.dataset, args.steps)
        table.add_row(
            backbone,
            f"{result['parameters']:,}",
            f"{result['default'] * 1e3:.2f}",
            f"{result['fused'] * 1e3:.2f}",
            f"{result['default'] / result['fused']:.2f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
