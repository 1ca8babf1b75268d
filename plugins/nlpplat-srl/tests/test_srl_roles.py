"""Argument columns as one-token tags and as dependency-subtree spans."""

from __future__ import annotations

from nlpplat_srl.roles import argument_spans, arguments, cells_from_tags, role_tags, span_tags


def test_role_tags_skip_the_predicate_and_v() -> None:
    cells = ["ARG0", "C-V", "_", "ARGM-TMP", "V"]
    assert arguments(cells, 1) == [(0, "ARG0"), (3, "ARGM-TMP")]  # the predicate's own cell is no argument
    assert role_tags(cells, 1) == ["B-ARG0", "O", "O", "B-ARGM-TMP", "O"]
    assert cells_from_tags(["B-ARG0", "O", "O", "B-R-ARG1"], 1) == ("ARG0", "V", "_", "R-ARG1")


# "The man who left the house saw a dog ." heads (0-based, -1 root):
#  The->man, man->saw, who->left, left->man, the->house, house->left, saw root, a->dog, dog->saw, .->saw
HEADS = [1, 6, 3, 1, 5, 3, -1, 8, 6, 6]


def test_spans_are_subtrees_without_the_predicate_or_other_arguments() -> None:
    # predicate "left" (3): ARG0 "man" dominates it, so its span stops before the relative clause
    assert argument_spans(HEADS, 3, [1, 5]) == [(0, 2), (4, 6)]
    # predicate "saw" (6): "man" spans "The man who left the house"; "dog" spans "a dog"
    assert argument_spans(HEADS, 6, [1, 8]) == [(0, 6), (7, 9)]
    # an argument inside another argument's subtree is cut out of it
    assert argument_spans(HEADS, 6, [1, 5]) == [(0, 4), (4, 6)]
    assert argument_spans(None, 6, [1, 8]) == [(1, 2), (8, 9)]


def test_span_tags_are_iob2() -> None:
    cells = ["_", "ARG0", "_", "_", "_", "_", "V", "_", "ARG1", "_"]
    expected = ["B-ARG0", "I-ARG0", "I-ARG0", "I-ARG0", "I-ARG0", "I-ARG0", "O", "B-ARG1", "I-ARG1", "O"]
    assert span_tags(cells, 6, HEADS) == expected


def test_cyclic_heads_do_not_hang() -> None:
    assert argument_spans([1, 0, 1], 2, [0]) == [(0, 2)]  # terminates; the predicate is still left out
