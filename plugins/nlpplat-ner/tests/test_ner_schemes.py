"""Tag schemes: exhaustive round trips on short sentences, plus the IOB1 corner cases."""

from __future__ import annotations

import itertools

import pytest

from nlpplat_ner.schemes import (
    SCHEMES,
    Span,
    bioes_constraints,
    bioes_labels,
    convert,
    detect_scheme,
    entity_types,
    find_violation,
    from_spans,
    normalise_scheme,
    split_tag,
    to_spans,
)

TYPES = ("PER", "LOC")
ALL_TAGS = ["O"] + [f"{prefix}-{kind}" for kind in TYPES for prefix in "BIES"]


def span_layouts(length: int) -> list[list[Span]]:
    """Every way to place non-overlapping PER/LOC spans over ``length`` tokens."""
    if length == 0:
        return [[]]
    layouts = [layout for layout in span_layouts(length - 1)]  # last token outside
    for size in range(1, length + 1):
        for kind in TYPES:
            for rest in span_layouts(length - size):
                layouts.append([*rest, Span(kind, length - size, length)])
    return layouts


LAYOUTS = [(length, layout) for length in range(6) for layout in span_layouts(length)]


def is_canonical_iob1(tags: list[str]) -> bool:
    """IOB1 as CoNLL-2003 writes it: B- only right after an entity of the same type."""
    for position, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if prefix == "B" and (position == 0 or split_tag(tags[position - 1])[1] != kind):
            return False
    return True


# -- tags ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tag", "parts"),
    [
        ("O", ("O", "")),
        ("B-PER", ("B", "PER")),
        ("S-LOC", ("S", "LOC")),
        ("I-WORK-OF-ART", ("I", "WORK-OF-ART")),
    ],
)
def test_split_tag(tag, parts):
    assert split_tag(tag) == parts


@pytest.mark.parametrize("tag", ["B-", "X-PER", "B-O", "PER", "", "b-PER", "O-PER", "B-PER ", "-PER", "o"])
def test_split_tag_rejects_malformed(tag):
    with pytest.raises(ValueError, match="invalid tag"):
        split_tag(tag)


def test_normalise_scheme():
    assert normalise_scheme("iob1") == "IOB1"
    assert normalise_scheme(" IOBES ") == "BIOES"
    with pytest.raises(ValueError, match="valid: IOB1, IOB2, BIOES"):
        normalise_scheme("BILOU")


# -- exhaustive round trips ------------------------------------------------------------
def test_layout_enumeration_is_complete():
    # spans over n tokens with 2 types: a(n) = a(n-1) + 2 * sum_{k<n} a(k)
    counts = [sum(1 for length, _ in LAYOUTS if length == n) for n in range(6)]
    assert counts == [1, 3, 11, 41, 153, 571]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_spans_round_trip_through_every_scheme(scheme):
    for length, spans in LAYOUTS:
        tags = from_spans(spans, length, scheme)
        assert len(tags) == length
        assert to_spans(tags) == spans, (scheme, tags)
        assert find_violation(tags, scheme) is None, (scheme, tags)
        for target in SCHEMES:
            assert convert(convert(tags, target), scheme) == tags


@pytest.mark.parametrize("scheme", SCHEMES)
def test_detection_recovers_the_scheme_of_encoded_files(scheme):
    with_entities = [from_spans(spans, length, scheme) for length, spans in LAYOUTS if spans]
    assert detect_scheme(with_entities) == scheme
    # a single sentence is enough when an entity starts after O
    assert detect_scheme([from_spans([Span("PER", 1, 3)], 4, scheme)]) == scheme


def test_exhaustive_validity_matches_canonical_encoding():
    """A sequence is valid IOB2/BIOES exactly when it is the encoding of its spans."""
    for length in range(5):
        for tags in itertools.product(ALL_TAGS, repeat=length):
            tags = list(tags)
            spans = to_spans(tags)
            for scheme in ("IOB2", "BIOES"):
                valid = find_violation(tags, scheme) is None
                assert valid == (from_spans(spans, length, scheme) == tags), (scheme, tags)
            if find_violation(tags, "IOB1") is None and is_canonical_iob1(tags):
                assert from_spans(spans, length, "IOB1") == tags


def test_to_spans_gives_sorted_disjoint_spans_for_any_sequence():
    for length in range(5):
        for tags in itertools.product(ALL_TAGS, repeat=length):
            spans = to_spans(tags)
            ends = [0]
            for span in spans:
                assert ends[-1] <= span.start < span.end <= length
                ends.append(span.end)
            entity_tokens = {position for span in spans for position in range(span.start, span.end)}
            assert entity_tokens == {i for i, tag in enumerate(tags) if tag != "O"}


