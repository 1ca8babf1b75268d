"""Dialogue metrics: perplexity, BLEU (sacrebleu), distinct-n, response length, act scores.

Words are the whitespace tokens of DailyDialog's own tokenization (punctuation split off,
``I 'm fine , thanks .``), which is also how responses are written; the model reads and
writes subword pieces (:mod:`nlpplat.subwords`), but every length and n-gram here counts
words, so the numbers do not depend on the subword vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sacrebleu.metrics import BLEU


@dataclass(frozen=True, eq=False)
class Reply:
    """One prediction: the generated response (None when only scored) and the gold response's score.

    ``log_likelihood``: the model's total log-probability of the gold response, end of
    response included; ``pieces``: how many subword pieces that is (end included). Two
    replies are equal when their texts are and their scores agree to float tolerance
    (a padded batch sums in another order than a single example).
    """

    text: str | None
    log_likelihood: float
    pieces: int

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reply):
            return NotImplemented
        return (
            self.text == other.text
            and self.pieces == other.pieces
            and math.isclose(self.log_likelihood, other.log_likelihood, rel_tol=1e-5, abs_tol=1e-4)
        )

    __hash__ = None  # type: ignore[assignment]  # equal replies may differ in their last bits


def words(text: str) -> list[str]:
    return text.split()


def perplexities(replies: Sequence[Reply], references: Sequence[str]) -> dict[str, float]:
    """``ppl`` per word and ``subword_ppl`` per piece, over the whole corpus.

    Both are exp(-total log-likelihood / units), where the units are the references'
    words plus one end of response each (``ppl``), or their pieces plus the end
    (``subword_ppl``). The log-likelihood is the same sum in both, so ``ppl`` is the
    tokenization-independent one (it grows with the pieces per word).
    """
    total = sum(reply.log_likelihood for reply in replies)
    word_count = sum(len(words(reference)) + 1 for reference in references)
    piece_count = sum(reply.pieces for reply in replies)
    return {
        "ppl": math.exp(-total / max(word_count, 1)),
        "subword_ppl": math.exp(-total / max(piece_count, 1)),
    }


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct(responses: Sequence[str], n: int) -> tuple[float, float]:
    """Distinct-n (Li et al. 2016) in points: (corpus-level, mean per response).

    Corpus-level: distinct n-grams over all responses / all n-grams. Per response: the
    same ratio within each response (100 for a response with no n-gram repeated),
    averaged over the responses that have at least one n-gram. Papers usually print the
    fraction: their 0.128 is 12.8 here.
    """
    every = [ngrams(words(response), n) for response in responses]
    total = sum(len(grams) for grams in every)
    corpus = len({gram for grams in every for gram in grams}) / total if total else 0.0
    ratios = [len(set(grams)) / len(grams) for grams in every if grams]
    return 100.0 * corpus, 100.0 * (sum(ratios) / len(ratios) if ratios else 0.0)


def generation_metrics(responses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """BLEU, BLEU-1, BLEU-2 (sacrebleu, corpus level), distinct-1/2 and average lengths."""
    refs = [list(references)]
    scores: dict[str, Any] = {}
    for name, order in (("bleu", 4), ("bleu1", 1), ("bleu2", 2)):
        bleu = BLEU(max_ngram_order=order, force=True)  # DailyDialog is tokenized, hypotheses alike
        scores[name] = bleu.corpus_score(list(responses), refs).score
    scores["bleu_signature"] = str(bleu.get_signature())  # the same for every order
    for n in (1, 2):
        scores[f"distinct{n}"], scores[f"distinct{n}_mean"] = distinct(responses, n)
    scores["length"] = sum(len(words(r)) for r in responses) / max(len(responses), 1)
    scores["reference_length"] = sum(len(words(r)) for r in references) / max(len(references), 1)
    return scores


def signature() -> str:
    """How the scores are computed, stored beside them."""
    bleu = BLEU()
    bleu.corpus_score(["x"], [["x"]])  # sacrebleu signs a metric once it knows the reference count
    return (
        f"BLEU (orders 4, 1 and 2): {bleu.get_signature()} · ppl per whitespace word + end of response · "
        "distinct-n over whitespace words"
    )


def classification_metrics(
    predicted: Sequence[int], gold: Sequence[int], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-label precision/recall/F1, in points.

    Macro-F1 is the unweighted mean of the per-label F1 scores, so a rare act counts as
    much as a frequent one; a label never predicted and never gold is left out of it.
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")
    scores: dict[str, Any] = {
        "accuracy": 100.0 * sum(p == g for p, g in zip(predicted, gold, strict=True)) / max(len(gold), 1)
    }
    f1s = []
    for index, label in enumerate(labels):
        true_positive = sum(p == index and g == index for p, g in zip(predicted, gold, strict=True))
        predicted_count, gold_count = predicted.count(index), gold.count(index)
        if not predicted_count and not gold_count:
            continue
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / gold_count if gold_count else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        scores[f"{label}_precision"] = 100.0 * precision
        scores[f"{label}_recall"] = 100.0 * recall
        scores[f"{label}_f1"] = 100.0 * f1
    scores["macro_f1"] = 100.0 * sum(f1s) / len(f1s) if f1s else 0.0
    return scores
