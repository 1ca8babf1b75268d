"""Training steps in bf16 autocast against fp32, on the real models.

``--set train.precision=bf16`` runs each training step's forward pass under
``torch.autocast(dtype=torch.bfloat16)``: matrix products take bf16 inputs and accumulate
in fp32, while the weights, the optimizer and the loss stay fp32. Where oneDNN has bf16
kernels (AVX512 or AVX-NE-CONVERT; ``nlpplat.provenance.fast_bf16``) a bf16 product can
reach several times fp32's peak; how much of that a whole step keeps depends on the model.
This script measures it: for each task and backbone it builds the model exactly as ``nlpplat run``
does and times full training steps (``Trainer._step``: collate, forward, loss, backward,
clipping, AdamW) on the epoch's first batches, in four phases on the same batches: fp32,
bf16, fp32, bf16, each after two untimed steps. Reported: the median seconds per step of
each precision and their ratio. On a CPU without bf16 kernels it says so and stops, as
``nlpplat run`` refuses bf16 there.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/precision.py
    python benchmarks/precision.py --run translation:transformer --run srl:lstm --steps 6
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial

import torch
from rich.console import Console
from training_steps import add_run_option, built_trainer, first_batches, phase_medians, runs, steps_table

from nlpplat.provenance import fast_bf16

DEFAULT_RUNS = ("translation:transformer", "translation:lstm", "srl:lstm", "dialogue:transformer", "ner:lstm")
PRECISIONS = ("fp32", "bf16")
WARM_UP = 2  # untimed steps at the start of each phase


def measure(task: str, backbone: str, dataset: str, steps: int) -> dict[str, float]:
    """Median seconds per training step in each precision, on the same batches."""
    with built_trainer(task, backbone, dataset) as trainer:
        batches = first_batches(trainer, steps + WARM_UP)
        # _step reads train.precision on every call, so switching it switches the next step
        phases = [
            (precision, partial(setattr, trainer.config.train, "precision", precision))
            for precision in PRECISIONS
        ] * 2
        return phase_medians(trainer, batches, phases, WARM_UP)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_option(parser, DEFAULT_RUNS)
    parser.add_argument("--steps", type=int, default=6, help="timed batches per phase (four phases)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not fast_bf16():
        raise SystemExit(
            "oneDNN has no bf16 kernels for this CPU (it needs AVX512 or AVX-NE-CONVERT): nothing to compare"
        )
    torch.set_num_threads(args.threads)
    table = steps_table(
        "bf16 autocast against fp32", ("fp32 s/step", "bf16 s/step", "fp32 / bf16"), args.threads
    )
    for task, backbone, dataset in runs(args.run, DEFAULT_RUNS):
        result = measure(task, backbone, dataset, args.steps)
        table.add_row(
            task,
            backbone,
            f"{result['fp32']:.3f}",
            f"{result['bf16']:.3f}",
            f"{result['fp32'] / result['bf16']:.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
