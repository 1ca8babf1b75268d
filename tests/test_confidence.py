"""Bootstrap intervals and the paired bootstrap test, against sacrebleu and by hand."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nlpplat import confidence, training
from nlpplat.config import resolve
from nlpplat.leaderboard import Leaderboard
from nlpplat.registry import Registry


def accuracy(totals: np.ndarray) -> float:
    correct, tokens = totals
    return 100.0 * correct / tokens


def bleu_corpus(seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(50)]
    references = [" ".join(rng.choices(words, k=rng.randint(4, 15))) for _ in range(150)]

    def noisy(rate: float) -> list[str]:
        return [
            " ".join(w if rng.random() > rate else rng.choice(words) for w in r.split()) for r in references
        ]

    return references, noisy(0.3), noisy(0.25)


def test_paired_bootstrap_is_sacrebleus_on_bleu() -> None:
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    references, system_a, system_b = bleu_corpus()
    _, scores = PairedTest(
        [("a", system_a), ("b", system_b)], {"BLEU": BLEU(references=[references])}, None, "bs", 1000
    )()
    expected = scores["BLEU"][1]

    def statistics(hypotheses: list[str]) -> np.ndarray:
        return confidence.as_matrix(
            BLEU(references=[references])._extract_corpus_statistics(hypotheses, None)
        )

    def bleu(totals: np.ndarray) -> float:
        return BLEU()._compute_score_from_stats(list(totals)).score

    test = confidence.paired_bootstrap(statistics(system_a), statistics(system_b), bleu)
    assert test.p_value == expected.p_value  # the same resamples, the same test
    assert test.score_b == pytest.approx(expected.score)
    low, high = test.interval_b
    assert (high - low) / 2 == pytest.approx(expected.ci, abs=1e-4)  # sacrebleu's half-width


def test_a_system_against_itself_is_not_significant() -> None:
    rows = np.array([[random.Random(i).randint(0, 5), 5] for i in range(200)], dtype=float)
    test = confidence.paired_bootstrap(rows, rows, accuracy)
    assert test.difference == 0 and test.p_value == 1.0


def test_clearly_better_system_gets_the_smallest_p_value() -> None:
    worse = np.array([[2, 5]] * 300, dtype=float)
    better = np.array([[4, 5]] * 300, dtype=float)
    test = confidence.paired_bootstrap(worse, better, accuracy, resamples=200)
    assert test.difference == pytest.approx(40.0)
    assert test.p_value == pytest.approx(1 / 201)


def test_interval_brackets_the_score_and_shrinks_with_more_examples() -> None:
    rng = np.random.default_rng(0)
    small = np.stack([rng.integers(0, 6, 50), np.full(50, 5)], axis=1).astype(float)
    large = np.concatenate([small] * 20)
    score = accuracy(small.sum(axis=0))
    low, high = confidence.interval([small], accuracy)
    assert low < score < high
    low_large, high_large = confidence.interval([large], accuracy)
    assert high_large - low_large < (high - low) / 3


def test_identical_rows_give_a_point_interval() -> None:
    rows = np.array([[3, 5]] * 40, dtype=float)
    assert confidence.interval([rows], accuracy) == (60.0, 60.0)


def test_seed_group_interval_is_of_the_mean() -> None:
    a = np.array([[3, 5]] * 40, dtype=float)
    b = np.array([[4, 5]] * 40, dtype=float)
    assert confidence.interval([a, b], accuracy) == pytest.approx((70.0, 70.0))


def test_runs_on_different_test_sets_cannot_be_paired() -> None:
    with pytest.raises(Exception, match="same test set"):
        confidence.paired_bootstrap(np.ones((3, 2)), np.ones((4, 2)), accuracy)


class DisagreeingTask:
    name = "broken"

    def example_statistics(self, predictions: list, examples: list) -> list[list[float]]:
        return [[1, 2] for _ in examples]

    def metric_from_statistics(self, totals: np.ndarray) -> float:
        return 50.0


def test_statistics_that_do_not_reproduce_the_score_are_not_recorded(tmp_path: Path) -> None:
    recorded = confidence.record_statistics(DisagreeingTask(), [1, 2], [1, 2], 75.0, tmp_path)
    assert (
        "statistics" not in recorded and "metric_from_statistics gives 50.0" in recorded["statistics_error"]
    )
    assert not list(tmp_path.iterdir())


def test_a_run_records_statistics_interval_and_decoding(toy_registry: Registry) -> None:
    config = resolve(
        toy_registry,
        [
            {
                "run": {"task": "toy", "backbone": "toy"},
                "train": {"epochs": 2, "batch_size": 8, "max_time": ""},
            }
        ],
    )
    run_dir = training.train(config, toy_registry, Console(file=io.StringIO()))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["decoding"] == {"decoder": "argmax"}
    assert results["config"]["train"]["seed"] == 1 and results["config_hash"]
    rows = json.loads((run_dir / results["statistics"]["test"]).read_text())
    assert len(rows) == 40 and all(len(row) == 2 for row in rows)
    low, high = results["confidence"]["test"]
    assert low <= results["test"]["accuracy"] <= high
    [row] = Leaderboard().rows(task="toy")
    assert (row["test_ci_low"], row["test_ci_high"]) == (low, high)
    assert Leaderboard().statistics([row["run_id"]]) == {row["run_id"]: rows}
