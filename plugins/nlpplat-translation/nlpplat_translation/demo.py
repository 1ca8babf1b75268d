"""A small synthetic parallel corpus, for demos and tests: English into "Demo".

Demo is a made-up language with its own words (a fixed lexicon), adjectives after their
noun and the verb at the end of the clause (subject, object, verb, like a German
subordinate clause), so a model has to learn word translation *and* reordering. Each
split comes from its own seeded :class:`random.Random`, so the bytes never change.
"""

from __future__ import annotations

import random
from pathlib import Path

from nlpplat.io import atomic_writer

SIZES = {"train": 3000, "dev": 200, "test": 200}
SEEDS = {"train": 21, "dev": 22, "test": 23}
SOURCE, TARGET = "en", "demo"

NOUNS = {
    "dog": "hunto", "cat": "katsi", "man": "miro", "woman": "fena", "child": "kinda",
    "ball": "bolo", "bike": "rado", "street": "strasa", "house": "hauso", "tree": "bauma",
}  # fmt: skip
ADJECTIVES = {"small": "klin", "red": "roti", "old": "alta", "young": "juna", "happy": "glika"}
VERBS = {"sees": "vidas", "rides": "fahras", "holds": "haltas", "likes": "mogas", "paints": "malas"}
PLACES = {"in the park": "parko-en", "on the street": "strasa-on", "near the house": "hauso-bei"}


def _phrase(rng: random.Random) -> tuple[str, str]:
    noun = rng.choice(sorted(NOUNS))
    if rng.random() < 0.5:
        adjective = rng.choice(sorted(ADJECTIVES))
        return f"the {adjective} {noun}", f"la {NOUNS[noun]} {ADJECTIVES[adjective]}"
    return f"the {noun}", f"la {NOUNS[noun]}"


def sentence(rng: random.Random) -> tuple[str, str]:
    """One English sentence and its Demo translation."""
    subject, subject_demo = _phrase(rng)
    obj, obj_demo = _phrase(rng)
    verb = rng.choice(sorted(VERBS))
    english = f"{subject} {verb} {obj}"
    demo = f"{subject_demo} {obj_demo} {VERBS[verb]}"
    if rng.random() < 0.4:
        place = rng.choice(sorted(PLACES))
        english += f" {place}"
        demo = f"{PLACES[place]} {demo}"
    return english[0].upper() + english[1:] + ".", demo[0].upper() + demo[1:] + "."


def write_demo(folder: Path) -> None:
    """Write ``{train,dev,test}.en`` and ``.demo`` into ``folder``."""
    for split, size in SIZES.items():
        rng = random.Random(SEEDS[split])
        pairs = [sentence(rng) for _ in range(size)]
        for index, language in enumerate((SOURCE, TARGET)):
            with atomic_writer(folder / f"{split}.{language}") as handle:
                handle.writelines(pair[index] + "\n" for pair in pairs)
