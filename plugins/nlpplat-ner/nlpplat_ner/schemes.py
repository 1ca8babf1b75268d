"""Entity tag schemes: checking, detecting and converting IOB1, IOB2 and BIOES.

A tag is ``O`` or ``P-TYPE`` with a prefix ``P``. The schemes differ only in how they
*encode* a list of entity spans:

- IOB1 (CoNLL-2003): every entity token is ``I-``; ``B-`` marks the first token of an
  entity that directly follows another entity of the same type.
- IOB2: the first token of every entity is ``B-``, the rest ``I-``.
- BIOES (also called IOBES): ``S-`` for one-token entities, otherwise ``B-``, ``I-``…, ``E-``.

*Decoding* tags into spans is the same for all three (:func:`to_spans`), which is why
every conversion goes through spans: ``from_spans(to_spans(tags), len(tags), target)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

SCHEMES = ("IOB1", "IOB2", "BIOES")
ALIASES = {"IOBES": "BIOES"}
INTERNAL = "BIOES"  # what the model predicts: its transitions say the most about span structure
PREFIXES = {"IOB1": "BIO", "IOB2": "BIO", "BIOES": "BIOES"}


class Span(NamedTuple):
    """An entity over tokens ``start`` to ``end`` (exclusive)."""

    type: str
    start: int
    end: int


def normalise_scheme(name: str) -> str:
    """The canonical spelling of a scheme name (``"iobes"`` -> ``"BIOES"``); ValueError if unknown."""
    upper = name.strip().upper()
    upper = ALIASES.get(upper, upper)
    if upper not in SCHEMES:
        raise ValueError(f"unknown tag scheme {name!r}; valid: {', '.join(SCHEMES)}")
    return upper


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``; ValueError if malformed.

    The type may itself contain hyphens (``B-WORK-OF-ART``) but must not be empty or ``O``.
    """
    if tag == "O":
        return "O", ""
    prefix, hyphen, kind = tag.partition("-")
    if not hyphen or prefix not in ("B", "I", "E", "S") or not kind or kind == "O" or kind != kind.strip():
        raise ValueError(f"invalid tag {tag!r}: expected O or B-, I-, E-, S- followed by an entity type")
    return prefix, kind


def to_spans(tags: Sequence[str]) -> list[Span]:
    """The entity spans that ``tags`` encode, in order, for any of the three schemes.

    Reading is lenient in the way of conlleval, so every sequence has exactly one
    reading and invalid sequences (the argmax of a softmax, say) are repaired
    deterministically: ``B-``/``S-`` always begin an entity; ``I-``/``E-`` continue
    the open entity if it has the same type and otherwise begin one; ``E-``/``S-``
    close the entity they are in; ``O`` closes any open entity.
    """
    spans: list[Span] = []
    kind, start = "", -1  # the open entity, if kind
    for position, tag in enumerate(tags):
        prefix, tag_kind = split_tag(tag)
        if prefix == "O" or prefix in "BS" or tag_kind != kind:
            if kind:
                spans.append(Span(kind, start, position))
            kind, start = tag_kind, position
        if prefix in "ES":
            spans.append(Span(kind, start, position + 1))
            kind = ""
    if kind:
        spans.append(Span(kind, start, len(tags)))
    return spans


