"""A linear-chain conditional random field over per-token tag scores.

The score of tags ``y`` for a sentence of ``n`` tokens with emission scores ``e`` is
``start[y_1] + sum_t e_t[y_t] + sum_t transitions[y_(t-1), y_t] + end[y_n]``; the model
is ``p(y | x) = exp(score(y)) / Z`` with ``Z`` summed over every tag sequence (Lafferty
et al., 2001; used over BiLSTM states by Lample et al., 2016). Forbidden transitions
(``I-PER`` after ``O`` in BIOES, say) get a large negative score, so training never
spends probability on them and Viterbi never outputs them. This module holds the learned
tables and the constraints; the algorithms are the host's (:mod:`nlpplat.crf`, derived in
``docs/theory.md``, Linear-chain CRF).

Shapes: ``B`` sentences, ``T`` positions, ``K`` tags. Masks are ``(B, T)`` bool with the
real tokens first and at least one real token per row.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nlpplat import crf

# Finite rather than -inf: exp() of it is exactly 0 in float32, yet sums and products
# with 0 stay finite, so gradients never become NaN.
FORBIDDEN = -10_000.0


class CRF(nn.Module):
    """Transition, start and end scores, their constraints, and the CRF's algorithms over them.

    allowed: (K, K) bool, ``allowed[i, j]``: tag ``j`` may follow tag ``i``
    start:   (K,) bool, tags a sentence may begin with
    end:     (K,) bool, tags a sentence may end with
    Each defaults to all True (no constraints).
    """

    def __init__(
        self,
        num_tags: int,
        allowed: Tensor | None = None,
        start: Tensor | None = None,
        end: Tensor | None = None,
    ):
        super().__init__()
        self.num_tags = num_tags
        # Zero scores make the untrained CRF a per-token softmax (over allowed paths).
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [previous, next]
        self.start_scores = nn.Parameter(torch.zeros(num_tags))
        self.end_scores = nn.Parameter(torch.zeros(num_tags))
        free = torch.ones(num_tags, num_tags, dtype=torch.bool)
        # Not persistent: the constraints follow from the label vocabulary, which is
        # saved separately, so checkpoints hold learnt tensors only.
        self.register_buffer("allowed", free if allowed is None else allowed.bool(), persistent=False)
        self.register_buffer("start_allowed", free[0] if start is None else start.bool(), persistent=False)
        self.register_buffer("end_allowed", free[0] if end is None else end.bool(), persistent=False)

    def constrained(self) -> tuple[Tensor, Tensor, Tensor]:
        """The transition (K, K), start (K,) and end (K,) scores with forbidden ones replaced."""
        return (
            self.transitions.masked_fill(~self.allowed, FORBIDDEN),
            self.start_scores.masked_fill(~self.start_allowed, FORBIDDEN),
            self.end_scores.masked_fill(~self.end_allowed, FORBIDDEN),
        )

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """(B,) score of the tag sequences ``tags`` (B, T) under ``emissions`` (B, T, K)."""
        return crf.sequence_scores(emissions, tags, mask, *self.constrained())

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """(B,) ``log Z``: log-sum-exp of the scores of all tag sequences (forward algorithm)."""
        return crf.log_partition(emissions, mask, *self.constrained())

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """(B,) ``log p(tags | emissions)``, one value per sentence."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def viterbi(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The highest-scoring tag sequence of each sentence, as lists of its real length."""
        return crf.viterbi(emissions, mask, *self.constrained())
