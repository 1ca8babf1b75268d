"""Translation metrics with sacrebleu (Post, 2018), on detokenized text against raw references.

BLEU (Papineni et al. 2002), chrF (Popović 2015) and TER (Snover et al. 2006) with
sacrebleu's defaults — BLEU: 13a tokenization, mixed case, exponential smoothing — and
their signature strings, which say exactly how a score was computed so that scores from
elsewhere can be compared only when the signatures match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sacrebleu.metrics import BLEU, CHRF, TER


def corpus_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """BLEU, chrF and TER in points, with their signatures and BLEU's details."""
    bleu, chrf, ter = BLEU(), CHRF(), TER()
    refs = [list(references)]
    hyps = list(hypotheses)
    bleu_score = bleu.corpus_score(hyps, refs)
    return {
        "bleu": bleu_score.score,
        "chrf": chrf.corpus_score(hyps, refs).score,
        "ter": ter.corpus_score(hyps, refs).score,
        "bleu_precisions": [round(p, 2) for p in bleu_score.precisions],
        "brevity_penalty": round(bleu_score.bp, 4),
        "length_ratio": round(bleu_score.sys_len / bleu_score.ref_len, 4) if bleu_score.ref_len else 0.0,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "ter_signature": str(ter.get_signature()),
    }


def signature() -> str:
    """The three signatures, for one reference per sentence (what every score here uses)."""
    parts = []
    for name, metric in (("BLEU", BLEU()), ("chrF", CHRF()), ("TER", TER())):
        metric.corpus_score(["x"], [["x"]])  # sacrebleu signs a metric once it knows the reference count
        parts.append(f"{name}: {metric.get_signature()}")
    return " · ".join(parts)


def bleu_statistics(hypotheses: Sequence[str], references: Sequence[str]) -> list[list[float]]:
    """Per-sentence BLEU sufficient statistics, as sacrebleu's paired bootstrap uses them:
    hypothesis and reference length, then matching and total n-grams for n = 1 … 4."""
    rows = BLEU()._extract_corpus_statistics(list(hypotheses), [list(references)])
    return [[float(value) for value in row] for row in rows]


def bleu_from_statistics(totals: Sequence[float]) -> float:
    """Corpus BLEU from summed :func:`bleu_statistics` rows (exactly sacrebleu's corpus BLEU)."""
    return BLEU()._compute_score_from_stats([round(value) for value in totals]).score
