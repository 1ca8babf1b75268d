"""A small synthetic NER corpus in the CoNLL-2003 format, for demos and smoke tests.

Sentences come from templates filled with names; every file is written from its own
seeded :class:`random.Random`, so the bytes never change. Like CoNLL-2003 it has four
space-separated columns (``token POS chunk NER``), IOB1 tags for chunks and entities
(``B-`` only where two same-type entities touch, which the "doubles" and "group"
templates make happen), ``-DOCSTART-`` lines between documents, and the types PER,
ORG, LOC and MISC, some of them several tokens long. Contexts are distinctive and the
name lists are closed, so a small model reaches a high F1 within a few epochs.
"""

from __future__ import annotations

import random
from pathlib import Path

from nlpplat.io import atomic_writer
from nlpplat_ner.schemes import Span, from_spans

SIZES = {"train": 800, "dev": 150, "test": 150}  # sentences per split
SEEDS = {"train": 1, "dev": 2, "test": 3}
SENTENCES_PER_DOCUMENT = 25

FIRST_NAMES = [
    "John", "Maria", "Peter", "Anna", "David", "Elena", "Thomas", "Sarah", "Michael", "Laura", "Ahmed",
    "Yuki", "Carlos", "Ingrid", "Pavel", "Grace", "Hans", "Sofia", "Kofi", "Mei", "Lars", "Fatima",
    "Pierre", "Olga",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Mueller", "Rossi", "Tanaka", "Kowalski", "Johnson", "Dubois", "Garcia", "Olsen", "Novak",
    "Brown", "Schmidt", "Petrov", "Silva", "Keller", "Evans", "Jordan", "Washington", "Mensah",
    "Lindqvist", "Moreau", "Haddad",
]  # fmt: skip
LOCATIONS = [
    "Germany", "France", "Paris", "London", "New York", "Tokyo", "Brazil", "Kenya", "Madrid",
    "South Africa", "Hong Kong", "Buenos Aires", "Cairo", "Oslo", "Sydney", "Los Angeles",
    "Washington", "Jordan", "Italy", "Poland", "Sweden", "Ghana", "Lebanon", "Rio de Janeiro",
]  # fmt: skip
COUNTRIES = [
    "Germany", "France", "Brazil", "Kenya", "Italy", "Poland", "Sweden", "Ghana", "Lebanon", "Norway",
]  # fmt: skip
ORGANISATIONS = [
    "Reuters", "United Nations", "European Commission", "Bank of England", "Siemens",
    "Toyota Motor Corp", "Real Madrid", "Manchester United", "World Bank", "Red Cross",
    "General Motors", "Deutsche Bank", "NATO", "Ajax Amsterdam", "Bayern Munich", "Interpol",
]  # fmt: skip
CLUBS = ["Real Madrid", "Manchester United", "Ajax Amsterdam", "Bayern Munich", "Juventus", "Celtic"]
EVENTS = ["World Cup", "Olympic Games", "Nobel Prize", "Tour de France", "Monaco Grand Prix", "US Open"]
NATIONALITIES = [
    "German", "French", "British", "Japanese", "Brazilian", "Kenyan", "Italian", "Swedish", "Dutch",
]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
]  # fmt: skip

# One template per line: ``word/POS`` or a slot. Entity slots: {PER}, {SURNAME} (PER),
# {LOC}, {COUNTRY} (LOC), {ORG}, {CLUB} (ORG), {EVENT} and {NAT} (MISC). Other slots:
# {DAY}, {MONTH}, {NUM}, {YEAR}, {SCORE}.
TEMPLATES = """\
{PER} said/VBD on/IN {DAY} that/IN {ORG} would/MD open/VB a/DT new/JJ office/NN in/IN {LOC} ./.
{ORG} shares/NNS rose/VBD {NUM} percent/NN in/IN {LOC} on/IN {DAY} ./.
The/DT {NAT} government/NN said/VBD it/PRP would/MD hold/VB talks/NNS with/IN {PER} ./.
{PER} won/VBD the/DT {EVENT} in/IN {LOC} last/JJ year/NN ./.
SOCCER/NN -/: {CLUB} BEAT/VBD {CLUB} {SCORE} ./.
{COUNTRY} and/CC {COUNTRY} signed/VBD a/DT trade/NN deal/NN ,/, {SURNAME} told/VBD {ORG} ./.
{PER} ,/, who/WP joined/VBD {ORG} in/IN {YEAR} ,/, will/MD lead/VB the/DT team/NN ./.
Police/NNS in/IN {LOC} arrested/VBD {NUM} {NAT} fans/NNS after/IN the/DT {EVENT} match/NN ./.
{ORG} chief/NN executive/NN {PER} resigned/VBD on/IN {DAY} ./.
Talks/NNS between/IN {COUNTRY} and/CC the/DT {ORG} ended/VBD without/IN agreement/NN ,/, officials/NNS said/VBD ./.
Doubles/NNS :/: {PER} {PER} beat/VBD {PER} {PER} {SCORE} {SCORE} ./.
Group/NN A/NNP :/: {COUNTRY} {COUNTRY} {COUNTRY} {COUNTRY}
{NAT} striker/NN {PER} scored/VBD twice/RB as/IN {CLUB} beat/VBD {CLUB} {SCORE} ./.
{PER} arrived/VBD in/IN {LOC} on/IN {DAY} for/IN talks/NNS with/IN {NAT} leaders/NNS ./.
The/DT {ORG} said/VBD {NAT} exports/NNS fell/VBD {NUM} percent/NN in/IN {MONTH} ./.
{COUNTRY} 's/POS central/JJ bank/NN left/VBD interest/NN rates/NNS unchanged/JJ on/IN {DAY} ./.
It/PRP was/VBD the/DT first/JJ time/NN since/IN {YEAR} that/IN {COUNTRY} had/VBD won/VBN the/DT {EVENT} ./.
{SURNAME} told/VBD reporters/NNS in/IN {LOC} :/: "/`` We/PRP are/VBP very/RB happy/JJ ./. "/''
{PER} (/( {COUNTRY} )/) {SCORE} {SCORE}
The/DT weather/NN in/IN the/DT north/NN was/VBD fine/JJ on/IN {DAY} ./.
Prices/NNS rose/VBD {NUM} percent/NN in/IN {MONTH} ,/, the/DT statistics/NNS office/NN said/VBD ./.
{SURNAME} ,/, {NUM} ,/, has/VBZ played/VBN for/IN {CLUB} since/IN {YEAR} ./.
A/DT spokesman/NN for/IN {ORG} in/IN {LOC} declined/VBD to/TO comment/VB ./.
{NAT} and/CC {NAT} troops/NNS left/VBD {LOC} on/IN {DAY} ,/, {ORG} reported/VBD ./.
"""

