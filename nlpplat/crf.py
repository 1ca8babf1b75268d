"""The dynamic programmes of a linear-chain CRF, shared by every tagging head.

A tag sequence ``y`` of ``n`` real positions scores
``start[y_1] + sum_t emissions[t, y_t] + sum_{t>1} transitions[y_(t-1), y_t] + end[y_n]``,
and ``p(y | x) = exp(score(y)) / Z(x)`` (Lafferty et al., 2001). The heads own the learned
tables and whatever constraints they put on them (``ner`` forbids transitions, ``srl``
forbids tags at single positions); these functions only compute with them.
``docs/theory.md`` (Linear-chain CRF) derives the algorithms.

Shapes: ``B`` rows, ``T`` positions, ``K`` tags. ``emissions`` (B, T, K); ``transitions``
(K, K), ``[previous, next]``; ``start`` and ``end`` (K,); ``mask`` (B, T) bool, the real
positions first and at least one per row. Loops run over positions only; rows and tags are
vectorised. Emissions are summed in float32, also under bf16 autocast.
"""

from __future__ import annotations

import torch
from torch import Tensor

# The smallest normal float32, below which a sum of shifted probabilities is clamped.
_TINY = torch.finfo(torch.float32).tiny
# A sum of at least this is exact to float32 resolution (2^-24, about 6e-8) for up to
# thousands of tags: each term that float32 holds only as a subnormal or a 0, below about
# 1.2e-38, is at most 1.2e-11 of it.
_RESOLVED = 1e-27


def sequence_scores(
    emissions: Tensor, tags: Tensor, mask: Tensor, transitions: Tensor, start: Tensor, end: Tensor
) -> Tensor:
    """(B,) score of each row's tag sequence ``tags`` (B, T) long; padding adds nothing."""
    emissions = emissions.float()
    emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
    steps = transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1): the step into position t
    last = tags.gather(1, (mask.sum(dim=1) - 1).unsqueeze(1)).squeeze(1)  # (B,) the last real tag
    return (
        start[tags[:, 0]]
        + torch.where(mask, emitted, 0.0).sum(dim=1)
        + torch.where(mask[:, 1:], steps, 0.0).sum(dim=1)
        + end[last]
    )


def log_partition(emissions: Tensor, mask: Tensor, transitions: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """(B,) ``log Z``: the log-sum-exp of the scores of every tag sequence (forward algorithm).

    ``alpha`` (B, K) holds, per tag, the log-sum-exp of the scores of every prefix that ends
    in it. One step, ``alpha'[j] = e[j] + log sum_i exp(alpha[i] + A[i, j])``, is computed as
    a matrix product of exponentials shifted by the row's best prefix ``m`` and the column's
    best transition ``c[j]``: ``e[j] + m + c[j] + log (exp(alpha - m) @ exp(A - c))[j]``.
    Every exponent is at most 0, so nothing overflows, and the product does in one call what
    ``logsumexp`` over a (B, K, K) tensor does in several (``benchmarks/crf.py``).

    The product can lose a tag whose every way in is far below the row's best prefix (a
    forbidden transition from the best tag, weak prefixes from the others): its sum then
    falls below ``1e-27``, where the terms float32 holds only as subnormals or zeros may
    matter, and a later emission may lift that tag back. Such sums, at real positions, are
    recomputed by ``logsumexp``, so the result is the textbook recursion's to float32
    resolution (``tests/test_crf.py``). That needs one check per position, which on CUDA
    waits for the device.
    """
    emissions, transitions = emissions.float(), transitions.float()
    # Autocast would run the product in bf16, whose 8-bit mantissa would blur log Z.
    with torch.autocast(emissions.device.type, enabled=False):
        # The shifts are constants to autograd: log Z does not depend on them.
        best_move = transitions.detach().amax(dim=0)  # (K,) c: the best transition into each tag
        moves = torch.exp(transitions - best_move)  # (K, K), every entry in [0, 1]
        arrivals = emissions + best_move  # (B, T, K): e[j] + c[j], added once for all steps
        alpha = start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.shape[1]):
            best = alpha.detach().amax(dim=1, keepdim=True)  # (B, 1) m
            summed = torch.exp(alpha - best) @ moves  # (B, K)
            # Clamped, so that a lost sum gives a finite log and no gradient, not log(0).
            step = torch.log(summed.clamp_min(_TINY)) + best + arrivals[:, t]
            lost = (summed < _RESOLVED) & mask[:, t, None]  # past a row's end nothing is used
            if lost.any():
                exact = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
                step = torch.where(lost, exact, step)
            alpha = torch.where(mask[:, t, None], step, alpha)  # past a row's end: carried unchanged
        return torch.logsumexp(alpha + end, dim=1)


@torch.no_grad()
def viterbi(
    emissions: Tensor, mask: Tensor, transitions: Tensor, start: Tensor, end: Tensor
) -> list[list[int]]:
    """The highest-scoring tag sequence of each row, as a list of its real length."""
    emissions = emissions.float()
    rows, length, tags = emissions.shape
    stay = torch.arange(tags, device=emissions.device).expand(rows, tags)
    best = start + emissions[:, 0]  # (B, K): the best prefix score ending in each tag
    pointers = []  # per position t >= 1: (B, K) the best previous tag of each tag
    for t in range(1, length):
        step, previous = (best.unsqueeze(2) + transitions).max(dim=1)
        real = mask[:, t, None]
        best = torch.where(real, step + emissions[:, t], best)
        # Past a row's end every tag points to itself, so that one backtrack from the last
        # column walks unchanged through the padding to the row's last real position.
        pointers.append(torch.where(real, previous, stay))
    tag = (best + end).argmax(dim=1)  # (B,)
    path = [tag]
    for previous in reversed(pointers):
        tag = previous.gather(1, tag.unsqueeze(1)).squeeze(1)
        path.append(tag)
    table = torch.stack(path[::-1], dim=1).tolist()  # (B, T)
    return [row[:length] for row, length in zip(table, mask.sum(dim=1).tolist(), strict=True)]
