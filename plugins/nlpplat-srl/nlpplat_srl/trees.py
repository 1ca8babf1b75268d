"""The best projective dependency tree under arc scores: Eisner's algorithm with one root.

Used to read a tree off the auxiliary parser (``task.syntax``): its scores are per word, and
the best head of each word on its own need not form a tree (two words may head each other).
Eisner (1996) finds the highest-scoring *projective* tree in O(n³) by dynamic programming
over spans. The root takes a single child, as in Universal Dependencies: that child is
chosen last, as the word whose complete left and right halves score best together with it
as root. English trees are nearly all projective, and a projective tree's subtrees are
contiguous, which is what argument spans are read from.
"""

from __future__ import annotations

from collections.abc import Sequence

LEFT, RIGHT = 0, 1  # the direction of a span's head: its last word (LEFT) or its first (RIGHT)


def best_tree(scores: Sequence[Sequence[float]]) -> list[int]:
    """``scores[i][j]``: how good word ``j`` is as the head of word ``i``; ``scores[i][i]``: how good
    ``i`` is as the root. Returns each word's head (0-based), ``-1`` for the one root, such that
    the tree is projective and its total score the highest of all such trees.

    Tables over spans ``s..t``: ``complete[s][t][d]`` is the best score of the words ``s..t``
    all hanging from the head at the span's end ``d`` points to; ``incomplete[s][t][d]`` the
    same with the arc between ``s`` and ``t`` drawn and the inside still open.
    """
    n = len(scores)
    if n == 0:
        return []
    minus = float("-inf")
    complete = [[[0.0, 0.0] if s == t else [minus, minus] for t in range(n)] for s in range(n)]
    incomplete = [[[minus, minus] for _ in range(n)] for _ in range(n)]
    complete_split = [[[0, 0] for _ in range(n)] for _ in range(n)]
    incomplete_split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for s in range(n - length):
            t = s + length
            # draw an arc between s and t over two complete halves facing each other
            q = max(range(s, t), key=lambda q: complete[s][q][RIGHT] + complete[q + 1][t][LEFT])
            inside = complete[s][q][RIGHT] + complete[q + 1][t][LEFT]
            incomplete[s][t][LEFT] = inside + scores[s][t]  # t heads s
            incomplete[s][t][RIGHT] = inside + scores[t][s]  # s heads t
            incomplete_split[s][t] = q
            # close a span: an open arc, then the complete rest beyond its dependent
            q = max(range(s, t), key=lambda q: complete[s][q][LEFT] + incomplete[q][t][LEFT])
            complete[s][t][LEFT] = complete[s][q][LEFT] + incomplete[q][t][LEFT]
            complete_split[s][t][LEFT] = q
            q = max(range(s + 1, t + 1), key=lambda q: incomplete[s][q][RIGHT] + complete[q][t][RIGHT])
            complete[s][t][RIGHT] = incomplete[s][q][RIGHT] + complete[q][t][RIGHT]
            complete_split[s][t][RIGHT] = q
    # the root's one child r heads everything to its left and everything to its right
    root = max(range(n), key=lambda r: scores[r][r] + complete[0][r][LEFT] + complete[r][n - 1][RIGHT])
    heads = [-1] * n
    # Follow the splits back; a stack rather than recursion, which long sentences would overflow.
    stack = [(0, root, LEFT, True), (root, n - 1, RIGHT, True)]  # (s, t, direction, complete?)
    while stack:
        s, t, direction, is_complete = stack.pop()
        if s == t:
            continue
        if is_complete:
            q = complete_split[s][t][direction]
            if direction == LEFT:
                stack += [(s, q, LEFT, True), (q, t, LEFT, False)]
            else:
                stack += [(s, q, RIGHT, False), (q, t, RIGHT, True)]
        else:
            heads[s if direction == LEFT else t] = t if direction == LEFT else s
            q = incomplete_split[s][t]
            stack += [(s, q, RIGHT, True), (q + 1, t, LEFT, True)]
    return heads