# POS -> chunk type, as in the CoNLL-2003 chunk column; anything else is outside chunks.
CHUNKS = {"NN": "NP", "NNS": "NP", "NNP": "NP", "DT": "NP", "JJ": "NP", "PRP": "NP", "CD": "NP", "POS": "NP"}
CHUNKS |= {"WP": "NP", "VBD": "VP", "VBZ": "VP", "VBP": "VP", "VBN": "VP", "VB": "VP", "MD": "VP", "TO": "VP"}
CHUNKS |= {"IN": "PP", "RB": "ADVP"}


def _fill(slot: str, rng: random.Random) -> tuple[list[tuple[str, str]], str]:
    """A slot's ``(word, POS)`` pairs and its entity type ("" for none)."""

    def proper(name: str) -> list[tuple[str, str]]:
        # lowercase words inside names ("Bank of England", "Rio de Janeiro") are IN
        return [(word, "NNP" if word[0].isupper() or word[0].isdigit() else "IN") for word in name.split()]

    choice = rng.choice
    if slot == "PER":
        return proper(f"{choice(FIRST_NAMES)} {choice(LAST_NAMES)}"), "PER"
    entities = {"SURNAME": (LAST_NAMES, "PER"), "LOC": (LOCATIONS, "LOC"), "COUNTRY": (COUNTRIES, "LOC")}
    entities |= {"ORG": (ORGANISATIONS, "ORG"), "CLUB": (CLUBS, "ORG"), "EVENT": (EVENTS, "MISC")}
    if slot in entities:
        names, kind = entities[slot]
        return proper(choice(names)), kind
    if slot == "NAT":
        return [(choice(NATIONALITIES), "JJ")], "MISC"
    words = {
        "DAY": lambda: choice(DAYS),
        "MONTH": lambda: choice(MONTHS),
        "NUM": lambda: str(rng.randint(2, 99)),
        "YEAR": lambda: str(rng.randint(1985, 1996)),
        "SCORE": lambda: f"{rng.randint(0, 7)}-{rng.randint(0, 7)}",
    }
    word = words[slot]()
    return [(word, "NNP" if slot in ("DAY", "MONTH") else "CD")], ""


def _sentence(template: str, rng: random.Random) -> list[str]:
    """One sentence as lines ``token POS chunk NER``."""
    tokens: list[tuple[str, str]] = []
    spans: list[Span] = []
    for item in template.split():
        if item.startswith("{"):
            pairs, kind = _fill(item.strip("{}"), rng)
            if kind:
                spans.append(Span(kind, len(tokens), len(tokens) + len(pairs)))
            tokens.extend(pairs)
        else:
            word, _, pos = item.rpartition("/")
            tokens.append((word, pos))
    entity_starts = {span.start for span in spans}
    entity_ends = {span.end for span in spans}
    chunks, previous = [], "O"
    for position, (_, pos) in enumerate(tokens):
        kind = CHUNKS.get(pos, "O")
        # A new chunk of the same type right after another gets B- (IOB1): at a
        # possessive, and where one entity directly follows another.
        new = pos == "POS" or (position in entity_starts and position in entity_ends)
        chunks.append("O" if kind == "O" else f"{'B' if new and kind == previous else 'I'}-{kind}")
        previous = kind
    tags = from_spans(spans, len(tokens), "IOB1")
    return [
        f"{word} {pos} {chunk} {tag}" for (word, pos), chunk, tag in zip(tokens, chunks, tags, strict=True)
    ]


def demo_lines(split: str) -> list[str]:
    """The lines of one split's file, without line endings."""
    rng = random.Random(SEEDS[split])
    templates = TEMPLATES.splitlines()
    lines: list[str] = []
    for index in range(SIZES[split]):
        if index % SENTENCES_PER_DOCUMENT == 0:
            lines += ["-DOCSTART- -X- -X- O", ""]
        lines += [*_sentence(rng.choice(templates), rng), ""]
    return lines


def write_demo(folder: Path) -> None:
    """Write ``train.conll``, ``dev.conll`` and ``test.conll`` into ``folder``; same bytes every call."""
    folder = Path(folder)
    for split in SIZES:
        with atomic_writer(folder / f"{split}.conll") as handle:
            handle.write("".join(line + "\n" for line in demo_lines(split)))
