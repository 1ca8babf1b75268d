"""Length-bucketed batches: every example once, little padding, reproducible."""

from __future__ import annotations

import random

import pytest

from nlpplat.batching import (
    Length,
    evaluation_batches,
    loss_weights,
    padded,
    padding_fraction,
    training_batches,
)
from nlpplat.embeddings import EmbeddingConfig, TokenVocab
from nlpplat.model import Collator


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
    assert padding_fraction([2, 4], [[0, 1]], multiple=8) == 0.625  # in 16 slots


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


def lengths_like_dialogue(count: int = 20_000) -> list[tuple[int, int]]:
    """(context, response) lengths: long contexts that hardly predict the response's length."""
    rng = random.Random(2)
    return [(rng.randint(5, 128), rng.randint(2, 40)) for _ in range(count)]


def test_two_sided_lengths_pad_both_sides_little() -> None:
    lengths = lengths_like_dialogue()
    by_longer_side = training_batches([max(pair) for pair in lengths], 32, random.Random(1), max_tokens=4096)
    by_both_sides = training_batches(lengths, 32, random.Random(1), max_tokens=4096)
    assert sorted(index for batch in by_both_sides for index in batch) == list(range(len(lengths)))
    responses = [response for _, response in lengths]
    assert padding_fraction(lengths, by_both_sides) < padding_fraction(lengths, by_longer_side)
    assert padding_fraction(responses, by_both_sides) < 0.6 * padding_fraction(responses, by_longer_side)
    for batch in by_both_sides:  # the budget counts a row's longest side
        assert len(batch) * max(max(lengths[index]) for index in batch) <= 4096 or len(batch) == 1


def test_batches_cut_by_padded_lengths_share_few_shapes() -> None:
    lengths = lengths_like_dialogue()
    exact = training_batches(lengths, 32, random.Random(1), max_tokens=4096)
    rounded = training_batches(lengths, 32, random.Random(1), max_tokens=4096, multiple=8)
    assert sorted(index for batch in rounded for index in batch) == list(range(len(lengths)))

    def shape(batch: list[int], multiple: int) -> tuple[int, ...]:
        """(rows, context slots, response slots) of the batch as the Collator pads it."""
        sides = zip(*(padded(lengths[index], multiple) for index in batch), strict=True)
        return (len(batch), *(max(side) for side in sides))

    for batch in rounded:  # the budget counts padded slots
        rows, *slots = shape(batch, 8)
        assert rows * max(slots) <= 4096 or rows == 1
    # Shapes repeat: a batch shape reuses the kernels compiled for it (bf16 on CPUs).
    assert len({shape(batch, 8) for batch in rounded}) < 0.6 * len({shape(batch, 1) for batch in exact})


def test_padded_rounds_every_side_up() -> None:
    assert (padded(9, 8), padded(16, 8), padded((1, 8, 17), 8), padded((5, 3), 1)) == (
        16,
        16,
        (8, 8, 24),
        (5, 3),
    )


def test_two_sided_padding_fraction_by_hand() -> None:
    # Sides padded separately: (2, 1) and (4, 3) → slots 2·4 + 2·3 = 14, real 10.
    assert padding_fraction([(2, 1), (4, 3)], [[0, 1]]) == 1 - 10 / 14


def test_evaluation_batches_sort_the_first_side_in_buckets_then_the_next() -> None:
    lengths = [(9, 5), (3, 7), (4, 1), (12, 2)]  # buckets of 8: (1, 7) (1, 1) (2, 5) (2, 2)
    assert evaluation_batches(lengths, 4) == [[2, 1, 3, 0]]


def test_token_budget_pools_hold_about_pool_batches_batches() -> None:
    lengths = [50] * 1000 + [5] * 10_000  # few rows fit a batch of long examples, many of short
    batches = training_batches(lengths, 32, random.Random(1), pool_batches=10, max_tokens=1000)
    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))
    assert all(len(batch) * max(lengths[index] for index in batch) <= 1000 for batch in batches)
    # 100,000 token slots in pools of 10 batches of 1,000: a little over 100 batches (each
    # pool ends on a partial one); with pools of 32 · 10 rows, mixing long and short
    # examples, there would be many more.
    assert 105 <= len(batches) <= 120


def test_loss_weights_give_every_output_token_the_same_weight_over_an_epoch() -> None:
    lengths = lengths_like_dialogue(2_000)
    batches = training_batches(lengths, 32, random.Random(1), max_tokens=1024)
    weights = loss_weights(lengths, batches)
    # A loss that is each batch's mean over its output tokens, scaled by the batch's weight,
    # sums to the same per-token loss for every token: 1 / (mean output tokens per batch).
    token_loss = {index: random.Random(index).random() for index in range(len(lengths))}
    weighted = sum(
        weight
        * sum(token_loss[index] * lengths[index][1] for index in batch)
        / sum(lengths[index][1] for index in batch)
        for weight, batch in zip(weights, batches, strict=True)
    )
    mean_per_batch = sum(response for _, response in lengths) / len(batches)
    every_token_alike = sum(token_loss[index] * lengths[index][1] for index in token_loss) / mean_per_batch
    assert weighted == pytest.approx(every_token_alike)
    assert sum(weights) == pytest.approx(len(batches))  # the average step keeps its size
    assert max(weights) > 2 * min(weights)  # batches sorted on the output side differ a lot


def test_loss_weights_are_one_for_one_sided_lengths() -> None:
    lengths = [random.Random(index).randint(1, 60) for index in range(500)]
    batches = training_batches(lengths, 16, random.Random(1))
    assert loss_weights(lengths, batches) == [1.0] * len(batches)


def test_lengths_with_different_numbers_of_sides_are_an_error() -> None:
    class Mixed:
        def length(self, example: Length) -> Length:
            return example

    with pytest.raises(TypeError, match=r"Mixed\.length gives examples different numbers of sides"):
        Collator(Mixed(), TokenVocab(EmbeddingConfig())).lengths([3, (4, 2)])
