"""Dialogues: DailyDialog's own files and a generic JSON-lines format.

DailyDialog (Li et al. 2017) keeps one dialogue per line of ``SPLIT.dialogues.txt``
(optionally ``.gz``), each utterance followed by ``__eou__``, and one line of
space-separated labels per dialogue in ``SPLIT.act.txt`` beside it (1 inform, 2 question,
3 directive, 4 commissive). Speakers alternate; the release names none.

A ``.jsonl`` file holds one dialogue per line, either
``{"turns": [{"speaker": "A", "text": "...", "act": "question"}, ...]}`` (speaker and act
optional) or a bare list of strings.

Every problem is a ``file:line`` error — an empty dialogue or utterance, text after the
last ``__eou__``, a label file with fewer or more lines than its dialogues, an unknown
label — except one: a dialogue whose label count differs from its utterance count (line
7,852 of DailyDialog's train split) keeps its text, loses its labels, and is reported in
a warning that says where, so labels never shift onto the wrong utterance.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from nlpplat.errors import DataError, warn_about_data
from nlpplat.io import numbered_lines

ACTS = ("inform", "question", "directive", "commissive")  # DailyDialog's codes 1-4, in order
END_OF_UTTERANCE = "__eou__"


@dataclass(frozen=True)
class Dialogue:
    """One conversation: its utterances, who said each (None: speakers alternate) and their acts."""

    turns: tuple[str, ...]
    speakers: tuple[str, ...] | None = None
    acts: tuple[int, ...] | None = None  # indices into ACTS, one per turn; None when unlabelled
    path: str = "<text>"
    line: int = 0

    def speaker(self, index: int) -> str:
        """Who said turn ``index``: its named speaker, else A and B alternating."""
        return self.speakers[index] if self.speakers is not None else "AB"[index % 2]


def _strip_gz(name: str) -> str:
    return name[: -len(".gz")] if name.endswith(".gz") else name


def is_jsonl(path: Path) -> bool:
    return _strip_gz(path.name).endswith(".jsonl")


def label_file(path: Path) -> Path | None:
    """The act file beside a DailyDialog text file (``dev.dialogues.txt`` → ``dev.act.txt``), if any."""
    name = _strip_gz(path.name)
    if not name.endswith("dialogues.txt"):
        return None
    stem = name[: -len("dialogues.txt")]
    for candidate in (f"{stem}act.txt", f"{stem}act.txt.gz"):
        if (path.parent / candidate).is_file():
            return path.parent / candidate
    return None


def read_dialogues(path: Path) -> list[Dialogue]:
    """Every dialogue of ``path`` (DailyDialog text file or ``.jsonl``), in order."""
    path = Path(path)
    return _read_jsonl(path) if is_jsonl(path) else _read_dailydialog(path)


def _read_dailydialog(path: Path) -> list[Dialogue]:
    labels = label_file(path)
    texts = numbered_lines(path)
    lines = (
        itertools.zip_longest(texts, numbered_lines(labels))
        if labels is not None
        else ((text_line, None) for text_line in texts)
    )
    dialogues, unlabelled = [], []
    for text_line, label_line in lines:
        if text_line is None:  # more label lines than dialogues
            raise DataError(labels, label_line[0], f"{path} ends after {label_line[0] - 1} dialogues")
        if label_line is None and labels is not None:
            raise DataError(path, text_line[0], f"{labels} ends after {text_line[0] - 1} lines of labels")
        number, text = text_line
        turns = _utterances(path, number, text)
        acts = None
        if label_line is not None:
            acts = _acts(labels, label_line[0], label_line[1])
            if len(acts) != len(turns):
                unlabelled.append(f"{path}:{number} (utterances: {len(turns)}, acts: {len(acts)})")
                acts = None
        dialogues.append(Dialogue(turns, None, acts, str(path), number))
    if unlabelled:
        dialogues_word = "dialogue" if len(unlabelled) == 1 else "dialogues"
        warn_about_data(
            f"acts left out (the text is kept) for {len(unlabelled)} {dialogues_word} whose act count "
            "differs from the utterance count",
            unlabelled,
            stacklevel=3,
        )
    return dialogues


def _utterances(path: Path, number: int, text: str) -> tuple[str, ...]:
    parts = [part.strip() for part in text.split(END_OF_UTTERANCE)]
    if parts[-1]:
        raise DataError(path, number, f"text after the last {END_OF_UTTERANCE}: {parts[-1][:40]!r}")
    turns = tuple(parts[:-1])
    if not turns:
        raise DataError(path, number, f"empty dialogue: no utterance ends with {END_OF_UTTERANCE}")
    for index, turn in enumerate(turns, 1):
        if not turn:
            raise DataError(path, number, f"utterance {index} is empty")
    return turns


def _acts(path: Path, number: int, text: str) -> tuple[int, ...]:
    acts = []
    for code in text.split():
        if code not in {"1", "2", "3", "4"}:
            raise DataError(path, number, f"act {code!r} is not one of 1-4 ({', '.join(ACTS)})")
        acts.append(int(code) - 1)
    return tuple(acts)


def _read_jsonl(path: Path) -> list[Dialogue]:
    dialogues = []
    for number, text in numbered_lines(path):
        if not text.strip():
            continue  # blank lines separate nothing in JSON lines; skipping them loses no data
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(path, number, f"not valid JSON ({error.msg} at column {error.colno})") from None
        dialogues.append(dialogue_from_json(record, str(path), number))
    return dialogues


def dialogue_from_json(record: object, path: str = "<text>", line: int = 0) -> Dialogue:
    """A dialogue from ``{"turns": [...]}`` or a bare list; turns are strings or objects."""
    turns = record.get("turns") if isinstance(record, dict) else record
    if not isinstance(turns, list) or not turns:
        raise DataError(
            path, line, 'expected {"turns": [...]} or a list of utterances, with at least one turn'
        )
    texts, speakers, acts = [], [], []
    for index, turn in enumerate(turns, 1):
        if isinstance(turn, str):
            turn = {"text": turn}
        if not isinstance(turn, dict) or not isinstance(turn.get("text"), str) or not turn["text"].strip():
            raise DataError(
                path, line, f"turn {index} has no text (a string, or an object with a 'text' string)"
            )
        texts.append(" ".join(turn["text"].split()))
        speakers.append(turn.get("speaker"))
        act = turn.get("act")
        if act is not None and act not in ACTS:
            raise DataError(path, line, f"turn {index}: act {act!r} is not one of {', '.join(ACTS)}")
        acts.append(None if act is None else ACTS.index(act))
    named = [speaker for speaker in speakers if speaker is not None]
    if named and len(named) != len(speakers):
        raise DataError(path, line, "name the speaker of every turn or of none")
    labelled = [act for act in acts if act is not None]
    if labelled and len(labelled) != len(acts):
        raise DataError(path, line, "give the act of every turn or of none")
    return Dialogue(
        tuple(texts),
        tuple(str(speaker) for speaker in speakers) if named else None,
        tuple(acts) if labelled else None,
        path,
        line,
    )
