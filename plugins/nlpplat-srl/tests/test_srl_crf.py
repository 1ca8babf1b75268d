"""The CRF against brute-force enumeration of every tag sequence."""

from __future__ import annotations

import itertools

import pytest
import torch

from nlpplat_srl.crf import CRF


def random_case(seed: int, lengths: list[int], tags: int = 3):
    generator = torch.Generator().manual_seed(seed)
    crf = CRF(tags)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    emissions = torch.randn(len(lengths), max(lengths), tags, generator=generator)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    allowed = torch.rand(len(lengths), max(lengths), tags, generator=generator) > 0.3
    allowed[..., 0] = True  # one tag is always possible, as O is in the task
    return crf, emissions, mask, allowed


@torch.no_grad()
def path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    score = crf.first[path[0]] + crf.last[path[-1]] + sum(emissions[t, tag] for t, tag in enumerate(path))
    return float(score + sum(crf.moves[a, b] for a, b in itertools.pairwise(path)))


@pytest.mark.parametrize("seed", range(4))
def test_likelihood_and_viterbi_match_enumeration(seed: int) -> None:
    lengths = [4, 1, 3]
    crf, emissions, mask, allowed = random_case(seed, lengths)
    best = crf.viterbi(emissions, mask, allowed)
    gold = torch.zeros(mask.shape, dtype=torch.long)
    for row, length in enumerate(lengths):
        legal = [
            path
            for path in itertools.product(range(3), repeat=length)
            if all(allowed[row, t, tag] for t, tag in enumerate(path))
        ]
        scores = {path: path_score(crf, emissions[row], path) for path in legal}
        log_z = torch.logsumexp(torch.tensor(list(scores.values())), dim=0)
        expected_best = max(scores, key=scores.get)
        assert tuple(best[row]) == expected_best
        gold[row, :length] = torch.tensor(expected_best)
        likelihood = crf.log_likelihood(emissions, gold, mask, allowed)[row].detach()
        assert likelihood.item() == pytest.approx(scores[expected_best] - float(log_z), abs=1e-4)


def test_forbidden_tags_have_no_probability_and_padding_is_ignored() -> None:
    crf, emissions, mask, allowed = random_case(9, [3, 2])
    gold = torch.zeros(mask.shape, dtype=torch.long)
    gold[0, 1] = 1
    allowed[0, 1, 1] = False
    assert crf.log_likelihood(emissions, gold, mask, allowed)[0] < -1000
    longer = torch.cat([emissions, 50 * torch.randn(2, 4, 3)], dim=1)
    longer_mask = torch.cat([mask, torch.zeros(2, 4, dtype=torch.bool)], dim=1)
    longer_allowed = torch.cat([allowed, torch.ones(2, 4, 3, dtype=torch.bool)], dim=1)
    longer_gold = torch.cat([gold, torch.ones(2, 4, dtype=torch.long)], dim=1)
    assert torch.allclose(
        crf.log_likelihood(emissions, gold, mask, allowed),
        crf.log_likelihood(longer, longer_gold, longer_mask, longer_allowed),
    )
    assert crf.viterbi(emissions, mask, allowed) == crf.viterbi(longer, longer_mask, longer_allowed)


def test_gradients_reach_every_score() -> None:
    crf, emissions, mask, _ = random_case(3, [4, 2])
    emissions.requires_grad_(True)
    gold = torch.randint(0, 3, mask.shape)
    crf.log_likelihood(emissions, gold, mask).sum().backward()
    assert all(
        parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in crf.parameters()
    )
    assert emissions.grad[~mask].abs().sum() == 0
