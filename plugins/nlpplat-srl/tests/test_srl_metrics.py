"""Scores against hand-counted values; per-instance statistics give the primary metric exactly."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nlpplat_srl.demo import write_demo
from nlpplat_srl.instances import Frame, Predicates, gold
from nlpplat_srl.pipeline import analyse
from nlpplat_srl.scoring import pipeline_scores
from nlpplat_srl.task import SRLTask


def hand_predictions() -> list:
    """For the sample's nine instances, in order (see the counts in the test below)."""
    return [
        Predicates((1, 6)),  # s1: finds ran (1), misses ran (5), and wrongly takes "to" (6)
        Frame("run.01", ("ARG0", "V", "_", "ARG2", "_", "_", "_", "_", "_", "_")),  # ARG1 mislabelled
        Frame("run.01", ("ARG0", "_", "_", "_", "_", "V", "_", "_", "ARGM-DIR", "_")),  # wrong roleset
        Predicates((3,)),
        Frame("write.01", ("ARG0", "_", "_", "V", "ARGM-TMP", "ARG1", "_")),  # misses ARGM-NEG, adds one
        Predicates(()),
        Predicates((0,)),  # the no-up sentence: never scored
        Predicates((0,)),
        Frame("stop.02", ("V",)),
    ]


def test_hand_counted_scores(sample: Path) -> None:
    task = SRLTask()
    examples = task.read(sample)
    scores = task.metrics(hand_predictions(), examples)
    # gold predicates: 5 of 7 predicted arguments right, of 7 gold ones
    assert scores["precision"] == pytest.approx(500 / 7)
    assert scores["recall"] == pytest.approx(500 / 7)
    assert scores["f1"] == pytest.approx(500 / 7)
    assert scores["support"] == 7 and scores["predicates"] == 4
    assert scores["role.ARG0.f1"] == 100 and scores["role.ARG0.support"] == 3
    assert (scores["role.ARG1.precision"], scores["role.ARG1.recall"]) == (100, 50)
    assert scores["role.ARGM-TMP.precision"] == 0 and scores["role.ARGM-NEG.recall"] == 0
    # spans: the ARGM-TMP on "the" cuts "the letter" down to "letter", so ARG1 is wrong too
    assert scores["span.f1"] == pytest.approx(400 / 7)
    assert scores["sense.accuracy"] == 50
    assert scores["predicate.precision"] == scores["predicate.recall"] == scores["predicate.f1"] == 75
    # end to end: the missed predicate loses its 2 arguments; "to" has no frame to score
    assert scores["e2e.precision"] == pytest.approx(60)
    assert scores["e2e.recall"] == pytest.approx(300 / 7)
    assert scores["e2e.f1"] == pytest.approx(50)
    assert scores["e2e.sense.f1"] == pytest.approx(50)
    assert scores["e2e.unscored_predicates"] == 1
    # per sentence, on its identification instance: s1 sums its two frames, s2 has one
    assert task.example_statistics(hand_predictions(), examples) == [
        [3, 4, 4], [0, 0, 0], [0, 0, 0], [2, 3, 3], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]
    ]  # fmt: skip


def test_gold_predictions_score_100_and_nothing_scores_0(sample: Path) -> None:
    task = SRLTask()
    examples = task.read(sample)
    perfect = task.metrics([gold(example) for example in examples], examples)
    assert perfect["f1"] == perfect["span.f1"] == perfect["e2e.f1"] == perfect["sense.accuracy"] == 100
    empty = [
        Predicates(())
        if e.position is None
        else Frame("x.01", tuple("V" if i == e.position else "_" for i in range(len(e.tokens))))
        for e in examples
    ]
    nothing = task.metrics(empty, examples)
    assert nothing["f1"] == nothing["predicate.f1"] == nothing["e2e.recall"] == nothing["sense.accuracy"] == 0


def noisy(prediction, rng: random.Random, roles: list[str]):
    if isinstance(prediction, Predicates):
        return Predicates(tuple(p for p in prediction.positions if rng.random() < 0.9))
    cells = tuple(
        cell if cell == "V" or rng.random() < 0.8 else rng.choice(["_", *roles]) for cell in prediction.cells
    )
    return Frame(prediction.roleset, cells)


@pytest.mark.parametrize("seed", range(3))
def test_statistics_reproduce_the_primary_metric(tmp_path: Path, seed: int) -> None:
    write_demo(tmp_path)
    task = SRLTask()
    examples = task.read(tmp_path / "dev.conllu")
    rng = random.Random(seed)
    predictions = [noisy(gold(example), rng, ["ARG0", "ARG1", "ARGM-TMP"]) for example in examples]
    rows = task.example_statistics(predictions, examples)
    assert len(rows) == len(examples)
    totals = [sum(column) for column in zip(*rows, strict=True)]
    assert task.metric_from_statistics(totals) == pytest.approx(
        task.metrics(predictions, examples)["f1"], abs=1e-9
    )
    assert SRLTask().metric_from_statistics(totals) == task.metric_from_statistics(
        totals
    )  # needs no fitted state


def test_pipeline_scores_are_exact_end_to_end(sample: Path) -> None:
    """With a frame for every predicted predicate, the pipeline scores the false predicate's arguments too."""
    task = SRLTask()
    examples = task.read(sample)
    sentences = list(dict.fromkeys(example.sentence for example in examples))

    def predict(instances: list) -> list:
        result = []
        for instance in instances:
            if instance.position is None:
                result.append(Predicates((1, 6)) if instance.sentence is sentences[0] else gold(instance))
            elif instance.frame is None:  # the false predicate "to": one argument, wrong by definition
                result.append(Frame("to.01", ("ARG1", *["_"] * 5, "V", *["_"] * 3)))
            else:
                result.append(gold(instance))
        return result

    scores = pipeline_scores(sentences, analyse(sentences, predict))
    # gold 7; predicted: 2 (ran) + 1 ("to") + 3 (write) + 0 (stop); correct 5
    assert scores["e2e.precision"] == pytest.approx(500 / 6)
    assert scores["e2e.recall"] == pytest.approx(500 / 7)
    assert scores["e2e.unscored_predicates"] == 0
