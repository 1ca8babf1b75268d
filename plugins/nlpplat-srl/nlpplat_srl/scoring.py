"""Scores of semantic role labelling: argument, span, sense, predicate and end-to-end.

All argument scores go through seqeval (strict mode, IOB2, micro-averaged): each
predicate's argument column becomes one tag sequence (:mod:`nlpplat_srl.roles`), so an
argument counts as correct when the same predicate has a gold argument with the same
role on the same word(s). With one-token arguments that is exactly CoNLL-2009's labelled
(predicate, argument head, role) triple; the predicate's own ``V`` is never counted.
Ratios are in points (0-100), 0 when their denominator is 0.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from nlpplat_srl.conllu import Sentence
from nlpplat_srl.instances import Frame, Instance, Predicates
from nlpplat_srl.pipeline import Analysis
from nlpplat_srl.roles import OUTSIDE, role_tags, span_tags

MODE, SCHEME = "strict", "IOB2"


def signature() -> str:
    version = importlib.metadata.version("seqeval")
    return (
        f"seqeval={version}|mode={MODE}|scheme={SCHEME}|average=micro|unit=argument-head|"
        "span=dependency-subtree|excluded=V"
    )


def ratio(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def f1_from_counts(correct: float, predicted: float, gold: float) -> float:
    """Micro F1 in points from summed counts: 2·correct / (predicted + gold), 0 when both are 0."""
    return 200.0 * correct / (predicted + gold) if predicted + gold else 0.0


def sequence_scores(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    prefix: str = "",
    per_role: bool = False,
) -> dict[str, Any]:
    """seqeval's micro ``precision``, ``recall``, ``f1`` and ``support`` (gold arguments), keys prefixed.

    ``per_role`` adds ``role.<ROLE>.precision``/``.recall``/``.f1``/``.support``.
    """
    if not any(tag != OUTSIDE for tags in (*gold, *predicted) for tag in tags):
        return {f"{prefix}precision": 0.0, f"{prefix}recall": 0.0, f"{prefix}f1": 0.0, f"{prefix}support": 0}
    from seqeval.metrics import classification_report  # slow import: only when scoring
    from seqeval.scheme import IOB2

    with warnings.catch_warnings():  # numpy warns about averages over no roles
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
    scores: dict[str, Any] = {
        f"{prefix}precision": 100 * float(micro["precision"]),
        f"{prefix}recall": 100 * float(micro["recall"]),
        f"{prefix}f1": 100 * float(micro["f1-score"]),
        f"{prefix}support": int(micro["support"]),
    }
    if per_role:
        for role in sorted(set(report) - {"macro avg", "weighted avg"}):
            row = report[role]
            scores[f"{prefix}role.{role}.precision"] = 100 * float(row["precision"])
            scores[f"{prefix}role.{role}.recall"] = 100 * float(row["recall"])
            scores[f"{prefix}role.{role}.f1"] = 100 * float(row["f1-score"])
            scores[f"{prefix}role.{role}.support"] = int(row["support"])
    return scores


def sequence_counts(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> list[list[int]]:
    """Per sequence ``[correct, predicted, gold]`` arguments, counted as seqeval's strict mode counts."""
    from seqeval.scheme import IOB2, Entities

    true = Entities([list(tags) for tags in gold], IOB2).entities
    guessed = Entities([list(tags) for tags in predicted], IOB2).entities
    rows = []
    for mine, theirs in zip(true, guessed, strict=True):
        mine_set = {entity.to_tuple()[1:] for entity in mine}
        theirs_set = {entity.to_tuple()[1:] for entity in theirs}
        rows.append([len(mine_set & theirs_set), len(theirs_set), len(mine_set)])
    return rows


def frame_tags(instance: Instance, frame: Frame | None) -> tuple[list[str], list[str]]:
    """Gold and predicted one-token tags of a predicate instance (all ``O`` where there is no frame)."""
    position, n = instance.position, len(instance.tokens)
    assert position is not None
    gold = role_tags(instance.gold_cells, position) if instance.gold_cells is not None else [OUTSIDE] * n
    predicted = role_tags(frame.cells, position) if frame is not None else [OUTSIDE] * n
    return gold, predicted


def split_predictions(
    instances: Sequence[Instance], predictions: Sequence[Any]
) -> tuple[list[tuple[Instance, Frame]], list[tuple[Instance, Predicates]]]:
    """The scored pairs: predicate instances and identification instances of annotated sentences."""
    if len(instances) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(instances)} instances")
    frames, found = [], []
    for instance, prediction in zip(instances, predictions, strict=True):
        if not instance.sentence.annotated:
            continue
        if instance.position is None:
            found.append((instance, prediction))
        elif instance.frame is not None:
            frames.append((instance, prediction))
    return frames, found