# -- IOB1 and other corner cases ---------------------------------------------------------
def test_iob1_b_separates_touching_entities_of_one_type():
    tags = ["I-PER", "I-PER", "B-PER"]
    assert to_spans(tags) == [Span("PER", 0, 2), Span("PER", 2, 3)]
    assert convert(tags, "IOB2") == ["B-PER", "I-PER", "B-PER"]
    assert convert(tags, "BIOES") == ["B-PER", "E-PER", "S-PER"]
    assert convert(["B-PER", "E-PER", "S-PER"], "IOB1") == tags


def test_iob1_touching_entities_of_different_types_need_no_b():
    tags = ["I-PER", "I-LOC", "I-LOC", "O", "I-LOC"]
    assert to_spans(tags) == [Span("PER", 0, 1), Span("LOC", 1, 3), Span("LOC", 4, 5)]
    assert convert(tags, "IOB1") == tags
    assert convert(tags, "IOB2") == ["B-PER", "B-LOC", "I-LOC", "O", "B-LOC"]


def test_iob1_accepts_b_after_o_and_writes_it_canonically():
    tags = ["B-PER", "I-PER", "O", "B-LOC"]
    assert find_violation(tags, "IOB1") is None
    assert convert(tags, "IOB1") == ["I-PER", "I-PER", "O", "I-LOC"]


def test_lenient_reading_repairs_invalid_sequences():
    assert to_spans(["O", "I-PER", "E-PER"]) == [Span("PER", 1, 3)]
    assert to_spans(["B-PER", "O"]) == [Span("PER", 0, 1)]
    assert to_spans(["E-LOC", "E-LOC"]) == [Span("LOC", 0, 1), Span("LOC", 1, 2)]
    assert to_spans(["B-PER", "I-LOC", "E-LOC"]) == [Span("PER", 0, 1), Span("LOC", 1, 3)]
    assert to_spans(["S-PER", "I-PER"]) == [Span("PER", 0, 1), Span("PER", 1, 2)]


def test_detect_scheme_defaults_and_mixtures():
    assert detect_scheme([]) == "IOB2"
    assert detect_scheme([["O", "O"]]) == "IOB2"
    assert detect_scheme([["B-PER", "I-PER"], ["I-LOC"]]) == "IOB1"
    assert detect_scheme([["B-PER", "I-LOC"]]) == "IOB1"  # I-LOC begins an entity
    assert detect_scheme([["I-PER"], ["S-LOC"]]) == "BIOES"


@pytest.mark.parametrize(
    ("tags", "scheme", "position", "reason"),
    [
        (["O", "I-PER"], "IOB2", 1, "I-PER after O begins an entity, which IOB2 does with B-PER"),
        (["I-PER"], "IOB2", 0, "I-PER after the sentence start begins an entity"),
        (["B-PER", "I-LOC"], "IOB2", 1, "I-LOC after B-PER begins an entity"),
        (["S-PER"], "IOB2", 0, "S-PER is not a IOB2 tag"),
        (["E-PER"], "IOB1", 0, "E-PER is not a IOB1 tag"),
        (["B-PER", "O"], "BIOES", 1, "O follows an unfinished PER entity"),
        (["B-PER", "I-PER"], "BIOES", 1, "the sentence ends inside a PER entity"),
        (["I-PER", "E-PER"], "BIOES", 0, "I-PER after the sentence start begins an entity"),
        (["S-PER", "E-PER"], "BIOES", 1, "E-PER after S-PER begins an entity"),
        (["B-PER", "S-PER"], "BIOES", 1, "S-PER follows an unfinished PER entity"),
    ],
)
def test_find_violation(tags, scheme, position, reason):
    found = find_violation(tags, scheme)
    assert found is not None
    assert found[0] == position
    assert reason in found[1]


def test_from_spans_sorts_its_input():
    spans = [Span("LOC", 3, 4), Span("PER", 0, 2)]
    assert from_spans(spans, 4, "IOB2") == ["B-PER", "I-PER", "O", "B-LOC"]


# -- label vocabulary and CRF constraints ----------------------------------------------
def test_bioes_labels():
    assert entity_types(["O", "I-PER", "B-LOC", "I-LOC"]) == ["LOC", "PER"]
    assert bioes_labels(["PER", "LOC", "PER"]) == [
        "O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", "I-PER", "E-PER", "S-PER",
    ]  # fmt: skip
    assert bioes_labels([]) == ["O"]


def test_bioes_constraints_accept_exactly_the_valid_sequences():
    labels = bioes_labels(TYPES)
    allowed, start, end = bioes_constraints(labels)
    index = {label: i for i, label in enumerate(labels)}
    for length in range(1, 5):
        for tags in itertools.product(labels, repeat=length):
            ids = [index[tag] for tag in tags]
            permitted = (
                start[ids[0]] and end[ids[-1]] and all(allowed[a][b] for a, b in itertools.pairwise(ids))
            )
            assert permitted == (find_violation(tags, "BIOES") is None), tags
