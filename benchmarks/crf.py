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
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
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


def main(argv: Sequence[str] | None = None) -> None:
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
