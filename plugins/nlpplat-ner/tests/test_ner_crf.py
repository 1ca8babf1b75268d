"""The CRF against brute-force enumeration of every tag sequence on tiny random cases."""

from __future__ import annotations

import itertools

import pytest
import torch

from nlpplat_ner.crf import CRF
from nlpplat_ner.schemes import bioes_constraints, bioes_labels, find_violation

LABELS = bioes_labels(["PER"])  # O, B-PER, I-PER, E-PER, S-PER
LENGTHS = [4, 1, 3, 2]  # one row of each length; the longest is full


def make_crf(constrained: bool, seed: int) -> CRF:
    torch.manual_seed(seed)
    if constrained:
        allowed, start, end = (torch.tensor(table) for table in bioes_constraints(LABELS))
        crf = CRF(len(LABELS), allowed, start, end)
    else:
        crf = CRF(3)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


def make_inputs(num_tags: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(len(LENGTHS), max(LENGTHS), num_tags, generator=generator) * 2
    mask = torch.arange(max(LENGTHS))[None, :] < torch.tensor(LENGTHS)[:, None]
    return emissions, mask


@torch.no_grad()
def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> dict[tuple[int, ...], float]:
    """The score of every *permitted* tag sequence of one sentence, computed term by term."""
    allowed, start, end = crf.allowed, crf.start_allowed, crf.end_allowed
    scores = {}
    for tags in itertools.product(range(crf.num_tags), repeat=length):
        steps = list(itertools.pairwise(tags))
        if not (start[tags[0]] and end[tags[-1]] and all(allowed[a, b] for a, b in steps)):
            continue
        score = crf.start_scores[tags[0]] + crf.end_scores[tags[-1]]
        score = score + sum(emissions[t, tag] for t, tag in enumerate(tags))
        score = score + sum((crf.transitions[a, b] for a, b in steps), torch.tensor(0.0))
        scores[tags] = float(score)
    return scores


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
@torch.no_grad()
def test_log_partition_score_and_viterbi_match_enumeration(constrained, seed):
    crf = make_crf(constrained, seed)
    emissions, mask = make_inputs(crf.num_tags, seed)
    log_z = crf.log_partition(emissions, mask)
    paths = crf.viterbi(emissions, mask)
    for row, length in enumerate(LENGTHS):
        scores = brute_force(crf, emissions[row], length)
        expected = torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), dim=0)
        assert float(log_z[row]) == pytest.approx(float(expected), abs=1e-4)
        best = max(scores, key=scores.get)
        assert tuple(paths[row]) == best
        # the score of a given sequence, batched, agrees term by term
        tags = torch.zeros(len(LENGTHS), max(LENGTHS), dtype=torch.long)
        tags[row, :length] = torch.tensor(best)
        assert float(crf.score(emissions, tags, mask)[row]) == pytest.approx(scores[best], abs=1e-4)


@torch.no_grad()
def test_likelihoods_of_all_sequences_sum_to_one():
    crf = make_crf(True, 3)
    emissions, mask = make_inputs(crf.num_tags, 3)
    row, length = 0, LENGTHS[0]
    total = 0.0
    for tags in brute_force(crf, emissions[row], length):
        batch_tags = torch.zeros_like(mask, dtype=torch.long)
        batch_tags[row, :length] = torch.tensor(tags)
        total += float(crf.log_likelihood(emissions, batch_tags, mask)[row].exp())
    assert total == pytest.approx(1.0, abs=1e-4)


@torch.no_grad()
def test_padding_does_not_change_anything():
    crf = make_crf(True, 4)
    emissions, mask = make_inputs(crf.num_tags, 4)
    noisy = emissions.clone()
    noisy[~mask] = torch.randn(int((~mask).sum()), crf.num_tags) * 100
    tags = torch.randint(0, crf.num_tags, mask.shape)
    assert torch.allclose(crf.log_partition(emissions, mask), crf.log_partition(noisy, mask))
    assert torch.allclose(crf.score(emissions, tags, mask), crf.score(noisy, tags, mask))
    assert crf.viterbi(emissions, mask) == crf.viterbi(noisy, mask)
    # a row on its own, without padding, gets the same results
    single = crf.log_partition(emissions[2:3, : LENGTHS[2]], mask[2:3, : LENGTHS[2]])
    assert float(single[0]) == pytest.approx(float(crf.log_partition(emissions, mask)[2]), abs=1e-5)


def test_viterbi_never_emits_a_forbidden_transition():
    crf = make_crf(True, 5)
    generator = torch.Generator().manual_seed(5)
    lengths = torch.randint(1, 12, (64,), generator=generator)
    mask = torch.arange(12)[None, :] < lengths[:, None]
    # huge emissions that favour I-/E- after O, B- at the end, …: constraints must win
    emissions = torch.randn(64, 12, crf.num_tags, generator=generator) * 50
    for path, length in zip(crf.viterbi(emissions, mask), lengths.tolist(), strict=True):
        assert len(path) == length
        assert find_violation([LABELS[tag] for tag in path], "BIOES") is None


def test_gradients_are_finite_with_constraints():
    crf = make_crf(True, 6)
    emissions, mask = make_inputs(crf.num_tags, 6)
    emissions.requires_grad_(True)
    tags = torch.zeros_like(mask, dtype=torch.long)  # all O: a valid path
    loss = -crf.log_likelihood(emissions, tags, mask).sum()
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in crf.parameters())
    assert torch.isfinite(emissions.grad).all()
    assert (emissions.grad[~mask] == 0).all()  # padding gets no gradient


def test_constraints_are_not_saved_in_checkpoints():
    assert set(make_crf(True, 0).state_dict()) == {"transitions", "start_scores", "end_scores"}