def from_spans(spans: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Encode non-overlapping ``spans`` as ``length`` tags in ``scheme``."""
    tags = ["O"] * length
    previous: Span | None = None
    for span in sorted(spans, key=lambda span: span.start):
        size = span.end - span.start
        if scheme == "BIOES" and size == 1:
            tags[span.start] = f"S-{span.type}"
        elif scheme == "IOB1":
            tags[span.start : span.end] = [f"I-{span.type}"] * size
            touches = previous is not None and previous.end == span.start and previous.type == span.type
            if touches:  # the only place IOB1 needs a B-: two same-type entities side by side
                tags[span.start] = f"B-{span.type}"
        else:
            tags[span.start : span.end] = [f"B-{span.type}"] + [f"I-{span.type}"] * (size - 1)
            if scheme == "BIOES":
                tags[span.end - 1] = f"E-{span.type}"
        previous = span
    return tags


def convert(tags: Sequence[str], target: str) -> list[str]:
    """Re-encode ``tags`` (any scheme) in ``target``."""
    return from_spans(to_spans(tags), len(tags), target)


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of a file from its tag sequences.

    Any ``E-`` or ``S-`` means BIOES (every BIOES entity ends with one); else an ``I-``
    that begins an entity means IOB1 (every IOB1 entity not glued to a same-type
    neighbour begins with one); else IOB2, which also covers files without entities,
    where all schemes agree.
    """
    iob1 = False
    for tags in sequences:
        open_kind = ""
        for tag in tags:
            prefix, kind = split_tag(tag)
            if prefix in "ES":
                return "BIOES"
            if prefix == "I" and kind != open_kind:
                iob1 = True
            open_kind = kind
    return "IOB1" if iob1 else "IOB2"


def find_violation(tags: Sequence[str], scheme: str) -> tuple[int, str] | None:
    """The first position where ``tags`` break ``scheme``, with the reason; None if valid.

    IOB2 and BIOES are checked strictly, because a reading that breaks their rules
    would be a guess (did ``O I-PER`` mean a new entity or a lost ``B-``?). IOB1 only
    limits the prefixes: a ``B-`` after ``O`` cannot be misread, so it is accepted.
    """

    def unfinished(kind: str) -> str:
        return f"BIOES ends it with E-{kind}"

    allowed = PREFIXES[scheme]
    open_kind = ""  # type of the entity a B-/I- left open (IOB2 and BIOES)
    for position, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if prefix not in allowed:
            return position, f"{tag} is not a {scheme} tag (prefixes: {', '.join(allowed)})"
        continues = prefix in "IE" and kind == open_kind
        if scheme == "BIOES" and open_kind and not continues:
            return position, f"{tag} follows an unfinished {open_kind} entity; {unfinished(open_kind)}"
        if scheme != "IOB1" and prefix in "IE" and not continues:
            before = tags[position - 1] if position else "the sentence start"
            return position, f"{tag} after {before} begins an entity, which {scheme} does with B-{kind}"
        open_kind = kind if prefix in "BI" else ""
    if scheme == "BIOES" and open_kind:
        return len(tags) - 1, f"the sentence ends inside a {open_kind} entity; {unfinished(open_kind)}"
    return None


def entity_types(labels: Iterable[str]) -> list[str]:
    """The sorted entity types that occur in ``labels``."""
    return sorted({split_tag(label)[1] for label in labels} - {""})


def bioes_labels(types: Iterable[str]) -> list[str]:
    """The BIOES label vocabulary for ``types``: ``O`` first, then B/I/E/S for each type."""
    return ["O"] + [f"{prefix}-{kind}" for kind in sorted(set(types)) for prefix in "BIES"]


def bioes_constraints(labels: Sequence[str]) -> tuple[list[list[bool]], list[bool], list[bool]]:
    """Which transitions a valid BIOES sequence over ``labels`` can make.

    Returns ``(allowed, start, end)``: ``allowed[i][j]`` is True when label ``j`` may
    follow label ``i``; ``start[j]`` when a sentence may begin with ``j``; ``end[i]``
    when it may end with ``i``. Inside an entity (after ``B-X``/``I-X``) only ``I-X``
    or ``E-X`` may come; outside (after ``O``, ``E-``, ``S-`` or at the start) only
    ``O``, ``B-`` or ``S-``.
    """
    parts = [split_tag(label) for label in labels]

    def may_follow(before: tuple[str, str] | None, after: tuple[str, str]) -> bool:
        if before is not None and before[0] in "BI":
            return after[0] in "IE" and after[1] == before[1]
        return after[0] in "OBS"

    allowed = [[may_follow(before, after) for after in parts] for before in parts]
    start = [may_follow(None, after) for after in parts]
    end = [prefix in "OES" for prefix, _ in parts]
    return allowed, start, end
