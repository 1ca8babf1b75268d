"""A compact linear-chain CRF with per-position tag constraints, for argument labelling.

For emission scores ``e`` (B, T, K) the score of a tag sequence ``y`` of length ``n`` is
``first[y_1] + sum_t e_t[y_t] + sum_{t>1} moves[y_(t-1), y_t] + last[y_n]`` and
``p(y | x) = exp(score(y)) / Z(x)`` (Lafferty et al., 2001). ``allowed`` (B, T, K) bool
optionally forbids tags at single positions: a forbidden tag's emission becomes
:data:`BLOCKED`, so it carries no probability in training and Viterbi never picks it.
Semantic role labelling uses it to keep the marked predicate itself out of its own
arguments. Over one-token arguments every IOB2 sequence is well formed, so no transition
needs to be forbidden; the transition scores still learn which roles follow which.

Shapes: ``B`` rows, ``T`` positions, ``K`` tags; ``mask`` (B, T) bool, real positions
first, at least one per row.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

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
        emissions = emissions.float()  # long sums want float32, also under bf16 autocast
        return emissions if allowed is None else emissions.masked_fill(~allowed, BLOCKED)

    def log_likelihood(
        self, emissions: Tensor, tags: Tensor, mask: Tensor, allowed: Tensor | None = None
    ) -> Tensor:
        """(B,) ``log p(tags | emissions)`` for gold ``tags`` (B, T) long."""
        emissions = self._emissions(emissions, allowed)
        lengths = mask.sum(dim=1)
        # Score of the gold path: emissions at real positions, the moves between them.
        path = emissions.gather(2, tags.unsqueeze(2)).squeeze(2).masked_fill(~mask, 0.0).sum(dim=1)
        steps = self.moves[tags[:, :-1], tags[:, 1:]].masked_fill(~mask[:, 1:], 0.0).sum(dim=1)
        final = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        score = self.first[tags[:, 0]] + path + steps + self.last[final]
        # log Z by the forward algorithm; alpha (B, K) sums all prefixes ending in each tag.
        alpha = self.first + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.moves, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], step, alpha)  # past a row's end: unchanged
        return score - torch.logsumexp(alpha + self.last, dim=1)

    @torch.no_grad()
    def viterbi(self, emissions: Tensor, mask: Tensor, allowed: Tensor | None = None) -> list[list[int]]:
        """The best tag sequence of each row, as a list of its real length."""
        emissions = self._emissions(emissions, allowed)
        rows, length, tags = emissions.shape
        stay = torch.arange(tags, device=emissions.device).expand(rows, tags)
        best = self.first + emissions[:, 0]  # (B, K): best prefix score ending in each tag
        backpointers = []  # per t >= 1: (B, K) the best previous tag
        for t in range(1, length):
            step, previous = (best.unsqueeze(2) + self.moves).max(dim=1)
            real = mask[:, t : t + 1]
            best = torch.where(real, step + emissions[:, t], best)
            # Past a row's end every tag points to itself, so the backtrack below carries the
            # row's final tag unchanged through the padding to its last real position.
            backpointers.append(torch.where(real, previous, stay))
        tag = (best + self.last).argmax(dim=1)  # (B,)
        path = [tag]
        for previous in reversed(backpointers):
            tag = previous.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        table = torch.stack(path[::-1], dim=1).tolist()  # (B, T)
        return [row[:n] for row, n in zip(table, mask.sum(dim=1).tolist(), strict=True)]
