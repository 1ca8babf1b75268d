"""A compact linear-chain CRF with per-position tag constraints, for argument labelling.

For emission scores ``e`` (B, T, K) the score of a tag sequence ``y`` of length ``n`` is
``first[y_1] + sum_t e_t[y_t] + sum_{t>1} moves[y_(t-1), y_t] + last[y_n]`` and
``p(y | x) = exp(score(y)) / Z(x)`` (Lafferty et al., 2001). ``allowed`` (B, T, K) bool
optionally forbids tags at single positions: a forbidden tag's emission becomes
:data:`BLOCKED`, so it carries no probability in training and Viterbi never picks it.
Semantic role labelling uses it to keep the marked predicate itself out of its own
arguments. Over one-token arguments every IOB2 sequence is well formed, so no transition
needs to be forbidden; the transition scores still learn which roles follow which. The
algorithms are the host's (:mod:`nlpplat.crf`); this module holds the tables and the
per-position constraint.

Shapes: ``B`` rows, ``T`` positions, ``K`` tags; ``mask`` (B, T) bool, real positions
first, at least one per row.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nlpplat import crf

# Finite, so that sums and gradients stay finite; exp(BLOCKED) is exactly 0 in float32.
BLOCKED = -1e4


class CRF(nn.Module):
    """Transition (``moves``), start (``first``) and end (``last``) scores, learned from zero."""

    def __init__(self, num_tags: int):
        super().__init__()
        self.moves = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.first = nn.Parameter(torch.zeros(num_tags))
        self.last = nn.Parameter(torch.zeros(num_tags))

    @staticmethod
    def _emissions(emissions: Tensor, allowed: Tensor | None) -> Tensor:
        emissions = emissions.float()  # so that a blocked score is BLOCKED, also under bf16 autocast
        return emissions if allowed is None else emissions.masked_fill(~allowed, BLOCKED)

    def log_likelihood(
        self, emissions: Tensor, tags: Tensor, mask: Tensor, allowed: Tensor | None = None
    ) -> Tensor:
        """(B,) ``log p(tags | emissions)`` for gold ``tags`` (B, T) long."""
        emissions = self._emissions(emissions, allowed)
        tables = self.moves, self.first, self.last
        score = crf.sequence_scores(emissions, tags, mask, *tables)
        return score - crf.log_partition(emissions, mask, *tables)

    def viterbi(self, emissions: Tensor, mask: Tensor, allowed: Tensor | None = None) -> list[list[int]]:
        """The best tag sequence of each row, as a list of its real length."""
        return crf.viterbi(self._emissions(emissions, allowed), mask, self.moves, self.first, self.last)
