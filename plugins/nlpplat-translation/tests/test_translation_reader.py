"""Reading parallel corpora: prefixes, .gz, TSV, and every misalignment as a file:line error."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from translation_samples import SOURCES, TARGETS

from nlpplat.errors import DataError, DataWarning
from nlpplat_translation.reader import language_files, read_pairs


def test_a_prefix_reads_both_sides_in_order(sample: Path) -> None:
    pairs = read_pairs(sample, "en", "de")
    assert [(p.source, p.target) for p in pairs] == list(zip(SOURCES, TARGETS, strict=True))
    assert (pairs[2].path, pairs[2].line) == (str(sample) + ".en", 3)


def test_either_language_file_names_the_split(sample: Path) -> None:
    by_prefix = read_pairs(sample, "en", "de")
    assert read_pairs(sample.with_name("sample.en"), "en", "de") == by_prefix
    assert read_pairs(sample.with_name("sample.de"), "en", "de") == by_prefix
    reversed_pairs = read_pairs(sample, "de", "en")
    assert [(p.source, p.target) for p in reversed_pairs] == list(zip(TARGETS, SOURCES, strict=True))


def test_gzipped_sides_are_read(tmp_path: Path, sample: Path) -> None:
    with gzip.open(tmp_path / "zipped.en.gz", "wt", encoding="utf-8") as handle:
        handle.write((sample.with_name("sample.en")).read_text(encoding="utf-8"))
    (tmp_path / "zipped.de").write_text(
        sample.with_name("sample.de").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert language_files(tmp_path / "zipped.en.gz", "en", "de")[0].name == "zipped.en.gz"
    assert [p.target for p in read_pairs(tmp_path / "zipped", "en", "de")] == TARGETS


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("Hello .\tHallo .\nA dog .\tEin Hund .\n", encoding="utf-8")
    assert [(p.source, p.target) for p in read_pairs(path, "en", "de")] == [
        ("Hello .", "Hallo ."),
        ("A dog .", "Ein Hund ."),
    ]
    path.write_text("Hello .\tHallo .\nonly one column\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}:2: expected source<TAB>target, found 1 columns"):
        read_pairs(path, "en", "de")


def test_sides_of_different_length_are_an_error_at_the_first_unmatched_line(sample: Path) -> None:
    target = sample.with_name("sample.de")
    target.write_text("".join(line + "\n" for line in TARGETS[:4]), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_pairs(sample, "en", "de")
    assert str(caught.value) == (
        f"{sample}.en:5: {target} ends after 4 lines; the two sides must be aligned line by line"
    )


def test_a_missing_side_names_the_file_expected(sample: Path) -> None:
    with pytest.raises(DataError, match=r"sample\.fr: no such file \(nor \.gz\): the fr side"):
        read_pairs(sample, "en", "fr")


def test_empty_sides_are_errors_naming_their_file_or_kept_with_a_warning(sample: Path) -> None:
    target = sample.with_name("sample.de")
    lines = target.read_text(encoding="utf-8").splitlines()
    lines[1] = "   "
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{target}:2: the de side is empty"):
        read_pairs(sample, "en", "de")
    with pytest.warns(DataWarning, match=rf"1 empty side, kept: {target}:2"):
        pairs = read_pairs(sample, "en", "de", allow_empty=True)
    assert len(pairs) == len(SOURCES) and pairs[1].target.strip() == ""


def test_over_long_lines_are_errors_naming_their_file(sample: Path) -> None:
    with pytest.raises(
        DataError, match=r"sample\.en:3: the en side has 13 words, more than task\.max_words=12"
    ):
        read_pairs(sample, "en", "de", max_words=12)
    with pytest.raises(
        DataError, match=r"sample\.de:3: the de side has 14 words, more than task\.max_words=13"
    ):
        read_pairs(sample, "en", "de", max_words=13)
