"""A small DailyDialog-format sample for the dialogue tests."""

from __future__ import annotations

from pathlib import Path

# (utterance, act code) per turn; acts as in DailyDialog: 1 inform, 2 question, 3 directive, 4 commissive.
SAMPLE = [
    [("Hi , Tom . How are you ?", 2), ("I 'm fine , thanks . And you ?", 2), ("Pretty good .", 1)],
    [("Would you like some tea ?", 3), ("Yes , I 'd love some tea .", 4)],
    [("Excuse me , where is the bank ?", 2), ("The bank is on the left .", 1), ("Thank you .", 1)],
    [("How much is this coat ?", 2), ("The coat is 40 dollars .", 1), ("I 'll take it .", 4)],
    [("Shall we go to the cinema tonight ?", 3), ("Sure , tonight is fine with me .", 4)],
    [
        ("Could you pass me the salt ?", 3),
        ("Here you are .", 1),
        ("Thanks a lot .", 1),
        ("You 're welcome .", 1),
    ],
]


def write_dailydialog(folder: Path, dialogues: list[list[tuple[str, int]]], name: str = "sample") -> Path:
    """``NAME.dialogues.txt`` and ``NAME.act.txt`` in DailyDialog's layout; returns the text file."""
    text = folder / f"{name}.dialogues.txt"
    text.write_text(
        "".join("".join(f"{u} __eou__" for u, _ in d) + "\n" for d in dialogues), encoding="utf-8"
    )
    (folder / f"{name}.act.txt").write_text("".join("".join(f"{a} " for _, a in d) + "\n" for d in dialogues))
    return text
