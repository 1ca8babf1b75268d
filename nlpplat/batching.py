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
    lengths: Sequence[int], batch_size: int, rng: random.Random, pool_batches: int = 100
) -> list[list[int]]:
    """Indices of each training batch for one epoch; ``rng`` makes the order reproducible."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool_size = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool_size):
        pool = sorted(order[start : start + pool_size], key=lambda index: lengths[index])
        batches.extend(pool[offset : offset + batch_size] for offset in range(0, len(pool), batch_size))
    rng.shuffle(batches)
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
