"""End to end: find the predicates, then label each one — two passes of the same model.

The first pass reads every sentence with no predicate marked and finds its predicates; the
second marks each predicted predicate in turn and predicts its roleset and arguments. This
is what ``predict_text`` does with raw text, and what :func:`nlpplat_srl.scoring.pipeline_scores`
scores exactly on annotated files (the ``srl-pipeline`` command).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nlpplat_srl.conllu import Sentence
from nlpplat_srl.instances import Frame, Instance, Predicates

Predict = Callable[[list[Any]], list[Any]]


@dataclass(frozen=True)
class Analysis:
    """One sentence, analysed: ``frames`` holds ``(word position, frame)`` of each predicted
    predicate, left to right; ``tree`` the model's parse (:attr:`Predicates.tree`), if it parses."""

    frames: list[tuple[int, Frame]]
    tree: tuple[int, ...] | None = None


def analyse(sentences: Sequence[Sentence], predict: Predict) -> list[Analysis]:
    """The :class:`Analysis` of each sentence."""
    if not sentences:
        return []
    found: list[Predicates] = predict([Instance(sentence) for sentence in sentences])
    marked = [
        Instance(sentence, position, sentence.frame(position))
        for sentence, predicates in zip(sentences, found, strict=True)
        for position in predicates.positions
    ]
    frames: list[Frame] = predict(marked) if marked else []
    by_sentence: dict[int, list[tuple[int, Frame]]] = {id(sentence): [] for sentence in sentences}
    for instance, frame in zip(marked, frames, strict=True):
        assert instance.position is not None
        by_sentence[id(instance.sentence)].append((instance.position, frame))
    return [
        Analysis(by_sentence[id(sentence)], predicates.tree)
        for sentence, predicates in zip(sentences, found, strict=True)
    ]
