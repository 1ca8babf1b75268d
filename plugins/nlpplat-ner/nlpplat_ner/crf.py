"""A linear-chain conditional random field over per-token tag scores.

The score of tags ``y`` for a sentence of ``n`` tokens with emission scores ``e`` is
``start[y_1] + sum_t e_t[y_t] + sum_t transitions[y_(t-1), y_t] + end[y_n]``; the model
is ``p(y | x) = exp(score(y)) / Z`` with ``Z`` summed over every tag sequence (Lafferty
et al., 2001; used over BiLSTM states by Lample et al., 2016). Forbidden transitions
(``I-PER`` after ``O`` in BIOES, say) get a large negative score, so training never
spends probability on them and Viterbi never outputs them. ``docs/theory.md`` (Linear-chain CRF)
derives the algorithms below.

All loops run over time only; batch and tags are vectorised. Shapes: ``B`` sentences,
``T`` positions, ``K`` tags. Masks are ``(B, T)`` bool with the real tokens first and
at least one real token per row.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Finite rather than -inf: exp() of it is exactly 0 in float32, yet sums and products
# with 0 stay finite, so gradients never become NaN.
FORBIDDEN = -10_000.0


class CRF(nn.Module):
    """Transition, start and end scores plus the forward and Viterbi algorithms.

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
        transitions, start, end = self.constrained()
        emissions = emissions.float()  # sums over long sentences want float32 even under autocast
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        total = start[tags[:, 0]] + torch.where(mask, emitted, 0.0).sum(dim=1)
        steps = transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1): the step into position t
        total = total + torch.where(mask[:, 1:], steps, 0.0).sum(dim=1)
        last = tags.gather(1, (mask.sum(dim=1) - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return total + end[last]

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """(B,) ``log Z``: log-sum-exp of the scores of all tag sequences (forward algorithm)."""
        transitions, start, end = self.constrained()
        emissions = emissions.float()
        # alpha[b, j]: log-sum-exp of the scores of all prefixes ending in tag j
        alpha = start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.size(1)):
            # (B, K, 1) + (K, K) -> sum out the previous tag (dim 1)
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)  # padding: carry alpha forward
        return torch.logsumexp(alpha + end, dim=1)

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """(B,) ``log p(tags | emissions)``, one value per sentence."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def viterbi(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The highest-scoring tag sequence of each sentence, as lists of its real length."""
        transitions, start, end = self.constrained()
        emissions = emissions.float()
        identity = torch.arange(self.num_tags, device=emissions.device).expand(emissions.size(0), -1)
        best = start + emissions[:, 0]  # (B, K): best prefix score ending in each tag
        pointers = []  # per step t >= 1: (B, K) best previous tag for each tag
        for t in range(1, emissions.size(1)):
            step, previous = (best.unsqueeze(2) + transitions).max(dim=1)
            real = mask[:, t, None]
            best = torch.where(real, step + emissions[:, t], best)
            # At padding, point every tag at itself, so that backtracking from the last
            # position walks unchanged through the padding to the last real token.
            pointers.append(torch.where(real, previous, identity))
        tag = (best + end).argmax(dim=1)  # (B,)
        path = [tag]
        for previous in reversed(pointers):
            tag = previous.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        tags = torch.stack(path[::-1], dim=1)  # (B, T)
        return [row[:length].tolist() for row, length in zip(tags, mask.sum(dim=1).tolist(), strict=True)]
