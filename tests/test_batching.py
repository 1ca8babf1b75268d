"""Length-bucketed batches: every example once, little padding, reproducible."""

from __future__ import annotations

import random

from nlpplat.batching import evaluation_batches, padding_fraction, training_batches


def lengths_like_conll(count: int = 5000) -> list[int]:
    rng = random.Random(0)
    return [max(1, min(120, int(rng.lognormvariate(2.5, 0.7)))) for _ in range(count)]


def test_training_batches_cover_every_example_once() -> None:
    lengths = lengths_like_conll()
    batches = training_batches(lengths, 32, random.Random(1))
    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))
    assert all(0 < len(batch) <= 32 for batch in batches)


def test_bucketing_keeps_padding_under_ten_percent() -> None:
    lengths = lengths_like_conll()
    bucketed = training_batches(lengths, 32, random.Random(1))
    shuffled = list(range(len(lengths)))
    random.Random(1).shuffle(shuffled)
    unsorted = [shuffled[i : i + 32] for i in range(0, len(shuffled), 32)]
    assert padding_fraction(lengths, bucketed) < 0.10 < padding_fraction(lengths, unsorted)


def test_same_rng_same_batches_and_epochs_differ() -> None:
    lengths = lengths_like_conll(500)
    assert training_batches(lengths, 16, random.Random(5)) == training_batches(lengths, 16, random.Random(5))
    assert training_batches(lengths, 16, random.Random(5)) != training_batches(lengths, 16, random.Random(6))


def test_evaluation_batches_are_sorted_by_length() -> None:
    lengths = [5, 1, 3, 2, 4]
    assert evaluation_batches(lengths, 2) == [[1, 3], [2, 4], [0]]


def test_padding_fraction_by_hand() -> None:
    assert padding_fraction([2, 4], [[0, 1]]) == 0.25  # 6 real tokens in 8 slots


def test_token_batches_respect_the_budget_and_keep_every_sentence():
    rng = random.Random(3)
    lengths = [rng.randint(1, 60) for _ in range(2000)]
    batches = training_batches(lengths, 32, random.Random(1), max_tokens=600)
    assert sorted(index for batch in batches for index in batch) == list(range(2000))
    for batch in batches:
        longest = max(lengths[index] for index in batch)
        assert len(batch) * longest <= 600 or len(batch) == 1
    assert len({len(batch) for batch in batches}) > 5  # short sentences come in bigger batches
    assert training_batches(lengths, 32, random.Random(1), max_tokens=600) == batches
