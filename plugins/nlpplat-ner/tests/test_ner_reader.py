"""Reading column files: layouts, markers, comments, compression and every malformed case."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nlpplat import DataError
from nlpplat_ner.reader import Sentence, read_columns, write_columns
from nlpplat_ner.task import NERConfig, NERTask

CONLL = """\
-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
-DOCSTART- -X- O O
BRUSSELS NNP I-NP I-LOC
1996-08-22 CD I-NP O

-DOCSTART- -X- O O

"""


def write(tmp_path: Path, text: str, name: str = "data.conll") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, **config) -> list[Sentence]:
    return NERTask(NERConfig(**config)).read(path)


def test_reads_sentences_and_skips_document_markers_anywhere(tmp_path):
    path = write(tmp_path, CONLL)
    sentences = read(path)
    assert [s.tokens for s in sentences] == [
        ["EU", "rejects", "German", "call"],
        ["Peter", "Blackburn"],  # a marker without a blank line still ends the sentence
        ["BRUSSELS", "1996-08-22"],
    ]
    first = sentences[0]
    assert first.tags == ["I-ORG", "O", "I-MISC", "O"]
    assert first.rows[2] == ["German", "JJ", "I-NP", "I-MISC"]
    assert (first.path, first.line, first.scheme, first.separator) == (str(path), 3, "IOB1", " ")
    assert [s.line for s in sentences] == [3, 8, 11]
    assert [s.document for s in sentences] == [0, 0, 1]  # counted from the markers


def test_reads_gzip_transparently(tmp_path):
    path = tmp_path / "data.conll.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(CONLL)
    assert [s.tokens for s in read(path)] == [s.tokens for s in read(write(tmp_path, CONLL))]


def test_tab_separated_comments_and_columns_like_universal_ner(tmp_path):
    text = (
        "# newdoc id = doc1\n# sent_id = s1\n# text = New York rocks\n"
        "1\tNew York\tB-LOC\t-\tann\n2\trocks\tO\t-\t-\n\n"
        "# sent_id = s2\n1\tHi\tO\t-\t-\n"  # no blank line at the end of the file
    )
    sentences = read(write(tmp_path, text), token_column=1, tag_column=2)
    assert [s.tokens for s in sentences] == [["New York", "rocks"], ["Hi"]]  # tabs: spaces stay in tokens
    assert sentences[0].tags == ["B-LOC", "O"]
    assert (sentences[0].line, sentences[1].line, sentences[0].separator) == (4, 8, "\t")
    assert sentences[0].scheme == "IOB2"
    assert [s.document for s in sentences] == [None, None]  # no -DOCSTART- markers


def test_windows_line_endings_and_whitespace_only_lines(tmp_path):
    path = tmp_path / "crlf.conll"
    path.write_bytes(b"A NNP I-PER\r\nb NN O\r\n \t \r\nC NNP I-LOC\r\n")
    sentences = read(path)
    assert [s.tags for s in sentences] == [["I-PER", "O"], ["I-LOC"]]


def test_any_number_of_columns(tmp_path):
    assert read(write(tmp_path, "Paris B-LOC\n\n"))[0].tags == ["B-LOC"]
    assert read(write(tmp_path, "Paris x y z w B-LOC\n"))[0].tokens == ["Paris"]


def test_inconsistent_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path, "EU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nGerman JJ I-MISC\n")
    with pytest.raises(DataError) as caught:
        read(path)
    assert str(caught.value) == f"{path}:4: has 3 columns, but line 1 has 4 (separated by spaces)"
    assert (caught.value.path, caught.value.line) == (str(path), 4)


def test_inconsistent_column_count_in_tab_file(tmp_path):
    path = write(tmp_path, "1\tEU\tB-ORG\n2\trejects\n")
    with pytest.raises(DataError, match=r":2: has 2 columns, but line 1 has 3 \(separated by tabs\)"):
        read(path, token_column=1)


@pytest.mark.parametrize("tag", ["B-", "X-PER", "B-O", "PER", "i-PER"])
def test_invalid_tag_names_file_and_line(tmp_path, tag):
    path = write(tmp_path, f"EU NNP O\n\nPeter NNP B-PER\nBlack NNP {tag}\n")
    with pytest.raises(DataError) as caught:
        read(path)
    assert str(caught.value).startswith(f"{path}:4: invalid tag {tag!r}")
    assert "task.tag_column" in str(caught.value)


def test_wrong_tag_column_is_reported_with_a_hint(tmp_path):
    path = write(tmp_path, "1\tWhat\tO\t-\t-\n")
    with pytest.raises(DataError, match=r":1: invalid tag '-'.*tag column -1 of 5"):
        read(path, token_column=1)
    with pytest.raises(DataError, match=r":1: has 5 columns, so there is no tag column 7"):
        read(path, tag_column=7)


@pytest.mark.parametrize("text", ["", "\n\n", "-DOCSTART- -X- O O\n\n", "# only a comment\n"])
def test_no_sentences_is_an_error(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=r"data\.conll: no sentences"):
        read(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read(tmp_path / "absent.conll")


def test_empty_token_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r":2: empty token in column 0"):
        read(write(tmp_path, "a\tO\n\tO\n"))


def test_forced_scheme_that_does_not_fit_says_what_the_file_looks_like(tmp_path):
    path = write(tmp_path, CONLL)
    with pytest.raises(DataError) as caught:
        read(path, input_scheme="IOB2")
    assert str(caught.value) == (
        f"{path}:3: I-ORG after the sentence start begins an entity, which IOB2 does with B-ORG "
        "(the file looks like IOB1: set task.input_scheme=auto)"
    )


def test_invalid_bioes_sequence_is_located(tmp_path):
    path = write(tmp_path, "a S-PER\nb O\n\nc B-LOC\nd O\n")
    with pytest.raises(DataError, match=r":5: O follows an unfinished LOC entity"):
        read(path)


def test_forced_scheme_is_used_for_every_sentence(tmp_path):
    path = write(tmp_path, "Paris B-LOC\n\nRome O\n")
    assert {s.scheme for s in read(path, input_scheme="iob1")} == {"IOB1"}
    assert {s.scheme for s in read(path)} == {"IOB2"}


def test_comment_lines_only_before_a_sentence(tmp_path):
    # inside a sentence a '#' line is a token row: here its "tag" is invalid
    path = write(tmp_path, "# c\na B-PER\n# inside\n")
    with pytest.raises(DataError, match=":3: invalid tag 'inside'"):
        read(path)
    assert read(write(tmp_path, "# c\na S-PER\n# S-LOC\n"))[0].tokens == ["a", "#"]


def test_reader_streams(tmp_path):
    path = write(tmp_path, CONLL)
    stream = read_columns(path)
    assert next(stream).tokens[0] == "EU"  # a generator: sentences come before the file is done
    stream.close()


def test_write_columns_round_trip_keeps_separators(tmp_path):
    spaces = read(write(tmp_path, CONLL))
    tabs = read(write(tmp_path, "1\tNew York\tB-LOC\n2\tx\tO\n", "tabs.conll"), token_column=1, tag_column=2)
    for sentences in (spaces, tabs):
        predicted = [["O"] * len(s.tokens) for s in sentences]
        out = tmp_path / "out.conll"
        write_columns(out, sentences, predicted)
        again = list(read_columns(out, 1 if sentences is tabs else 0, -1))
        assert [s.tags for s in again] == predicted
        assert [s.rows for s in again] == [[[*row, "O"] for row in s.rows] for s in sentences]
        assert again[0].separator == sentences[0].separator
    assert out.read_text(encoding="utf-8") == "1\tNew York\tB-LOC\tO\n2\tx\tO\tO\n\n"


def test_write_columns_checks_lengths(tmp_path):
    sentences = read(write(tmp_path, CONLL))
    with pytest.raises(ValueError, match="1 values for 4 tokens"):
        write_columns(tmp_path / "out.conll", sentences[:1], [["O"]])
    assert not (tmp_path / "out.conll").exists()  # atomic: nothing half-written
