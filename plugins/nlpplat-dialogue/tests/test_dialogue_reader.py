"""Reading DailyDialog's files and JSON lines: structure, labels and every error with its place."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from dialogue_samples import SAMPLE, write_dailydialog

from nlpplat.errors import DataError, DataWarning
from nlpplat_dialogue.reader import ACTS, dialogue_from_json, read_dialogues


def test_dailydialog_turns_and_acts(sample: Path) -> None:
    dialogues = read_dialogues(sample)
    assert len(dialogues) == len(SAMPLE)
    first = dialogues[0]
    assert first.turns == ("Hi , Tom . How are you ?", "I 'm fine , thanks . And you ?", "Pretty good .")
    assert [ACTS[a] for a in first.acts] == ["question", "question", "inform"]
    assert (first.line, first.speaker(0), first.speaker(1), first.speaker(2)) == (1, "A", "B", "A")


def test_gzip_and_missing_act_file(tmp_path: Path) -> None:
    text = write_dailydialog(tmp_path, SAMPLE[:2], "train")
    with gzip.open(tmp_path / "train.dialogues.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write(text.read_text(encoding="utf-8"))
    text.unlink()
    [first, _] = read_dialogues(tmp_path / "train.dialogues.txt.gz")
    assert first.acts is not None  # the act file beside the .gz is found
    (tmp_path / "train.act.txt").unlink()
    assert read_dialogues(tmp_path / "train.dialogues.txt.gz")[0].acts is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Hello . __eou__ Hi . __eou__ trailing", "text after the last __eou__"),
        ("Hello . __eou__ __eou__", "utterance 2 is empty"),
        ("", "empty dialogue"),
    ],
)
def test_malformed_dialogues_are_errors_with_their_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.dialogues.txt"
    path.write_text(f"Hello . __eou__\n{line}\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"bad.dialogues.txt:2: {message}"):
        read_dialogues(path)


def test_label_files_must_have_one_line_per_dialogue(tmp_path: Path) -> None:
    text = write_dailydialog(tmp_path, SAMPLE[:3])
    labels = tmp_path / "sample.act.txt"
    lines = labels.read_text().splitlines(keepends=True)
    labels.write_text("".join(lines[:2]))
    with pytest.raises(DataError, match=r"sample.dialogues.txt:3: .*sample.act.txt ends after 2 lines"):
        read_dialogues(text)
    labels.write_text("".join(lines) + "1 2 \n")
    with pytest.raises(DataError, match=r"sample.act.txt:4: .*ends after 3 dialogues"):
        read_dialogues(text)
    labels.write_text("".join(lines[:2]) + "1 7 1 \n")
    with pytest.raises(DataError, match=r"sample.act.txt:3: act '7' is not one of 1-4"):
        read_dialogues(text)


def test_a_label_count_mismatch_drops_that_dialogues_labels_with_a_warning(tmp_path: Path) -> None:
    text = write_dailydialog(tmp_path, SAMPLE[:3])
    labels = tmp_path / "sample.act.txt"
    lines = labels.read_text().splitlines(keepends=True)
    lines[1] = "3 \n"  # dialogue 2 has two utterances but one act
    labels.write_text("".join(lines))
    with pytest.warns(DataWarning, match=r"sample.dialogues.txt:2 \(utterances: 2, acts: 1\)"):
        dialogues = read_dialogues(text)
    assert dialogues[1].acts is None and dialogues[1].turns  # text kept, labels never shifted
    assert dialogues[0].acts is not None and dialogues[2].acts is not None


def test_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    path.write_text(
        '{"turns": [{"speaker": "ann", "text": "Hi  there!", "act": "question"},'
        ' {"speaker": "bob", "text": "Hello.", "act": "inform"}]}\n'
        "\n"
        '["Just one", "plain list"]\n',
        encoding="utf-8",
    )
    first, second = read_dialogues(path)
    assert (
        first.turns == ("Hi there!", "Hello.") and first.speakers == ("ann", "bob") and first.acts == (1, 0)
    )
    assert second.turns == ("Just one", "plain list") and second.speakers is None and second.acts is None
    assert (second.line, second.speaker(1)) == (3, "B")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("{oops", "not valid JSON"),
        ('{"turns": []}', "at least one turn"),
        ('[{"text": ""}]', "turn 1 has no text"),
        ('[{"text": "a", "speaker": "x"}, {"text": "b"}]', "speaker of every turn or of none"),
        ('[{"text": "a", "act": "greeting"}]', "act 'greeting' is not one of"),
    ],
)
def test_bad_json_lines_are_errors_with_their_line(tmp_path: Path, record: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(f'["fine"]\n{record}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"bad.jsonl:2: .*{message}"):
        read_dialogues(path)


def test_dialogue_from_json_accepts_plain_strings() -> None:
    assert dialogue_from_json(["a", {"text": "b"}]).turns == ("a", "b")


@pytest.mark.slow
def test_dailydialog_in_the_mirror(dailydialog: Path) -> None:
    with pytest.warns(DataWarning, match=r"train.dialogues.txt.gz:7852 \(utterances: 12, acts: 11\)"):
        train = read_dialogues(dailydialog / "train.dialogues.txt.gz")
    dev = read_dialogues(dailydialog / "dev.dialogues.txt")
    test = read_dialogues(dailydialog / "test.dialogues.txt")
    assert (len(train), len(dev), len(test)) == (11118, 1000, 1000)
    assert sum(len(d.turns) for d in train) == 87171 and sum(len(d.turns) for d in test) == 7740
    seen = {d.turns for d in train}
    # The README counts 68 and 92 distinct dialogues; one of each occurs twice in its split.
    assert sum(d.turns in seen for d in dev) == 69 and sum(d.turns in seen for d in test) == 93
