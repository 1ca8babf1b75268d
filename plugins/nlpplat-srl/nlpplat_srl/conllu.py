"""Reading and writing CoNLL-U files with PropBank columns (Universal Propositions).

Every row is tab-separated; a blank line ends a sentence and ``#`` lines before its first
row are comments (kept, and written back). Columns::

    1-10     CoNLL-U: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC
    11       the roleset of the predicate on this word (``nominate.01``), ``_`` elsewhere
    11 + k   the argument column of the k-th predicate (in sentence order): ``V`` on the
             predicate, a role (``ARG0``, ``ARGM-TMP``, …) on the syntactic head of each of
             its arguments, ``_`` elsewhere

So a sentence with ``n >= 1`` predicates has ``11 + n`` columns on every word row, and one
with none has 12, the last one empty. A sentence marked ``# propbank = no-up`` has no
PropBank annotation: columns 11 and 12 are empty on every row. Besides words (integer IDs)
CoNLL-U has multiword-token ranges (``3-4``) and empty nodes (``8.1``); they carry no SRL
annotation, are kept as they are and written back unchanged, and are not tokens of the model.

Lines are streamed (:func:`nlpplat.io.numbered_lines`, ``.gz`` transparently); every
problem is a :class:`~nlpplat.errors.DataError` at ``file:line``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nlpplat.errors import DataError
from nlpplat.io import atomic_writer, numbered_lines

ROLESET = 10  # 0-based index of column 11
FIRST_ARGUMENT = 11  # 0-based index of column 12, the first predicate's argument column
CONLLU_COLUMNS = 10
NOT_A_PREDICATE = "_"  # column 11 of a word that is not a predicate
NO_ROLE = "_"  # an argument cell of a word that has no role for that predicate

_WORD = re.compile(r"[1-9][0-9]*")
_RANGE = re.compile(r"[1-9][0-9]*-[1-9][0-9]*")
_EMPTY_NODE = re.compile(r"[0-9]+\.[1-9][0-9]*")
_ROLESET = re.compile(r"\S+\.\S+")

# A predicted SRL layer for one sentence: (word position, roleset, argument column) per predicate.
Frames = Sequence[tuple[int, str, Sequence[str]]]


@dataclass(eq=False)
class Sentence:
    """One sentence: its CoNLL-U rows and its PropBank layer, parsed.

    path, line:  where it was read (``line``: its first row, after the comments)
    comments:    the ``#`` lines before it, verbatim
    rows:        every row in file order; a word row as its first 10 columns joined by tabs
                 (the SRL columns are rebuilt when writing), any other row verbatim
    words:       indices into ``rows`` of the word rows (integer IDs), in order
    tokens, lemmas: FORM and LEMMA of each word (``None`` for a ``_`` lemma)
    heads:       HEAD of each word as a 0-based word position, ``-1`` for the root;
                 ``None`` when the file has no tree (a ``_`` HEAD)
    deprels:     DEPREL of each word (``nsubj``, ``obl:tmod``, …); ``None`` without a tree
                 or where a word has none (``_``)
    predicates:  word positions of the predicates, in order
    rolesets:    the roleset of each predicate
    arguments:   the argument column of each predicate: one cell per word (``_``, ``V`` or a role)
    annotated:   False for sentences without PropBank annotation (``# propbank = no-up``)
    unlabelled:  for sentences without predicates, columns 11 and up of each word row as read
                 (joined by tabs), so that writing them back changes nothing
    """

    path: str
    line: int
    comments: list[str]
    rows: list[str]
    words: list[int]
    tokens: list[str]
    lemmas: list[str | None]
    heads: list[int] | None
    predicates: list[int] = field(default_factory=list)
    rolesets: list[str] = field(default_factory=list)
    arguments: list[list[str]] = field(default_factory=list)
    annotated: bool = True
    unlabelled: list[str] | None = None
    deprels: list[str] | None = None

    @classmethod
    def from_tokens(cls, tokens: Sequence[str], path: str = "<text>", line: int = 1) -> Sentence:
        """A sentence of bare tokens (raw text): no lemmas, no tree, no annotation."""
        rows = [f"{index}\t{token}" + "\t_" * (CONLLU_COLUMNS - 2) for index, token in enumerate(tokens, 1)]
        return cls(
            path=path,
            line=line,
            comments=[],
            rows=rows,
            words=list(range(len(rows))),
            tokens=list(tokens),
            lemmas=[None] * len(rows),
            heads=None,
            annotated=False,
        )

    def frame(self, position: int) -> int | None:
        """The index of the predicate at word ``position`` in :attr:`predicates`, or None."""
        try:
            return self.predicates.index(position)
        except ValueError:
            return None

    def gold_frames(self) -> list[tuple[int, str, list[str]]]:
        return list(zip(self.predicates, self.rolesets, self.arguments, strict=True))


# -- reading ---------------------------------------------------------------------------------
def read_sentences(path: str | os.PathLike[str]) -> Iterator[Sentence]:
    """Yield the sentences of a UP CoNLL-U file, in order.

    Raises :class:`DataError` at ``file:line`` for: a row whose ID is not a word, range or
    empty node; word IDs out of order; a word row with fewer than 12 columns or another
    width than the sentence's first word row; a width that does not match the number of
    predicates in column 11; empty nodes or ranges with SRL labels or an odd width; empty
    cells where a label or ``_`` belongs; a roleset that is not ``lemma.sense``; a HEAD that
    is not a word of the sentence; comments inside or after a sentence with no rows.
    """
    comments: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for number, line in numbered_lines(path):
        if not line.strip():
            if rows:
                yield _sentence(path, comments, rows)
            elif comments:
                raise DataError(path, number, "comment lines not followed by a sentence")
            comments, rows = [], []
        elif line.startswith("#"):
            if rows:
                raise DataError(path, number, "a comment inside a sentence; comments go before its first row")
            comments.append(line)
        else:
            rows.append((number, line.split("\t")))
    if rows:
        yield _sentence(path, comments, rows)
    elif comments:
        raise DataError(path, None, "the file ends with comment lines not followed by a sentence")


def _sentence(
    path: str | os.PathLike[str], comments: list[str], rows: list[tuple[int, list[str]]]
) -> Sentence:
    """Check one sentence's rows and parse them into a :class:`Sentence`."""
    words: list[tuple[int, list[str]]] = []
    others: list[tuple[int, list[str]]] = []
    for number, fields in rows:
        ident = fields[0]
        if _WORD.fullmatch(ident):
            if int(ident) != len(words) + 1:
                raise DataError(path, number, f"word ID {ident} where {len(words) + 1} was expected")
            words.append((number, fields))
        elif _RANGE.fullmatch(ident) or _EMPTY_NODE.fullmatch(ident):
            others.append((number, fields))
        else:
            raise DataError(
                path,
                number,
                f"ID {ident!r} is not a word (5), a multiword-token range (5-6) or an empty node (5.1); "
                "columns are separated by tabs",
            )
    if not words:
        raise DataError(path, rows[0][0], "a sentence without word rows (only ranges or empty nodes)")
    first_line, first = words[0]
    width = len(first)
    if width < FIRST_ARGUMENT + 1:
        raise DataError(
            path,
            first_line,
            f"has {width} columns; expected at least 12 tab-separated columns: the 10 of CoNLL-U, "
            "the roleset column and one argument column per predicate",
        )
    for number, fields in words:
        if len(fields) != width:
            raise DataError(
                path,
                number,
                f"has {len(fields)} columns, but the first word row of this sentence (line {first_line}) has "
                f"{width}; a sentence with n predicates has 11 + n columns on every word row (12 with none)",
            )
        if not fields[1]:
            raise DataError(path, number, "empty word form (column 2)")
    for number, fields in others:
        if len(fields) not in (CONLLU_COLUMNS, FIRST_ARGUMENT + 1, width):
            raise DataError(
                path,
                number,
                f"has {len(fields)} columns; an empty node or multiword-token row has 10, 12 or as many "
                f"as the word rows ({width})",
            )
        labelled = [
            (column, cell)
            for column, cell in enumerate(fields[ROLESET:], ROLESET + 1)
            if cell not in ("", "_")
        ]
        if labelled:
            column, cell = labelled[0]
            raise DataError(
                path,
                number,
                f"{cell!r} in column {column}: empty nodes and multiword tokens carry no SRL labels",
            )
    sentence = Sentence(
        path=str(path),
        line=rows[0][0],
        comments=comments,
        rows=[
            "\t".join(fields[:CONLLU_COLUMNS]) if _WORD.fullmatch(fields[0]) else "\t".join(fields)
            for _, fields in rows
        ],
        words=[index for index, (_, fields) in enumerate(rows) if _WORD.fullmatch(fields[0])],
        tokens=[fields[1] for _, fields in words],
        lemmas=[None if fields[2] == "_" else fields[2] for _, fields in words],
        heads=_heads(path, words),
    )
    deprels = [fields[7] for _, fields in words]
    if sentence.heads is not None and "_" not in deprels:
        sentence.deprels = deprels
    _read_layer(path, sentence, words, width)
    return sentence


def _heads(path: str | os.PathLike[str], words: list[tuple[int, list[str]]]) -> list[int] | None:
    heads = []
    for number, fields in words:
        head = fields[6]
        if head == "_":
            return None  # no tree (e.g. text that was never parsed)
        if not (head.isascii() and head.isdigit()) or int(head) > len(words):
            raise DataError(path, number, f"HEAD {head!r} (column 7) is not 0 or a word ID of this sentence")
        heads.append(int(head) - 1)
    return heads


def _read_layer(
    path: str | os.PathLike[str], sentence: Sentence, words: list[tuple[int, list[str]]], width: int
) -> None:
    """Parse columns 11 and up of the word rows into ``sentence``'s PropBank fields."""
    cells = [fields[ROLESET] for _, fields in words]
    tails = ["\t".join(fields[ROLESET:]) for _, fields in words]
    if all(cell == "" for cell in cells):  # no PropBank annotation at all (# propbank = no-up)
        for number, fields in words:
            stray = [cell for cell in fields[FIRST_ARGUMENT:] if cell not in ("", "_")]
            if stray:
                raise DataError(
                    path, number, f"argument label {stray[0]!r} in a sentence with an empty column 11"
                )
        sentence.annotated, sentence.unlabelled = False, tails
        return
    for number, fields in words:
        roleset = fields[ROLESET]
        if roleset == "":
            raise DataError(
                path,
                number,
                "empty roleset cell (column 11); write _ on words that are not predicates (only a sentence "
                "without PropBank annotation, '# propbank = no-up', leaves it empty on every word)",
            )
        if roleset != NOT_A_PREDICATE and not _ROLESET.fullmatch(roleset):
            raise DataError(
                path, number, f"roleset {roleset!r} in column 11 is not lemma.sense (e.g. nominate.01)"
            )
    predicates = [position for position, cell in enumerate(cells) if cell != NOT_A_PREDICATE]
    expected = FIRST_ARGUMENT + max(len(predicates), 1)
    if width != expected:
        raise DataError(
            path,
            words[0][0],
            f"{len(predicates)} predicate(s) in column 11 but {width - FIRST_ARGUMENT} argument column(s); "
            "a sentence with n predicates has 11 + n columns (12 with none)",
        )
    if not predicates:
        for number, fields in words:
            if fields[FIRST_ARGUMENT] not in ("", "_"):
                raise DataError(
                    path,
                    number,
                    f"argument label {fields[FIRST_ARGUMENT]!r} in a sentence without predicates",
                )
        sentence.unlabelled = tails
        return
    for number, fields in words:
        for column, cell in enumerate(fields[FIRST_ARGUMENT:], FIRST_ARGUMENT + 1):
            if not cell or cell != cell.strip():
                raise DataError(
                    path, number, f"argument cell {cell!r} in column {column}; write _ for no role"
                )
    sentence.predicates = predicates
    sentence.rolesets = [cells[position] for position in predicates]
    sentence.arguments = [[fields[FIRST_ARGUMENT + k] for _, fields in words] for k in range(len(predicates))]


# -- writing ---------------------------------------------------------------------------------
def sentence_lines(sentence: Sentence, frames: Frames | None = None) -> list[str]:
    """The lines of ``sentence`` (comments and rows, no blank line) with ``frames`` as its layer.

    ``frames`` lists ``(word position, roleset, argument column)`` per predicate, in any
    order; ``None`` writes the sentence's own layer, as read. A sentence written with no
    predicates gets UP's 12 columns with an empty 12th (or its columns as read, if it was
    read without predicates).
    """
    n = len(sentence.words)
    if frames is None:
        frames = sentence.gold_frames()
    frames = sorted(frames, key=lambda frame: frame[0])
    if frames:
        column = [NOT_A_PREDICATE] * n
        for position, roleset, cells in frames:
            if len(cells) != n:
                raise ValueError(
                    f"{sentence.path}:{sentence.line}: {len(cells)} argument cells for {n} words"
                )
            column[position] = roleset
        tails = ["\t".join([column[i], *(cells[i] for _, _, cells in frames)]) for i in range(n)]
    elif sentence.unlabelled is not None:
        tails = sentence.unlabelled
    else:
        tails = [NOT_A_PREDICATE + "\t"] * n
    lines = list(sentence.comments)
    word_rows = dict(zip(sentence.words, tails, strict=True))
    for index, row in enumerate(sentence.rows):
        lines.append(f"{row}\t{word_rows[index]}" if index in word_rows else row)
    return lines


def write_sentences(
    path: str | os.PathLike[str], sentences: Iterable[tuple[Sentence, Frames | None]]
) -> None:
    """Write ``(sentence, frames)`` pairs as a UP CoNLL-U file, a blank line after each (atomic)."""
    with atomic_writer(Path(path)) as handle:
        for sentence, frames in sentences:
            handle.write("".join(line + "\n" for line in sentence_lines(sentence, frames)) + "\n")
