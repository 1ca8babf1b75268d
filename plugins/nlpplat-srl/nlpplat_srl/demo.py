"""A small synthetic SRL corpus in the UP CoNLL-U format, for demos and smoke tests.

Sentences are built from templates, with a dependency tree, lemmas and a PropBank layer;
each split comes from its own seeded :class:`random.Random`, so the bytes never change.
The corpus has what the real files have: sentences with one and two predicates, argument
heads with core roles and modifiers (``ARGM-TMP``, ``-LOC``, ``-MOD``, ``-NEG``, ``-DIR``),
two verbs whose sense depends on the context (``run.01`` "run a company" against
``run.02`` "run to the station"; ``leave.01`` against ``leave.02`` "leave something to
someone"), sentences without predicates, one sentence without annotation
(``# propbank = no-up``), multiword tokens (``didn't`` = ``did`` + ``n't``) and empty nodes
(an elided verb). The cues are local and the vocabulary closed, so a small model learns it
within a few epochs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from nlpplat.io import atomic_writer

SIZES = {"train": 600, "dev": 120, "test": 120}  # sentences per split
SEEDS = {"train": 11, "dev": 12, "test": 13}

PEOPLE = ["Maria", "John", "Anna", "Peter", "Yuki", "Carlos", "Fatima", "Lars", "Grace", "Omar"]
GROUPS = ["court", "committee", "board", "council", "senate", "union"]
THINGS = ["report", "plan", "budget", "letter", "proposal", "book"]
ADJECTIVES = ["new", "short", "final", "secret"]
PLACES = ["Paris", "London", "Lagos", "Oslo", "Lima"]
SITES = ["station", "office", "market", "harbour"]
COMPANIES = ["company", "bakery", "shop", "newspaper"]
DAYS = ["Monday", "Tuesday", "Friday", "Sunday"]
NUMBERS = ["two", "three", "four"]
# lemma: (past, base)
VERBS = {
    "nominate": ("nominated", "nominate"),
    "approve": ("approved", "approve"),
    "write": ("wrote", "write"),
    "run": ("ran", "run"),
    "leave": ("left", "leave"),
    "say": ("said", "say"),
    "want": ("wanted", "want"),
}


@dataclass
class Word:
    form: str
    lemma: str
    upos: str
    xpos: str
    head: int = -1  # 0-based word position; -1 is the root
    deprel: str = "root"
    space_after: bool = True


@dataclass
class Draft:
    """A sentence being built: words, predicates and extra rows."""

    words: list[Word] = field(default_factory=list)
    frames: list[tuple[int, str, dict[int, str]]] = field(default_factory=list)  # (predicate, roleset, roles)
    ranges: dict[int, str] = field(default_factory=dict)  # first word position -> multiword token form
    empty: dict[int, Word] = field(default_factory=dict)  # empty node after word position
    annotated: bool = True

    def add(self, form: str, lemma: str, upos: str, xpos: str, head: int = -1, deprel: str = "root") -> int:
        self.words.append(Word(form, lemma, upos, xpos, head, deprel))
        return len(self.words) - 1

    def attach(self, child: int, head: int, deprel: str) -> None:
        self.words[child].head, self.words[child].deprel = head, deprel


def _noun_phrase(draft: Draft, kind: str, rng: random.Random) -> int:
    """Add a noun phrase of ``kind``; return its head (left unattached)."""
    if kind == "person":
        return draft.add(rng.choice(PEOPLE), "", "PROPN", "NNP")
    if kind == "people":
        number = draft.add(rng.choice(NUMBERS), "", "NUM", "CD")
        noun = draft.add("judges", "judge", "NOUN", "NNS")
        draft.attach(number, noun, "nummod")
        return noun
    nouns = {"group": GROUPS, "thing": THINGS, "site": SITES, "company": COMPANIES}[kind]
    determiner = draft.add("the" if kind != "thing" or rng.random() < 0.5 else "a", "", "DET", "DT")
    adjective = (
        draft.add(rng.choice(ADJECTIVES), "", "ADJ", "JJ") if kind == "thing" and rng.random() < 0.4 else None
    )
    noun = draft.add(rng.choice(nouns), "", "NOUN", "NN")
    draft.attach(determiner, noun, "det")
    if adjective is not None:
        draft.attach(adjective, noun, "amod")
    return noun


def _prepositional(draft: Draft, preposition: str, kind: str, rng: random.Random) -> int:
    case = draft.add(preposition, preposition, "ADP", "IN")
    noun = (
        draft.add(rng.choice(PLACES if kind == "place" else DAYS), "", "PROPN", "NNP")
        if kind in ("place", "day")
        else _noun_phrase(draft, kind, rng)
    )
    draft.attach(case, noun, "case")
    return noun


def _verb(draft: Draft, lemma: str, rng: random.Random, roles: dict[int, str]) -> int:
    """The verb of a clause, maybe with ``will`` or a negated ``did``; modifiers go into ``roles``."""
    choice = rng.random()
    if choice < 0.15:
        auxiliary = draft.add("will", "will", "AUX", "MD")
        verb = draft.add(VERBS[lemma][1], lemma, "VERB", "VB")
        draft.attach(auxiliary, verb, "aux")
        roles[auxiliary] = "ARGM-MOD"
    elif choice < 0.3:
        contracted = rng.random() < 0.5
        if contracted:
            draft.ranges[len(draft.words)] = "didn't"
        auxiliary = draft.add("did", "do", "AUX", "VBD")
        negation = draft.add("n't" if contracted else "not", "not", "PART", "RB")
        verb = draft.add(VERBS[lemma][1], lemma, "VERB", "VB")
        draft.attach(auxiliary, verb, "aux")
        draft.attach(negation, verb, "advmod")
        roles[negation] = "ARGM-NEG"
    else:
        verb = draft.add(VERBS[lemma][0], lemma, "VERB", "VBD")
    return verb


def _clause(draft: Draft, rng: random.Random) -> int:
    """A transitive clause with optional modifiers; returns its verb (left unattached)."""
    lemma, roleset, subject_kind, object_kind = rng.choice(
        [
            ("nominate", "nominate.01", "group", "people"),
            ("nominate", "nominate.01", "person", "person"),
            ("approve", "approve.01", "group", "thing"),
            ("write", "write.01", "person", "thing"),
            ("run", "run.01", "person", "company"),
            ("leave", "leave.01", "person", "site"),
        ]
    )
    roles: dict[int, str] = {}
    subject = _noun_phrase(draft, subject_kind, rng)
    verb = _verb(draft, lemma, rng, roles)
    obj = _noun_phrase(draft, object_kind, rng)
    draft.attach(subject, verb, "nsubj")
    draft.attach(obj, verb, "obj")
    roles[subject], roles[obj] = "ARG0", "ARG1"
    if rng.random() < 0.3:
        place = _prepositional(draft, "in", "place", rng)
        draft.attach(place, verb, "obl")
        roles[place] = "ARGM-LOC"
    if rng.random() < 0.3:
        day = _prepositional(draft, "on", "day", rng)
        draft.attach(day, verb, "obl")
        roles[day] = "ARGM-TMP"
    draft.frames.append((verb, roleset, roles))
    return verb


def _sentence(rng: random.Random) -> Draft:
    draft = Draft()
    kind = rng.random()
    if kind < 0.4:
        root = _clause(draft, rng)
    elif kind < 0.5:  # leave.02: leave something to someone
        roles: dict[int, str] = {}
        subject = _noun_phrase(draft, "person", rng)
        root = _verb(draft, "leave", rng, roles)
        obj = _noun_phrase(draft, "thing", rng)
        recipient = _prepositional(draft, "to", "person", rng)
        for child, relation, role in (
            (subject, "nsubj", "ARG0"),
            (obj, "obj", "ARG1"),
            (recipient, "obl", "ARG2"),
        ):
            draft.attach(child, root, relation)
            roles[child] = role
        draft.frames.append((root, "leave.02", roles))
    elif kind < 0.6:  # run.02: run somewhere
        roles = {}
        subject = _noun_phrase(draft, "person", rng)
        root = _verb(draft, "run", rng, roles)
        goal = _prepositional(draft, "to", "site", rng)
        draft.attach(subject, root, "nsubj")
        draft.attach(goal, root, "obl")
        roles[subject], roles[goal] = "ARG0", "ARGM-DIR"
        if rng.random() < 0.4:
            day = _prepositional(draft, "on", "day", rng)
            draft.attach(day, root, "obl")
            roles[day] = "ARGM-TMP"
        draft.frames.append((root, "run.02", roles))
    elif kind < 0.75:  # say + a clause: two predicates
        subject = _noun_phrase(draft, rng.choice(["person", "group"]), rng)
        root = draft.add("said", "say", "VERB", "VBD")
        mark = draft.add("that", "that", "SCONJ", "IN")
        inner = _clause(draft, rng)
        draft.attach(subject, root, "nsubj")
        draft.attach(mark, inner, "mark")
        draft.attach(inner, root, "ccomp")
        draft.frames.insert(0, (root, "say.01", {subject: "ARG0", inner: "ARG1"}))
    elif kind < 0.88:  # want to + verb: two predicates sharing their ARG0
        subject = _noun_phrase(draft, "person", rng)
        root = draft.add("wanted", "want", "VERB", "VBD")
        to = draft.add("to", "to", "PART", "TO")
        lemma, roleset, object_kind = rng.choice(
            [("write", "write.01", "thing"), ("run", "run.01", "company"), ("leave", "leave.01", "site")]
        )
        inner = draft.add(VERBS[lemma][1], lemma, "VERB", "VB")
        obj = _noun_phrase(draft, object_kind, rng)
        draft.attach(subject, root, "nsubj")
        draft.attach(to, inner, "mark")
        draft.attach(inner, root, "xcomp")
        draft.attach(obj, inner, "obj")
        draft.frames += [
            (root, "want.01", {subject: "ARG0", inner: "ARG1"}),
            (inner, roleset, {subject: "ARG0", obj: "ARG1"}),
        ]
    elif kind < 0.96:  # no predicate
        first = draft.add("Thanks", "thanks", "NOUN", "NNS") if rng.random() < 0.5 else None
        if first is None:
            adjective = draft.add(rng.choice(["Great", "Nice", "Good"]), "", "ADJ", "JJ")
            root = draft.add(rng.choice(["service", "news", "work"]), "", "NOUN", "NN")
            draft.attach(adjective, root, "amod")
        else:
            root = first
            noun = _prepositional(draft, "for", "thing", rng)
            draft.attach(noun, root, "nmod")
    else:  # an elided verb: "Maria wrote the report and John the plan", with an empty node
        roles = {}
        subject = _noun_phrase(draft, "person", rng)
        root = draft.add("wrote", "write", "VERB", "VBD")
        obj = _noun_phrase(draft, "thing", rng)
        draft.attach(subject, root, "nsubj")
        draft.attach(obj, root, "obj")
        draft.frames.append((root, "write.01", {subject: "ARG0", obj: "ARG1"}))
        conjunction = draft.add("and", "and", "CCONJ", "CC")
        second = _noun_phrase(draft, "person", rng)
        remnant = _noun_phrase(draft, "thing", rng)
        draft.attach(conjunction, second, "cc")
        draft.attach(second, root, "conj")
        draft.attach(remnant, second, "orphan")
        draft.empty[second] = Word("wrote", "write", "VERB", "VBD")
    punctuation = draft.add(".", ".", "PUNCT", ".")
    draft.attach(punctuation, root, "punct")
    draft.words[-2].space_after = False
    return draft


def _no_up() -> Draft:
    """A sentence that was never annotated: its SRL columns are empty."""
    draft = Draft(annotated=False)
    verb = draft.add("Call", "call", "VERB", "VB")
    obj = draft.add("us", "we", "PRON", "PRP")
    draft.attach(obj, verb, "obj")
    punctuation = draft.add("!", "!", "PUNCT", ".")
    draft.attach(punctuation, verb, "punct")
    draft.words[-2].space_after = False
    return draft


def _lines(draft: Draft, sentence_id: str) -> list[str]:
    words = draft.words
    for word in words:
        word.lemma = word.lemma or (word.form if word.upos == "PROPN" else word.form.lower())
    words[0].form = words[0].form[0].upper() + words[0].form[1:]  # "The court …", lemma "the"
    text = ""
    for position, word in enumerate(words):
        if position in draft.ranges:
            text += draft.ranges[position] + " "
        elif position - 1 in draft.ranges:
            continue
        else:
            text += word.form + (" " if word.space_after else "")
    lines = [f"# sent_id = {sentence_id}", f"# text = {text.strip()}"]
    if not draft.annotated:
        lines.append("# propbank = no-up")
    frames = sorted(draft.frames)
    for position, word in enumerate(words):
        if position in draft.ranges:
            lines.append(f"{position + 1}-{position + 2}\t{draft.ranges[position]}" + "\t_" * 8)
        head = word.head + 1
        misc = "_" if word.space_after else "SpaceAfter=No"
        row = [str(position + 1), word.form, word.lemma, word.upos, word.xpos, "_", str(head), word.deprel]
        row += [f"{head}:{word.deprel}", misc]
        if not draft.annotated:
            row += ["", ""]
        elif not frames:
            row += ["_", ""]
        else:
            roleset = next((roleset for predicate, roleset, _ in frames if predicate == position), "_")
            cells = [
                "V" if predicate == position else roles.get(position, "_") for predicate, _, roles in frames
            ]
            row += [roleset, *cells]
        lines.append("\t".join(row))
        if position in draft.empty:
            copy = draft.empty[position]
            lines.append(
                f"{position + 1}.1\t{copy.form}\t{copy.lemma}\t{copy.upos}\t{copy.xpos}\t_\t_\t_\t"
                f"{words[position].head + 1}:conj\tCopyOf={words[position].head + 1}\t\t"
            )
    return lines


def demo_lines(split: str) -> list[str]:
    """The lines of one split's file, without line endings (a blank line after each sentence)."""
    rng = random.Random(SEEDS[split])
    lines: list[str] = []
    for index in range(SIZES[split]):
        draft = _no_up() if index == 2 else _sentence(rng)
        lines += [*_lines(draft, f"demo-{split}-{index + 1:04d}"), ""]
    return lines


def write_demo(folder: Path) -> None:
    """Write ``train.conllu``, ``dev.conllu`` and ``test.conllu`` into ``folder``; same bytes every call."""
    folder = Path(folder)
    for split in SIZES:
        with atomic_writer(folder / f"{split}.conllu") as handle:
            handle.write("".join(line + "\n" for line in demo_lines(split)))
