"""Length-bucketed batching.

Padding is wasted compute: a batch costs ``rows × longest row`` token slots whatever
its real length. Training batches are therefore made from buckets: shuffle, cut the
shuffled data into pools of ``pool_batches`` batches, sort each pool by length, cut it
into batches and shuffle the batch order. Batches stay random from epoch to epoch while
holding sentences of similar length. Evaluation sorts everything by length.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def training_batches(
    lengths: Sequence[int],
    batch_size: int,
    rng: random.Random,
    pool_batches: int = 100,
    max_tokens: int = 0,
) -> list[list[int]]:
    """Indices of each training batch for one epoch; ``rng`` makes the order reproducible.

    With ``max_tokens`` > 0 a batch holds as many sentences as fit in ``max_tokens`` token
    slots (rows × longest row, at least one row) instead of ``batch_size`` sentences: every
    step then sees about the same number of tokens, which is what the learning rate and the
    gradient noise depend on when lengths vary as much as in translation.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool_size = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool_size):
        pool = sorted(order[start : start + pool_size], key=lambda index: lengths[index])
        if max_tokens > 0:
            batches.extend(_token_batches(pool, lengths, max_tokens))
        else:
            batches.extend(pool[offset : offset + batch_size] for offset in range(0, len(pool), batch_size))
    rng.shuffle(batches)
    return batches


def _token_batches(pool: list[int], lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Cut ``pool`` (sorted by length) into batches of at most ``max_tokens`` token slots."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for index in pool:
        # Sorted ascending, so the newcomer is the longest row of the batch.
        if batch and (len(batch) + 1) * max(lengths[index], 1) > max_tokens:
            batches.append(batch)
            batch = []
        batch.append(index)
    if batch:
        batches.append(batch)
    return batches


def evaluation_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length then cut into batches (callers restore the original order)."""
    order = sorted(range(len(lengths)), key=lambda index: lengths[index])
    return [order[offset : offset + batch_size] for offset in range(0, len(order), batch_size)]


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of token slots in ``batches`` that are padding (0 = none wasted)."""
    slots = sum(len(batch) * max(lengths[index] for index in batch) for batch in batches if batch)
    real = sum(lengths[index] for batch in batches for index in batch)
    return 1.0 - real / slots if slots else 0.0
