"""Parallel corpora: sentence pairs aligned by line.

A split is either a path prefix with one file per language — ``PREFIX.en`` and
``PREFIX.de``, each optionally gzipped, line ``i`` of one the translation of line ``i`` of
the other — or one TSV file of ``source<TAB>target`` lines (``.tsv`` or ``.tsv.gz``).
The path of either language file also names its split (``train.en.gz`` stands for the
prefix ``train``). Files are streamed line by line.

Nothing is dropped silently: sides of different length, a TSV line without exactly one
tab, an empty side and a line longer than ``max_words`` are each a ``file:line`` error,
naming the file of the side at fault (pairs with an empty side may be kept on request,
with a warning that says where; they are never dropped, so predictions stay aligned with
the references line by line).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nlpplat.errors import DataError, warn_about_data
from nlpplat.io import numbered_lines


@dataclass
class Pair:
    """One sentence and its translation, with where it came from (``path:line``)."""

    source: str
    target: str
    path: str = "<text>"
    line: int = 0
    pieces: list[str] | None = field(default=None, repr=False, compare=False)  # source subwords (cache)
    target_ids: list[int] | None = field(default=None, repr=False, compare=False)  # target subwords (cache)


def _strip_gz(name: str) -> str:
    return name[: -len(".gz")] if name.endswith(".gz") else name


def is_tsv(path: Path) -> bool:
    return _strip_gz(path.name).endswith(".tsv")


def _existing(path: Path) -> Path | None:
    """``path`` or its ``.gz`` variant, whichever exists."""
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def language_files(path: Path, source: str, target: str) -> tuple[Path, Path]:
    """The source and target files of the split ``path`` (a prefix or either language file)."""
    name = _strip_gz(path.name)
    prefix = path.with_name(name)
    for language in (source, target):
        if name.endswith(f".{language}"):
            prefix = path.with_name(name[: -len(language) - 1])
    files = []
    for language in (source, target):
        found = _existing(prefix.with_name(f"{prefix.name}.{language}"))
        if found is None:
            raise DataError(
                prefix.with_name(f"{prefix.name}.{language}"),
                None,
                f"no such file (nor .gz): the {language} side of the split {prefix}; a split is "
                f"PREFIX.{source} + PREFIX.{target} or a two-column .tsv",
            )
        files.append(found)
    return files[0], files[1]


def read_pairs(
    path: Path, source: str, target: str, max_words: int = 250, allow_empty: bool = False
) -> list[Pair]:
    """Every sentence pair of the split ``path``, in order."""
    pairs: list[Pair] = []
    empty: list[str] = []
    for line, (source_file, source_text), (target_file, target_text) in _aligned_lines(path, source, target):
        for side, where, text in ((source, source_file, source_text), (target, target_file, target_text)):
            if not text.strip():
                if not allow_empty:
                    raise DataError(
                        where,
                        line,
                        f"the {side} side is empty; remove the pair from both sides, or set "
                        "task.allow_empty=true to keep such pairs (they are counted and reported)",
                    )
                empty.append(f"{where}:{line}")
            words = len(text.split())
            if words > max_words:
                raise DataError(
                    where,
                    line,
                    f"the {side} side has {words} words, more than task.max_words={max_words}; split the "
                    "sentence or raise the limit",
                )
        pairs.append(Pair(source_text, target_text, str(source_file), line))
    if empty:
        sides = "side" if len(empty) == 1 else "sides"
        warn_about_data(f"{len(empty)} empty {sides}, kept", empty, stacklevel=2)
    return pairs


def _aligned_lines(
    path: Path, source: str, target: str
) -> Iterator[tuple[int, tuple[Path, str], tuple[Path, str]]]:
    """(line number, (source file, source text), (target file, target text)) per pair."""
    if is_tsv(path):
        for number, text in numbered_lines(path):
            columns = text.split("\t")
            if len(columns) != 2:
                raise DataError(path, number, f"expected source<TAB>target, found {len(columns)} columns")
            yield number, (path, columns[0]), (path, columns[1])
        return
    source_file, target_file = language_files(path, source, target)
    missing = object()
    lines = itertools.zip_longest(numbered_lines(source_file), numbered_lines(target_file), fillvalue=missing)
    for left, right in lines:
        if left is missing or right is missing:
            longer, shorter, (number, _) = (
                (target_file, source_file, right) if left is missing else (source_file, target_file, left)
            )
            raise DataError(
                longer,
                number,
                f"{shorter} ends after {number - 1} lines; the two sides must be aligned line by line",
            )
        yield left[0], (source_file, left[1]), (target_file, right[1])
