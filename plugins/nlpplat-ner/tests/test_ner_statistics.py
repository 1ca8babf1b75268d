"""Per-sentence entity counts: summed, they give seqeval's micro F1 exactly."""

from __future__ import annotations

import random

import pytest

from nlpplat_ner.reader import Sentence
from nlpplat_ner.scoring import entity_counts, entity_scores, f1_from_counts
from nlpplat_ner.task import NERConfig, NERTask

TAGS = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "I-PER"]


def random_tags(rng: random.Random, length: int) -> list[str]:
    # Free choice of tags, so that ill-formed sequences (I- after O, I-LOC after B-PER)
    # occur: seqeval's strict mode drops those entities, and the counts must agree.
    return [rng.choice(TAGS) for _ in range(length)]


@pytest.mark.parametrize("seed", range(5))
def test_summed_counts_give_seqeval_micro_scores(seed: int) -> None:
    rng = random.Random(seed)
    gold = [random_tags(rng, rng.randint(0, 12)) for _ in range(300)]
    predicted = [[tag if rng.random() < 0.7 else rng.choice(TAGS) for tag in sentence] for sentence in gold]
    rows = entity_counts(gold, predicted)
    correct, guessed, true = (sum(column) for column in zip(*rows, strict=True))
    scores = entity_scores(gold, predicted)
    assert true == scores["support"]
    assert 100 * correct / guessed == pytest.approx(scores["precision"], abs=1e-9)
    assert 100 * correct / true == pytest.approx(scores["recall"], abs=1e-9)
    assert f1_from_counts(correct, guessed, true) == pytest.approx(scores["f1"], abs=1e-9)


def test_hand_counted_sentences() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"], ["O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"], ["B-LOC"]]
    assert entity_counts(gold, predicted) == [[1, 2, 2], [1, 1, 2], [0, 1, 0]]
    assert f1_from_counts(0, 0, 0) == 0.0


def test_task_statistics_reproduce_its_f1_in_every_input_scheme() -> None:
    rng = random.Random(7)
    task = NERTask(NERConfig())
    examples, predictions = [], []
    for number in range(200):
        length = rng.randint(1, 10)
        # BIOES gold (a valid sequence), a noisy prediction in the same scheme
        gold = []
        while len(gold) < length:
            kind, size = rng.choice(["PER", "LOC", None]), rng.randint(1, 3)
            if kind is None or len(gold) + size > length:
                gold.append("O")
            elif size == 1:
                gold.append(f"S-{kind}")
            else:
                gold += [f"B-{kind}"] + [f"I-{kind}"] * (size - 2) + [f"E-{kind}"]
        guess = [tag if rng.random() < 0.8 else "O" for tag in gold]
        examples.append(
            Sentence(tokens=["w"] * length, tags=gold, rows=[], path="x", line=number, scheme="BIOES")
        )
        predictions.append(guess)
    rows = task.example_statistics(predictions, examples)
    assert len(rows) == len(examples)
    totals = [sum(column) for column in zip(*rows, strict=True)]
    assert task.metric_from_statistics(totals) == pytest.approx(
        task.metrics(predictions, examples)["f1"], abs=1e-9
    )


def test_decoding_parameters_name_the_decoder() -> None:
    assert NERTask(NERConfig()).decoding_parameters() == {"decoder": "viterbi", "document_vote": True}
    softmax = NERTask(NERConfig(head="softmax", document_vote=False))
    assert softmax.decoding_parameters() == {"decoder": "argmax", "document_vote": False}
