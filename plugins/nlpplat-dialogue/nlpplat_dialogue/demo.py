"""A small synthetic dialogue corpus in DailyDialog's own format, for demos and tests.

Short conversations built from a few scripts (greeting, offer, invitation, directions,
shopping) with random slot fillers. The response depends on the context — an accepted
offer repeats the offered thing, directions name the place asked for — so a model must
read the context to do well, and every utterance carries its act. Each split comes
from its own seeded :class:`random.Random`, so the bytes never change.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from nlpplat.io import atomic_writer

SIZES = {"train": 1500, "dev": 100, "test": 100}
SEEDS = {"train": 31, "dev": 32, "test": 33}
INFORM, QUESTION, DIRECTIVE, COMMISSIVE = 1, 2, 3, 4  # DailyDialog's act codes

NAMES = ("Tom", "Anna", "Jim", "Lucy", "Mark", "Sara")
FOODS = ("tea", "coffee", "cake", "pizza", "soup", "juice")
PLACES = ("bank", "station", "museum", "library", "park", "hospital")
DAYS = ("Monday", "Friday", "tonight", "tomorrow", "Sunday")
THINGS = ("shirt", "coat", "bag", "hat", "watch")

Turn = tuple[str, int]


def _greeting(rng: random.Random) -> list[Turn]:
    name = rng.choice(NAMES)
    return [
        (f"Hi , {name} . How are you ?", QUESTION),
        ("I 'm fine , thanks . And you ?", QUESTION),
        ("Pretty good , thank you .", INFORM),
    ]


def _offer(rng: random.Random) -> list[Turn]:
    food = rng.choice(FOODS)
    if rng.random() < 0.5:
        return [(f"Would you like some {food} ?", DIRECTIVE), (f"Yes , I 'd love some {food} .", COMMISSIVE)]
    return [
        (f"Would you like some {food} ?", DIRECTIVE),
        (f"No , thanks . I do n't like {food} .", COMMISSIVE),
    ]


def _invitation(rng: random.Random) -> list[Turn]:
    day = rng.choice(DAYS)
    return [
        (f"Shall we go to the cinema {day} ?", DIRECTIVE),
        (f"Sure , {day} is fine with me .", COMMISSIVE),
        ("Great , see you then .", INFORM),
    ]


def _directions(rng: random.Random) -> list[Turn]:
    place = rng.choice(PLACES)
    side = rng.choice(("left", "right"))
    return [
        (f"Excuse me , where is the {place} ?", QUESTION),
        (f"The {place} is on the {side} , next to the post office .", INFORM),
        ("Thank you very much .", INFORM),
    ]


def _shopping(rng: random.Random) -> list[Turn]:
    thing = rng.choice(THINGS)
    price = rng.choice((10, 20, 25, 40, 50))
    return [
        (f"How much is this {thing} ?", QUESTION),
        (f"The {thing} is {price} dollars .", INFORM),
        (f"I 'll take the {thing} .", COMMISSIVE),
    ]


SCRIPTS: tuple[Callable[[random.Random], list[Turn]], ...] = (
    _greeting,
    _offer,
    _invitation,
    _directions,
    _shopping,
)


def dialogue(rng: random.Random) -> list[Turn]:
    """One to two scripts, one after the other."""
    turns = rng.choice(SCRIPTS)(rng)
    if rng.random() < 0.4:
        turns += rng.choice(SCRIPTS)(rng)
    return turns


def write_demo(folder: Path) -> None:
    """Write ``{train,dev,test}.dialogues.txt`` and ``.act.txt`` into ``folder``."""
    for split, size in SIZES.items():
        rng = random.Random(SEEDS[split])
        dialogues = [dialogue(rng) for _ in range(size)]
        with atomic_writer(folder / f"{split}.dialogues.txt") as text:
            text.writelines(
                "".join(f"{utterance} __eou__" for utterance, _ in turns) + "\n" for turns in dialogues
            )
        with atomic_writer(folder / f"{split}.act.txt") as acts:
            acts.writelines("".join(f"{act} " for _, act in turns) + "\n" for turns in dialogues)
