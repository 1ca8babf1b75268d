"""Argument columns as tag sequences: one-token arguments, and arguments as dependency subtrees.

UP marks each argument on its *syntactic head*. As a tag sequence over the sentence (IOB2,
what the model predicts and seqeval scores) every argument is then a one-token span:
``B-ARG0`` on the head, ``O`` elsewhere, and ``I-`` never occurs. The predicate's own
cell (``V``, or a source quirk there) is not an argument and is always ``O``.

For CoNLL-2005-like span scores each argument head is expanded to a span of its
dependency subtree (:func:`argument_spans`).
"""

from __future__ import annotations

from collections.abc import Sequence

from nlpplat_srl.conllu import NO_ROLE
from nlpplat_srl.instances import PREDICATE

OUTSIDE = "O"


def is_role(cell: str) -> bool:
    """Whether an argument cell names a role (not ``_``, not the predicate's ``V``)."""
    return cell not in (NO_ROLE, PREDICATE, "")


def arguments(cells: Sequence[str], position: int) -> list[tuple[int, str]]:
    """``(word position, role)`` of each argument in a predicate's column, left to right."""
    return [(index, cell) for index, cell in enumerate(cells) if index != position and is_role(cell)]


def role_tags(cells: Sequence[str], position: int) -> list[str]:
    """IOB2 tags with every argument a one-token span: ``B-<role>`` on its head, ``O`` elsewhere."""
    tags = [OUTSIDE] * len(cells)
    for index, role in arguments(cells, position):
        tags[index] = f"B-{role}"
    return tags


def cells_from_tags(tags: Sequence[str], position: int) -> tuple[str, ...]:
    """An argument column from one-token IOB2 tags: ``V`` on the predicate, ``_`` for ``O``."""
    cells = [NO_ROLE if tag == OUTSIDE else tag[2:] for tag in tags]
    cells[position] = PREDICATE
    return tuple(cells)


def subtree(children: Sequence[Sequence[int]], root: int) -> set[int]:
    """The words dominated by ``root`` (itself included); safe on malformed, cyclic heads."""
    seen, stack = {root}, [root]
    while stack:
        for child in children[stack.pop()]:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def argument_spans(
    heads: Sequence[int] | None, position: int, argument_heads: Sequence[int]
) -> list[tuple[int, int]]:
    """The span ``(start, end)`` (end exclusive) of each argument head of the predicate at ``position``.

    The span of head ``a`` is the longest run of consecutive words around ``a`` inside
    ``a``'s subtree, after removing from that subtree the predicate's subtree (when ``a``
    dominates the predicate, as a noun modified by a relative clause does) and the subtree of
    every other argument head ``a`` dominates. So spans never contain the predicate and never
    overlap. Without a tree (``heads`` is None) each span is the head alone.
    """
    if heads is None:
        return [(a, a + 1) for a in argument_heads]
    children: list[list[int]] = [[] for _ in heads]
    for word, head in enumerate(heads):
        if head >= 0:
            children[head].append(word)
    spans = []
    for a in argument_heads:
        words = subtree(children, a)
        for other in (position, *argument_heads):
            if other != a and other in words:
                words -= subtree(children, other)
        words.add(a)
        start, end = a, a + 1
        while start - 1 in words:
            start -= 1
        while end in words:
            end += 1
        spans.append((start, end))
    return spans


def span_tags(cells: Sequence[str], position: int, heads: Sequence[int] | None) -> list[str]:
    """IOB2 tags with every argument expanded to its subtree span (:func:`argument_spans`)."""
    found = arguments(cells, position)
    tags = [OUTSIDE] * len(cells)
    for (_, role), (start, end) in zip(
        found, argument_spans(heads, position, [a for a, _ in found]), strict=True
    ):
        tags[start:end] = [f"B-{role}"] + [f"I-{role}"] * (end - start - 1)
    return tags
