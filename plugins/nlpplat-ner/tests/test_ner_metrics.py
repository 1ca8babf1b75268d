"""Entity scores against values computed by hand."""

from __future__ import annotations

import importlib.metadata
import json

import pytest

from nlpplat_ner.reader import Sentence
from nlpplat_ner.scoring import entity_scores
from nlpplat_ner.task import NERTask

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
PREDICTED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "B-PER"]]


def sentences(tags_per_sentence: list[list[str]], scheme: str) -> list[Sentence]:
    return [
        Sentence(
            tokens=[f"w{i}" for i in range(len(tags))], tags=tags, rows=[], path="x", line=1, scheme=scheme
        )
        for tags in tags_per_sentence
    ]


def test_hand_computed_micro_and_per_type_scores():
    # gold: PER(0,2) LOC(3,4) | ORG(0,1) PER(2,3);  predicted: PER(0,2) ORG(3,4) | ORG(0,1) PER(2,3)
    # correct: both PER and the first ORG -> 3 of 4 predicted, 3 of 4 gold
    scores = entity_scores(GOLD, PREDICTED)
    assert scores["precision"] == pytest.approx(75.0)
    assert scores["recall"] == pytest.approx(75.0)
    assert scores["f1"] == pytest.approx(75.0)
    assert scores["support"] == 4
    assert (scores["PER.precision"], scores["PER.recall"], scores["PER.f1"], scores["PER.support"]) == (
        100.0, 100.0, 100.0, 2,
    )  # fmt: skip
    assert (scores["LOC.precision"], scores["LOC.recall"], scores["LOC.f1"], scores["LOC.support"]) == (
        0.0, 0.0, 0.0, 1,
    )  # fmt: skip
    # ORG: 1 correct of 2 predicted, of 1 gold -> P 50, R 100, F1 = 2 * 50 * 100 / 150
    assert scores["ORG.precision"] == pytest.approx(50.0)
    assert scores["ORG.recall"] == pytest.approx(100.0)
    assert scores["ORG.f1"] == pytest.approx(200 / 3)
    assert scores["ORG.support"] == 1
    assert scores["macro_f1"] == pytest.approx((100 + 0 + 200 / 3) / 3)
    json.dumps(scores)  # plain floats and ints, not numpy scalars


def test_a_boundary_error_is_a_false_positive_and_a_false_negative():
    # gold PER(0,3); predicted PER(0,2): no credit for overlap. P = 0/1, R = 0/1.
    # gold LOC(4,5) found. Totals: P = 1/2, R = 1/2.
    gold = [["B-PER", "I-PER", "I-PER", "O", "B-LOC"]]
    predicted = [["B-PER", "I-PER", "O", "O", "B-LOC"]]
    scores = entity_scores(gold, predicted)
    assert (scores["precision"], scores["recall"], scores["f1"]) == (50.0, 50.0, 50.0)


def test_precision_differs_from_recall():
    # gold: 1 entity; predicted: it plus 2 spurious -> P = 1/3, R = 1/1, F1 = 2PR/(P+R) = 0.5
    scores = entity_scores([["B-PER", "O", "O"]], [["B-PER", "B-LOC", "B-ORG"]])
    assert scores["precision"] == pytest.approx(100 / 3)
    assert scores["recall"] == pytest.approx(100.0)
    assert scores["f1"] == pytest.approx(50.0)
    assert scores["LOC.support"] == 0


def test_no_entities_anywhere_scores_zero_without_warnings(recwarn):
    scores = entity_scores([["O", "O"]], [["O", "O"]])
    assert (scores["precision"], scores["recall"], scores["f1"], scores["support"]) == (0.0, 0.0, 0.0, 0)
    assert scores["macro_f1"] == 0.0
    assert not recwarn.list


def test_task_metrics_read_each_scheme_through_its_spans():
    task = NERTask()
    # the same entities written in IOB1 and BIOES score exactly as the IOB2 version
    iob1 = [["I-PER", "I-PER", "O", "I-LOC"], ["I-ORG", "O", "I-PER"]]
    bioes = [["B-ORG", "E-ORG", "O", "S-ORG"], ["S-ORG", "O", "S-PER"]]  # predicted, in BIOES
    assert task.metrics(PREDICTED, sentences(GOLD, "IOB2"))["f1"] == pytest.approx(75.0)
    assert task.metrics(bioes, sentences(iob1, "IOB1"))["f1"] == pytest.approx(50.0)
    # an invalid IOB2 prediction (I- after O) is read leniently as an entity
    assert task.metrics([["O", "I-PER"]], sentences([["O", "B-PER"]], "IOB2"))["f1"] == 100.0


def test_task_metrics_reject_length_mismatch():
    with pytest.raises(ValueError, match="x:1: 1 tags for 2 tokens"):
        NERTask().metrics([["O"]], sentences([["O", "O"]], "IOB2"))


def test_metric_signature():
    version = importlib.metadata.version("seqeval")
    assert NERTask().metric_signature() == f"seqeval={version}|mode=strict|scheme=IOB2|average=micro"
