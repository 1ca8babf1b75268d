"""Reading and writing CoNLL-style column files.

One token per line, columns separated by spaces or by tabs (a file whose first token
line has a tab is split on tabs only, so tokens may then contain spaces), a blank line
after each sentence. ``-DOCSTART-`` lines mark documents and are skipped wherever they
are; ``#`` lines before a sentence's first token are comments (CoNLL-U style, as in
Universal NER). Lines are streamed; nothing holds a whole file in one string.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlpplat.errors import DataError
from nlpplat.io import atomic_writer, numbered_lines

DOCSTART = "-DOCSTART-"


@dataclass
class Sentence:
    """One sentence of a column file: the example type of the ``ner`` task.

    tokens:    the token column
    tags:      the tag column, as written in the file
    rows:      every column of every token line, kept to write predictions beside them
    path:      the file it came from
    line:      the line number of its first token (token ``i`` is on line ``line + i``)
    scheme:    the tag scheme of its file (IOB1, IOB2 or BIOES), set by the task
    separator: the column separator of its file (space or tab), reused when writing
    document:  which document of its file it belongs to, counting ``-DOCSTART-`` markers
               from 0; None in a file without markers
    """

    tokens: list[str]
    tags: list[str]
    rows: list[list[str]]
    path: str
    line: int
    scheme: str = "IOB2"
    separator: str = " "
    document: int | None = None


def read_columns(
    path: str | os.PathLike[str], token_column: int = 0, tag_column: int = -1
) -> Iterator[Sentence]:
    """Yield the sentences of a column file (``.gz`` transparently), in file order.

    Raises :class:`DataError` at ``file:line`` for a line whose column count differs
    from the file's first token line, or one without the token or tag column. Tags
    are returned as they are; checking them is the caller's job.
    """
    rows: list[list[str]] = []
    first_line = 0
    width = 0  # columns per token line, fixed by the first one
    width_line = 0
    separator = ""
    markers = 0  # -DOCSTART- lines so far: the current document is markers - 1

    def sentence() -> Sentence:
        return Sentence(
            tokens=[row[token_column] for row in rows],
            tags=[row[tag_column] for row in rows],
            rows=rows,
            path=str(path),
            line=first_line,
            separator=separator or " ",
            document=markers - 1 if markers else None,
        )

    for number, line in numbered_lines(path):
        if not line.strip() or line.startswith(DOCSTART):
            # a document marker is also a sentence boundary, even without a blank line
            if rows:
                yield sentence()
                rows = []
            if line.startswith(DOCSTART):
                markers += 1
            continue
        if line.startswith("#") and not rows:
            continue
        if not separator:
            separator = "\t" if "\t" in line else " "
        fields = line.split("\t") if separator == "\t" else line.split()
        if not width:
            width, width_line = len(fields), number
            for name, column in (("token", token_column), ("tag", tag_column)):
                if not -width <= column < width:
                    message = f"has {width} columns, so there is no {name} column {column}"
                    raise DataError(path, number, f"{message} (set task.{name}_column; -1 is the last)")
        elif len(fields) != width:
            spacing = "tabs" if separator == "\t" else "spaces"
            message = f"has {len(fields)} columns, but line {width_line} has {width} (separated by {spacing})"
            raise DataError(path, number, message)
        token = fields[token_column]
        if not token:
            raise DataError(path, number, f"empty token in column {token_column}")
        if token == DOCSTART:  # a marker in a layout where the token is not the first column
            if rows:
                yield sentence()
                rows = []
            markers += 1
            continue
        if not rows:
            first_line = number
        rows.append(fields)
    if rows:
        yield sentence()


def write_columns(
    path: str | os.PathLike[str], sentences: Sequence[Sentence], extra: Sequence[Sequence[str]]
) -> None:
    """Write each sentence's rows plus one extra column (``extra[i][j]`` for token ``j``).

    The output keeps each file's separator and puts a blank line after every sentence,
    so ``token ... gold predicted`` reads back with :func:`read_columns`. Atomic.
    """
    with atomic_writer(Path(path)) as handle:
        for sentence, column in zip(sentences, extra, strict=True):
            if len(column) != len(sentence.rows):
                raise ValueError(
                    f"{sentence.path}:{sentence.line}: {len(column)} values for {len(sentence.rows)} tokens"
                )
            for row, value in zip(sentence.rows, column, strict=True):
                handle.write(sentence.separator.join([*row, value]) + "\n")
            handle.write("\n")
