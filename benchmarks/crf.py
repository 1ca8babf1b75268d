"""Training steps with the CRF's forward algorithm as a matrix product, against ``logsumexp``.

``nlpplat.crf.log_partition`` computes each step of the forward algorithm as one product of
shifted exponentials, ``(B, K) @ (K, K)``. The textbook form, kept here as the reference,
broadcasts the prefix scores against the transitions into a ``(B, K, K)`` tensor and sums
out the previous tag with ``torch.logsumexp``; both compute the same ``log Z``
(``tests/test_crf.py``). This script builds each task's model exactly as ``nlpplat run``
does and times whole training steps (``Trainer._step``) on the epoch's first batches, in the
phases of ``training_steps.compare_modes`` (reference, product, reference, product).

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/crf.py
    python benchmarks/crf.py --run ner:lstm --steps 20
    python benchmarks/crf.py --alone 9,17,33,59

``--alone`` times only ``log Z``'s forward and backward on random emissions of 32 rows and
30 positions, for each number of tags, without a model: where the product starts to pay.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor
from training_steps import compare_modes

from nlpplat import crf
from nlpplat.training import Trainer

DEFAULT_RUNS = ("srl:lstm", "srl:transformer", "srl:rnn", "ner:lstm")
PRODUCT = crf.log_partition  # the host's


def logsumexp_partition(
    emissions: Tensor, mask: Tensor, transitions: Tensor, start: Tensor, end: Tensor
) -> Tensor:
    """(B,) ``log Z`` by the textbook recursion, ``logsumexp`` over a (B, K, K) tensor per step."""
    emissions = emissions.float()
    alpha = start + emissions[:, 0]
    for t in range(1, emissions.shape[1]):
        step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t, None], step, alpha)
    return torch.logsumexp(alpha + end, dim=1)


def use(trainer: Trainer, mode: str) -> None:
    """Route every CRF's ``log Z`` through one form (the CRFs look it up in ``nlpplat.crf``)."""
    crf.log_partition = logsumexp_partition if mode == "logsumexp" else PRODUCT


def time_alone(tag_counts: Sequence[int], repeats: int = 30) -> None:
    """Median milliseconds of ``log Z`` forward and backward in each form, per number of tags."""
    table = Table(title="the CRF's log Z alone: forward and backward, 32 rows × 30 positions")
    for column in ("tags", "logsumexp ms", "product ms", "logsumexp / product"):
        table.add_column(column, justify="right")
    for tags in tag_counts:
        emissions = torch.randn(32, 30, tags, requires_grad=True)
        transitions = torch.randn(tags, tags, requires_grad=True)
        mask, zeros = torch.ones(32, 30, dtype=torch.bool), torch.zeros(tags)
        times: dict[str, list[float]] = {"logsumexp": [], "product": []}
        for index in range(repeats + 2):
            for name, form in (("logsumexp", logsumexp_partition), ("product", PRODUCT)):
                start = time.perf_counter()
                form(emissions, mask, transitions, zeros, zeros).sum().backward()
                if index >= 2:
                    times[name].append(time.perf_counter() - start)
        a, b = (statistics.median(values) * 1000 for values in times.values())
        table.add_row(str(tags), f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}")
    Console().print(table)


def main(argv: Sequence[str] | None = None) -> None:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--alone"]:
        torch.set_num_threads(2)
        time_alone([int(count) for count in argv[1].split(",")] if len(argv) > 1 else [9, 17, 33, 59])
        return
    compare_modes(
        __doc__.split("\n\n")[0],
        "the CRF's log Z by logsumexp against a matrix product",
        ("logsumexp", "product"),
        use,
        DEFAULT_RUNS,
        argv,
    )


if __name__ == "__main__":
    main()