def gold_predicate_scores(frames: Sequence[tuple[Instance, Frame]]) -> dict[str, Any]:
    """Argument, per-role, span and sense scores with gold predicates."""
    pairs = [frame_tags(instance, frame) for instance, frame in frames]
    scores = sequence_scores([g for g, _ in pairs], [p for _, p in pairs], per_role=True)
    span_gold, span_predicted = [], []
    for instance, frame in frames:
        heads, position = instance.sentence.heads, instance.position
        span_gold.append(span_tags(instance.gold_cells, position, heads))
        span_predicted.append(span_tags(frame.cells, position, heads))
    scores.update(sequence_scores(span_gold, span_predicted, prefix="span."))
    correct = sum(frame.roleset == instance.sentence.rolesets[instance.frame] for instance, frame in frames)
    scores["sense.accuracy"] = ratio(correct, len(frames))
    scores["predicates"] = len(frames)
    return scores


def identification_scores(found: Sequence[tuple[Instance, Predicates]]) -> dict[str, Any]:
    """Micro precision, recall and F1 of the predicted predicate positions (``predicate.*``), and
    when the model parses, ``parser.uas``: the share of words given their gold head (the root
    counts as a head), over the sentences with a gold tree."""
    correct = predicted = gold = 0
    attached = words = 0
    for instance, prediction in found:
        truth, guess = set(instance.sentence.predicates), set(prediction.positions)
        correct, predicted, gold = correct + len(truth & guess), predicted + len(guess), gold + len(truth)
        heads = instance.sentence.heads
        if prediction.tree is not None and heads is not None:
            # a tree covers the words the host kept; any it cut off count as unattached
            attached += sum(guess == truth for guess, truth in zip(prediction.tree, heads, strict=False))
            words += len(heads)
    scores = {
        "predicate.precision": ratio(correct, predicted),
        "predicate.recall": ratio(correct, gold),
        "predicate.f1": f1_from_counts(correct, predicted, gold),
    }
    if words:
        scores["parser.uas"] = ratio(attached, words)
    return scores


def end_to_end_scores(
    found: Sequence[tuple[Instance, Predicates]], frames: Mapping[tuple[int, int], Frame]
) -> dict[str, Any]:
    """Argument scores of the pipeline: predicted predicates, then their senses and arguments.

    Every (sentence, position) that is a gold or a predicted predicate is one sequence: gold
    arguments (none for a false predicate), predicted ones (none for a missed predicate).
    ``frames`` maps ``(id(sentence), position)`` to the frame predicted for that predicate.
    A predicted predicate without a frame there is counted with no arguments, and as
    ``e2e.unscored_predicates``; with every frame present the scores are exact.
    """
    gold_tags, predicted_tags = [], []
    unscored = correct_senses = 0
    for instance, prediction in found:
        sentence = instance.sentence
        for position in sorted(set(sentence.predicates) | set(prediction.positions)):
            marked = Instance(sentence, position, sentence.frame(position))
            frame = frames.get((id(sentence), position)) if position in prediction.positions else None
            if position in prediction.positions and frame is None:
                unscored += 1
            if frame is not None and marked.frame is not None:
                correct_senses += frame.roleset == sentence.rolesets[marked.frame]
            gold, predicted = frame_tags(marked, frame)
            gold_tags.append(gold)
            predicted_tags.append(predicted)
    scores = sequence_scores(gold_tags, predicted_tags, prefix="e2e.")
    gold_count = sum(len(instance.sentence.predicates) for instance, _ in found)
    predicted_count = sum(len(prediction.positions) for _, prediction in found)
    # a predicate is right when found with the right roleset (CoNLL-2009's predicate score)
    scores["e2e.sense.f1"] = f1_from_counts(correct_senses, predicted_count, gold_count)
    scores["e2e.unscored_predicates"] = unscored
    return scores


def srl_scores(instances: Sequence[Instance], predictions: Sequence[Any]) -> dict[str, Any]:
    """Every score of a split: see ``docs/tasks/srl.md`` for the keys and their definitions."""
    frames, found = split_predictions(instances, predictions)
    scores = gold_predicate_scores(frames)
    scores.update(identification_scores(found))
    by_position = {(id(instance.sentence), instance.position): frame for instance, frame in frames}
    scores.update(end_to_end_scores(found, by_position))
    return scores


def pipeline_scores(sentences: Sequence[Sentence], analyses: Sequence[Analysis]) -> dict[str, Any]:
    """Exact end-to-end scores of :func:`nlpplat_srl.pipeline.analyse` output on annotated ``sentences``."""
    found, frames = [], {}
    for sentence, analysis in zip(sentences, analyses, strict=True):
        if not sentence.annotated:
            continue
        found.append((Instance(sentence), Predicates(tuple(position for position, _ in analysis.frames))))
        frames.update({(id(sentence), position): frame for position, frame in analysis.frames})
    return end_to_end_scores(found, frames)
