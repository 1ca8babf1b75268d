"""The host's CRF algorithms (``nlpplat.crf``) where float32 is tested hardest.

The plugins' CRF tests compare ``log Z``, scores and Viterbi paths with brute-force
enumeration on small, well-scaled cases; these check the matrix-product forward algorithm
where it could lose precision: scores far apart, forbidden transitions, blocked tags, and
bf16 autocast.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from nlpplat import crf

FORBIDDEN = -1e4


def reference_log_partition(emissions, mask, transitions, start, end):
    """``log Z`` by the textbook recursion in float64: logsumexp over every (previous, next) pair."""
    emissions, transitions, start, end = (x.double() for x in (emissions, transitions, start, end))
    alpha = start + emissions[:, 0]
    for t in range(1, emissions.shape[1]):
        step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t, None], step, alpha)
    return torch.logsumexp(alpha + end, dim=1)


def hard_case(seed: int, scale: float, lengths: tuple[int, ...] = (9, 1, 5, 9, 2, 7), tags: int = 7):
    """Emissions ``scale`` times N(0, 1), a third of the transitions forbidden, all tags but 0
    blocked at one position per row (as SRL blocks its predicate's), rows of ``lengths``."""
    generator = torch.Generator().manual_seed(seed)
    rows, length = len(lengths), max(lengths)
    emissions = torch.randn(rows, length, tags, generator=generator) * scale
    emissions[torch.arange(rows), torch.arange(rows) % length, 1:] = FORBIDDEN
    transitions = torch.randn(tags, tags, generator=generator)
    transitions[torch.rand(tags, tags, generator=generator) < 0.33] = FORBIDDEN
    transitions[:, 0] = torch.randn(tags, generator=generator)  # tag 0 may follow every tag
    start, end = torch.randn(tags, generator=generator), torch.randn(tags, generator=generator)
    mask = torch.arange(length) < torch.tensor(lengths).unsqueeze(1)
    return emissions.requires_grad_(), mask, transitions.requires_grad_(), start, end


@pytest.mark.parametrize("scale", [1.0, 30.0, 300.0])
def test_log_partition_and_its_gradient_match_the_float64_textbook_recursion(scale):
    emissions, mask, transitions, start, end = hard_case(int(scale), scale)
    ours = crf.log_partition(emissions, mask, transitions, start, end)
    reference = reference_log_partition(emissions, mask, transitions, start, end)
    assert torch.allclose(ours.double(), reference, rtol=1e-6, atol=1e-5 * scale)
    # The gradients are the tag marginals (and the pair marginals): finite, and the same.
    ours_grads = torch.autograd.grad(ours.sum(), [emissions, transitions])
    reference_grads = torch.autograd.grad(reference.sum(), [emissions, transitions])
    for mine, theirs in zip(ours_grads, reference_grads, strict=True):
        assert torch.isfinite(mine).all()
        assert torch.allclose(mine, theirs, atol=1e-4)


def test_a_tag_lost_to_underflow_and_lifted_back_is_recomputed_exactly():
    # Tag 1 may follow only tag 1, whose prefix starts 500 below tag 0's: the product's sum for
    # tag 1 underflows to 0 in float32. The last emission then lifts tag 1 by 1000, so that
    # its true prefix (500 above tag 0's) decides log Z: a clamped sum would claim 912.66, and
    # an unclamped one would give log(0) and NaN gradients.
    emissions = torch.tensor([[[0.0, -500.0], [0.0, 0.0], [0.0, 1000.0]]], requires_grad=True)
    transitions = torch.tensor([[0.0, FORBIDDEN], [0.0, 0.0]], requires_grad=True)
    zeros = torch.zeros(2)
    mask = torch.ones(1, 3, dtype=torch.bool)
    ours = crf.log_partition(emissions, mask, transitions, zeros, zeros)
    reference = reference_log_partition(emissions, mask, transitions, zeros, zeros)
    assert ours.item() == pytest.approx(reference.item(), abs=1e-3)
    ours.backward()
    assert torch.isfinite(emissions.grad).all() and torch.isfinite(transitions.grad).all()


def test_log_partition_stays_in_float32_under_bf16_autocast():
    emissions, mask, transitions, start, end = hard_case(7, 3.0)
    exact = crf.log_partition(emissions, mask, transitions, start, end)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = crf.log_partition(emissions, mask, transitions, start, end)
    assert autocast.dtype == torch.float32
    assert torch.allclose(autocast, exact, rtol=1e-6, atol=1e-4)


def test_viterbi_finds_the_best_sequence_that_sequence_scores_scores():
    emissions, mask, transitions, start, end = hard_case(11, 2.0, lengths=(5, 1, 3, 4), tags=4)
    emissions, transitions = emissions.detach(), transitions.detach()
    paths = crf.viterbi(emissions, mask, transitions, start, end)
    for row, path in enumerate(paths):
        length = int(mask[row].sum())
        assert len(path) == length
        candidates = torch.tensor(list(itertools.product(range(emissions.shape[2]), repeat=length)))
        padded = torch.nn.functional.pad(candidates, (0, emissions.shape[1] - length))
        rows = emissions[row].expand(len(candidates), -1, -1)
        scores = crf.sequence_scores(
            rows, padded, mask[row].expand(len(candidates), -1), transitions, start, end
        )
        best = crf.sequence_scores(
            emissions[row : row + 1],
            torch.tensor([path + [0] * (emissions.shape[1] - length)]),
            mask[row : row + 1],
            transitions,
            start,
            end,
        )
        assert float(best[0]) == pytest.approx(float(scores.max()), abs=1e-3)
