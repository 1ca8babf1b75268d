"""Training steps with ``nlpplat.dropout.Dropout`` against the same steps with ``nn.Dropout``.

Every backbone and head draws its dropout masks through ``nlpplat.dropout`` (four 16-bit
draws per 64-bit random integer) instead of PyTorch's ``bernoulli_`` (one draw per element).
This script shows what that buys on the real models: for each task and backbone it builds
the model exactly as ``nlpplat run`` does (vocabularies fitted on the dataset's train
split) and times full training steps (``Trainer._step``: collate, forward, loss, backward,
clipping, AdamW) on the epoch's first batches. Each batch is stepped twice, once with our
dropout modules and once with every one of them swapped for an ``nn.Dropout`` of the same
probability, in alternating order, so both see the same batches. Reported: the median
seconds per step of each and their ratio.

The Transformer's attention weights are dropped out by a module too, in
``nlpplat_transformer.transformer.attention``, which on a CPU writes the attention formula
out for it. The ``nn.Dropout`` side restores what PyTorch alone does there: it swaps that
function for ``scaled_dot_product_attention`` with its own ``dropout_p``, so the ratio is
that of the whole change, not of the masks alone: under bf16 autocast PyTorch's fallback
also converts the attention to fp32, where the written-out formula runs its products in
bf16. ``--torch-bf16-math`` lets the fallback compute in bf16 too, so that only the masks
differ; ``--attention-only`` swaps that function alone and keeps our modules elsewhere.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/dropout.py
    python benchmarks/dropout.py --run ner:lstm --run translation:transformer --steps 10
    python benchmarks/dropout.py --run dialogue:transformer --precision bf16 --attention-only
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch
from rich.console import Console
from torch import Tensor, nn
from training_steps import add_run_option, built_trainer, first_batches, runs, steps_table

import nlpplat_transformer.transformer as transformer
from nlpplat.dropout import Dropout

OUR_ATTENTION = transformer.attention

DEFAULT_RUNS = (
    "ner:lstm",
    "ner:transformer",
    "srl:lstm",
    "translation:transformer",
    "translation:lstm",
    "dialogue:transformer",
)


def torch_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    allowed: Tensor | None,
    causal: bool,
    weight_dropout: Dropout | nn.Dropout,
) -> Tensor:
    """``transformer.attention`` as PyTorch alone computes it: the weights' dropout by
    ``scaled_dot_product_attention`` itself (on a CPU, its reference path with ``bernoulli_``)."""
    p = weight_dropout.p if weight_dropout.training else 0.0
    return transformer.fused_attention(q, k, v, allowed, causal, p)


def use_torch_dropout(model: nn.Module, torch_dropout: bool, attention_only: bool = False) -> None:
    """Swap every ``nlpplat.dropout.Dropout`` of ``model`` for ``nn.Dropout``, and the
    Transformer's attention for PyTorch's own (or back), in place; with ``attention_only``,
    only the attention."""
    transformer.attention = torch_attention if torch_dropout else OUR_ATTENTION
    if attention_only:
        return
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if torch_dropout and isinstance(child, Dropout):
                setattr(parent, name, nn.Dropout(child.p))
            elif not torch_dropout and type(child) is nn.Dropout:
                setattr(parent, name, Dropout(child.p))


def measure(
    task: str, backbone: str, dataset: str, steps: int, precision: str, attention_only: bool
) -> dict[str, float]:
    """Median seconds per training step with each dropout, on the same batches."""
    with built_trainer(task, backbone, dataset, {"precision": precision}) as trainer:
        batches = first_batches(trainer, steps + 2)
        times: dict[str, list[float]] = {"ours": [], "torch": []}
        try:
            for index, batch in enumerate(batches):
                for name in ("ours", "torch") if index % 2 else ("torch", "ours"):
                    use_torch_dropout(trainer.model, name == "torch", attention_only)
                    start = time.perf_counter()
                    trainer._step(batch)
                    if index >= 2:  # the first two batches warm up allocations and kernels
                        times[name].append(time.perf_counter() - start)
        finally:
            transformer.attention = OUR_ATTENTION
        count = sum(isinstance(m, Dropout | nn.Dropout) for m in trainer.model.modules())
        return {name: statistics.median(values) for name, values in times.items()} | {"modules": count}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_option(parser, DEFAULT_RUNS)
    parser.add_argument("--steps", type=int, default=16, help="timed batches, each stepped once per dropout")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="as train.precision")
    parser.add_argument(
        "--attention-only", action="store_true", help="swap only the Transformer's attention; ours elsewhere"
    )
    parser.add_argument(
        "--torch-bf16-math",
        action="store_true",
        help="let PyTorch's attention fallback compute in bf16 rather than fp32 (masks alone differ then)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.backends.cuda.allow_fp16_bf16_reduction_math_sdp(args.torch_bf16_math)  # read by the CPU path too
    table = steps_table(
        f"nlpplat Dropout against nn.Dropout{' in attention only' if args.attention_only else ''}, {args.precision}",
        ("dropout modules", "nn.Dropout s/step", "ours s/step", "nn.Dropout / ours"),
        args.threads,
    )
    for task, backbone, dataset in runs(args.run, DEFAULT_RUNS):
        result = measure(task, backbone, dataset, args.steps, args.precision, args.attention_only)
        table.add_row(
            task,
            backbone,
            str(result["modules"]),
            f"{result['torch']:.3f}",
            f"{result['ours']:.3f}",
            f"{result['torch'] / result['ours']:.2f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
