"""Length-bucketed batching.

Padding is wasted compute: a batch costs ``rows × longest row`` token slots whatever
its real length. Training batches are therefore made from buckets: shuffle, cut the
shuffled data into pools of ``pool_batches`` batches, sort each pool by length, cut it
into batches and shuffle the batch order. Batches stay random from epoch to epoch while
holding sentences of similar length. Evaluation sorts everything by length.

An example's length is one number, or one per padded side when a task pads two sequences
that are not alike in length (dialogue's long context and short response). Sides are then
sorted in order: by the first side rounded to :data:`BUCKET_WIDTH` tokens, then exactly by
the next, so that both sides of a batch are close in length. Sorting by the longer side
alone would pad the short side to wherever its partner's length put it.

Sorting on the last side makes batches differ in how many output tokens they hold (a
batch of short responses has few), so a loss averaged per batch would give a token of a
short batch more weight than one of a long batch. :func:`loss_weights` undoes that.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

Length = int | tuple[int, ...]

# Wide enough that a pool's bucket holds several batches, so that the later sides still
# get sorted; narrow enough that the first side pads little (a bucket pads it by at most
# BUCKET_WIDTH - 1 tokens).
BUCKET_WIDTH = 8


def sides(length: Length) -> tuple[int, ...]:
    """``length`` as one number per padded side."""
    return (length,) if isinstance(length, int) else tuple(length)


def sort_key(length: Length) -> tuple[int, ...]:
    """Sorting key that keeps every side of a batch close in length (see the module doc)."""
    if isinstance(length, int):
        return (length,)
    first, *rest = length
    return (-(-first // BUCKET_WIDTH), *rest)


def round_up(count: int, multiple: int) -> int:
    """The least multiple of ``multiple`` that is at least ``count``."""
    return -(-count // multiple) * multiple


def padded(length: Length, multiple: int) -> Length:
    """``length`` with every side rounded up to a multiple of ``multiple`` (its padded shape)."""
    if isinstance(length, int):
        return round_up(length, multiple)
    return tuple(round_up(side, multiple) for side in length)


def longest(length: Length) -> int:
    """Token slots one row of ``length`` takes on its longest side (what a budget counts)."""
    return max(sides(length), default=0)


def training_batches(
    lengths: Sequence[Length],
    batch_size: int,
    rng: random.Random,
    pool_batches: int = 100,
    max_tokens: int = 0,
    multiple: int = 1,
) -> list[list[int]]:
    """Indices of each training batch for one epoch; ``rng`` makes the order reproducible.

    With ``max_tokens`` > 0 a batch holds as many sentences as fit in ``max_tokens`` token
    slots (rows × longest row on any side, at least one row) instead of ``batch_size``
    sentences: every step then sees about the same number of tokens, which is what the
    learning rate and the gradient noise depend on when lengths vary as much as in
    translation.

    With ``multiple`` > 1, batches are cut and sorted by the lengths they will be padded to
    (every side rounded up to a multiple of it, as :class:`nlpplat.model.Collator` pads them):
    examples that pad alike then share batches, and batches of one padded shape hold as many
    rows.
    """
    if multiple > 1:
        lengths = [padded(length, multiple) for length in lengths]
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for pool in _pools(order, lengths, batch_size * pool_batches, max_tokens * pool_batches):
        pool.sort(key=lambda index: sort_key(lengths[index]))
        if max_tokens > 0:
            batches.extend(_token_batches(pool, lengths, max_tokens))
        else:
            batches.extend(pool[offset : offset + batch_size] for offset in range(0, len(pool), batch_size))
    rng.shuffle(batches)
    return batches


def _pools(order: list[int], lengths: Sequence[Length], rows: int, tokens: int) -> list[list[int]]:
    """Cut ``order`` into pools of ``rows`` examples, or, if ``tokens`` > 0, of rows whose
    longest sides add up to ``tokens``.

    Counting tokens keeps a pool at about ``pool_batches`` batches under a token budget too,
    however long the examples are (counting rows made pools of about 10 token batches for
    Multi30k until 2026-12-03).
    """
    if tokens <= 0:
        return [order[start : start + rows] for start in range(0, len(order), rows)]
    pools: list[list[int]] = [[]]
    filled = 0
    for index in order:
        if filled >= tokens:
            pools.append([])
            filled = 0
        pools[-1].append(index)
        filled += max(longest(lengths[index]), 1)
    return pools


def _token_batches(pool: list[int], lengths: Sequence[Length], max_tokens: int) -> list[list[int]]:
    """Cut ``pool`` (sorted by :func:`sort_key`) into batches of at most ``max_tokens`` slots."""
    batches: list[list[int]] = []
    batch: list[int] = []
    widest = 0  # the batch's longest row on any side
    for index in pool:
        newcomer = max(longest(lengths[index]), 1)
        if batch and (len(batch) + 1) * max(widest, newcomer) > max_tokens:
            batches.append(batch)
            batch, widest = [], 0
        batch.append(index)
        widest = max(widest, newcomer)
    if batch:
        batches.append(batch)
    return batches


def loss_weights(lengths: Sequence[Length], batches: Sequence[Sequence[int]]) -> list[float]:
    """Per batch, the factor by which to scale its loss so that every output token weighs the same.

    With two-sided lengths the task's loss is a mean over a batch's output tokens, the
    last side. Scaled by the batch's output tokens over the epoch's mean per batch, every
    token weighs ``1 / mean`` in the summed gradient wherever it falls, as in one mean over
    the whole epoch (gradient clipping then applies to the scaled gradient).
    Batches sorted on the output side differ by several times in output tokens, and an
    unweighted mean overtrained DailyDialog's short, generic responses
    (docs/tasks/dialogue.md, measured results). One-sided lengths: every factor is 1, as
    such batches are cut to similar token counts.
    """
    if not lengths or isinstance(lengths[0], int):  # every example has as many sides (Collator)
        return [1.0] * len(batches)
    outputs = [sum(sides(lengths[index])[-1] for index in batch) for batch in batches]
    mean = sum(outputs) / len(outputs)
    return [count / mean for count in outputs] if mean > 0 else [1.0] * len(batches)


def evaluation_batches(lengths: Sequence[Length], batch_size: int) -> list[list[int]]:
    """Indices sorted by length then cut into batches (callers restore the original order)."""
    order = sorted(range(len(lengths)), key=lambda index: sort_key(lengths[index]))
    return [order[offset : offset + batch_size] for offset in range(0, len(order), batch_size)]


def padding_fraction(lengths: Sequence[Length], batches: Sequence[Sequence[int]], multiple: int = 1) -> float:
    """Share of token slots in ``batches`` that are padding, over all sides (0 = none wasted),
    each side's padded length rounded up to a multiple of ``multiple`` as the collator does."""
    slots = real = 0
    for batch in batches:
        if not batch:
            continue
        rows = [sides(lengths[index]) for index in batch]
        slots += sum(len(rows) * round_up(max(side), multiple) for side in zip(*rows, strict=True))
        real += sum(map(sum, rows))
    return 1.0 - real / slots if slots else 0.0
