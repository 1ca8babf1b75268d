"""The UP CoNLL-U reader and writer: parsing, errors at file:line, byte-identical round trips."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from srl_samples import SAMPLE, SAMPLE_LINES, row, word

from nlpplat.errors import DataError
from nlpplat_srl.conllu import Sentence, read_sentences, sentence_lines, write_sentences


def test_sample_is_parsed(sample: Path) -> None:
    s1, s2, s3, s4, s5 = read_sentences(sample)
    assert s1.tokens == ["Maria", "ran", "the", "bakery", "and", "ran", "to", "the", "station", "."]
    assert s1.predicates == [1, 5] and s1.rolesets == ["run.01", "run.02"]
    assert s1.arguments[1] == ["ARG0", "_", "_", "_", "_", "V", "_", "_", "ARGM-DIR", "_"]
    assert s1.heads == [1, -1, 3, 1, 5, 1, 8, 8, 5, 1]
    assert s1.comments == ["# sent_id = s1", "# text = Maria ran the bakery and ran to the station."]
    assert (s1.path, s1.line) == (str(sample), 3)
    # the range and the empty node are rows, not tokens
    assert s2.tokens == ["John", "did", "n't", "write", "the", "letter", "."]
    assert len(s2.rows) == 9 and s2.words == [0, 2, 3, 4, 5, 6, 8]
    assert s2.lemmas[2] == "not" and s2.predicates == [3]
    assert s3.annotated and s3.predicates == [] and s3.unlabelled == ["_\t", "_\t"]
    assert not s4.annotated and s4.predicates == [] and s4.unlabelled == ["\t", "\t"]
    assert s5.tokens == ["Stop"] and s5.predicates == [0] and s5.arguments == [["V"]]


def test_gold_round_trip_is_byte_identical(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.conllu"
    write_sentences(out, [(sentence, None) for sentence in read_sentences(sample)])
    assert out.read_text(encoding="utf-8") == SAMPLE


def test_gzip_reads_the_same(sample: Path, tmp_path: Path) -> None:
    packed = tmp_path / "sample.conllu.gz"
    packed.write_bytes(gzip.compress(SAMPLE.encode()))
    assert [s.tokens for s in read_sentences(packed)] == [s.tokens for s in read_sentences(sample)]


def test_predicted_frames_replace_the_srl_columns(sample: Path) -> None:
    s1, _, s3, s4, _ = read_sentences(sample)
    cells = ("_", "V", "_", "ARG1", "_", "_", "_", "_", "_", "_")
    lines = sentence_lines(s1, [(1, "run.02", cells)])
    assert [line.split("\t")[10:] for line in lines[2:5]] == [["_", "_"], ["run.02", "V"], ["_", "_"]]
    # no predicates predicted: UP's 12 columns, the 12th empty
    assert sentence_lines(s1, [])[2].endswith("\t_\t")
    # sentences read without predicates keep their columns as they were
    assert sentence_lines(s3, []) == SAMPLE_LINES[25:29]
    assert sentence_lines(s4, [])[3].endswith("\t\t")
    # and a sentence gets predicates it did not have
    assert sentence_lines(s3, [(0, "thank.01", ("V", "_"))])[2].endswith("\tthank.01\tV")


def test_sentence_from_raw_tokens() -> None:
    sentence = Sentence.from_tokens(["Hi", "there"])
    assert sentence.heads is None and not sentence.annotated
    assert sentence_lines(sentence, [(0, "hi.01", ("V", "_"))]) == [
        "1\tHi\t_\t_\t_\t_\t_\t_\t_\t_\thi.01\tV",
        "2\tthere\t_\t_\t_\t_\t_\t_\t_\t_\t_\t_",
    ]


def replace(line_number: int, text: str) -> str:
    lines = list(SAMPLE_LINES)
    lines[line_number - 1] = text
    return "".join(line + "\n" for line in lines)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (replace(4, word(2, "ran", "run", "VERB", 0, "root", "run.01", "V")), 4, "has 12 columns, but"),
        (replace(3, "1 Maria Maria PROPN _ _ 2 nsubj _ _ _ ARG0 ARG0"), 3, "columns are separated by tabs"),
        (replace(4, word(3, "ran", "run", "VERB", 0, "root", "run.01", "V", "_")), 4, "word ID 3 where 2"),
        (replace(4, word(2, "ran", "run", "VERB", 0, "root", "run01", "V", "_")), 4, "not lemma.sense"),
        (replace(4, word(2, "ran", "run", "VERB", 0, "root", "", "V", "_")), 4, "empty roleset cell"),
        (
            replace(4, word(2, "ran", "run", "VERB", 0, "root", "_", "V", "_")),
            3,
            "1 predicate(s) in column 11 but 2",
        ),
        (replace(6, word(4, "bakery", "bakery", "NOUN", 2, "obj", "_", "", "_")), 6, "argument cell ''"),
        (replace(6, word(4, "bakery", "bakery", "NOUN", 12, "obj", "_", "ARG1", "_")), 6, "HEAD '12'"),
        (replace(17, row("2-3", "didn't", *["_"] * 9)), 17, "an empty node or multiword-token row has"),
        (replace(23, row("6.1", "wrote", *["_"] * 8, "ARG1", "")), 23, "carry no SRL labels"),
        (replace(28, word(1, "Thanks", "thanks", "NOUN", 0, "root", "_", "ARG0")), 28, "without predicates"),
        (replace(35, word(2, "us", "we", "PRON", 1, "obj", "", "ARG1")), 35, "with an empty column 11"),
        (replace(39, "# no words"), 40, "comment lines not followed by a sentence"),
        (replace(5, "# inside"), 5, "a comment inside a sentence"),
        (replace(3, word(1, "Maria", "Maria", "PROPN", 2, "nsubj", "_")), 3, "expected at least 12"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "bad.conllu"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        list(read_sentences(path))
    assert f"{path}:{line}: " in str(caught.value)
    assert message in str(caught.value)


def test_trailing_comments_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "tail.conllu"
    path.write_text(SAMPLE + "# dangling\n", encoding="utf-8")
    with pytest.raises(DataError, match="ends with comment lines"):
        list(read_sentences(path))
    with pytest.raises(DataError, match="no such file"):
        list(read_sentences(tmp_path / "missing.conllu"))


# -- the real files -------------------------------------------------------------------------
README_SIZES = {  # split: sentences, words, sentences with predicates, predicates, no-up, rolesets
    "dev": (2_002, 25_148, 1_536, 4_977, 28, 1_074),
    "test": (2_077, 25_096, 1_538, 4_799, 15, 1_025),
    "train": (12_543, 204_585, 10_554, 40_482, 1, 3_107),
}


@pytest.mark.slow
@pytest.mark.parametrize("split", list(README_SIZES))
def test_real_files_match_the_readme_and_round_trip(up_files: Path, tmp_path: Path, split: str) -> None:
    path = up_files / f"{split}.conllu.gz"
    sentences = list(read_sentences(path))
    found = (
        len(sentences),
        sum(len(s.tokens) for s in sentences),
        sum(bool(s.predicates) for s in sentences),
        sum(len(s.predicates) for s in sentences),
        sum(not s.annotated for s in sentences),
        len({roleset for s in sentences for roleset in s.rolesets}),
    )
    assert found == README_SIZES[split]
    out = tmp_path / "round.conllu"
    write_sentences(out, [(sentence, None) for sentence in sentences])
    assert out.read_bytes() == gzip.decompress(path.read_bytes())
