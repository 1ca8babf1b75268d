"""Entity-level precision, recall and F1 with seqeval.

Both sides are first re-encoded as canonical IOB2 through their spans
(:func:`nlpplat_ner.schemes.convert`), then scored with seqeval's strict mode: an
entity counts as correct only when its type, first and last token all match a gold
entity. On canonical IOB2 this equals conlleval and seqeval's default mode; we
choose strict so that the number cannot depend on how a lenient reader would
guess at malformed tags, and because it is what the signature can state exactly.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Sequence
from typing import Any

MODE, SCHEME = "strict", "IOB2"


def signature() -> str:
    """How :func:`entity_scores` computes its numbers, e.g. ``seqeval=1.2.2|mode=strict|…``."""
    version = importlib.metadata.version("seqeval")
    return f"seqeval={version}|mode={MODE}|scheme={SCHEME}|average=micro"


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Micro-averaged and per-type scores of IOB2 ``predicted`` against IOB2 ``gold``.

    Returns ``precision``, ``recall``, ``f1`` (micro-averaged over entity spans),
    ``macro_f1`` (mean of the per-type F1), ``support`` (gold entities), and for each
    type ``T``: ``T.precision``, ``T.recall``, ``T.f1``, ``T.support``. Ratios are in
    points (0-100); a ratio with a zero denominator is 0.
    """
    from seqeval.metrics import classification_report  # slow import: only when scoring
    from seqeval.scheme import IOB2

    with warnings.catch_warnings():  # numpy complains about averaging zero types
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(
            [list(tags) for tags in gold],
            [list(tags) for tags in predicted],
            mode=MODE,
            scheme=IOB2,
            output_dict=True,
            zero_division=0,
        )
    micro = report.pop("micro avg")
    for average in ("macro avg", "weighted avg"):
        report.pop(average, None)
    types = sorted(report)
    scores: dict[str, Any] = {
        "precision": 100 * float(micro["precision"]),
        "recall": 100 * float(micro["recall"]),
        "f1": 100 * float(micro["f1-score"]),
        "macro_f1": 100 * sum(float(report[kind]["f1-score"]) for kind in types) / len(types)
        if types
        else 0.0,
        "support": int(micro["support"]),
    }
    for kind in types:
        row = report[kind]
        scores[f"{kind}.precision"] = 100 * float(row["precision"])
        scores[f"{kind}.recall"] = 100 * float(row["recall"])
        scores[f"{kind}.f1"] = 100 * float(row["f1-score"])
        scores[f"{kind}.support"] = int(row["support"])
    return scores


def entity_counts(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> list[list[int]]:
    """Per sentence ``[correct, predicted, gold]`` entity counts, as seqeval's strict mode counts.

    The entities are seqeval's own (``Entities`` with the IOB2 scheme), so summed over
    all sentences these are exactly the counts behind :func:`entity_scores`' micro
    average, and :func:`f1_from_counts` of the sums is its ``f1``.
    """
    from seqeval.scheme import IOB2, Entities

    gold_entities = Entities([list(tags) for tags in gold], IOB2).entities
    predicted_entities = Entities([list(tags) for tags in predicted], IOB2).entities
    rows = []
    for true, guess in zip(gold_entities, predicted_entities, strict=True):
        true_set = {entity.to_tuple() for entity in true}
        guess_set = {entity.to_tuple() for entity in guess}
        rows.append([len(true_set & guess_set), len(guess_set), len(true_set)])
    return rows


def f1_from_counts(correct: float, predicted: float, gold: float) -> float:
    """Micro F1 in points from summed counts: 2·correct / (predicted + gold), 0 when both are 0."""
    return 200.0 * correct / (predicted + gold) if predicted + gold else 0.0
