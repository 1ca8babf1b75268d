"""Which roles a predicate's lemma takes, counted in the training data: a prior for the labeller.

Whether the subject of a verb is its ``ARG0`` or its ``ARG1``, and whether its ``obl`` is an
``ARG2`` or an ``ARGM-LOC``, is a fact about the verb (``arrive`` has no ``ARG0``; ``put``
takes an ``ARG2`` location). PropBank keeps such facts in its frame files; without them a
model must learn each verb's roles from its few training sentences, through embeddings
trained from scratch. The **role prior** of a predicate gives them to the argument scorer
directly: for each argument tag, the fraction of the lemma's training predicates whose
argument column holds that role (for ``O``: the fraction with no argument at all), and how
many predicates that is, as ``n / (n + 1)``.

Counted naively, a training predicate would read its own roles in its prior, and more so
the rarer its lemma: the scorer would learn to copy the prior, which at test time holds
only other sentences' roles. So the training sentences are split into two halves by a
hash of their words, and every predicate, in training and at test time alike, reads the
counts of the half its sentence is not in: its own sentence never counts, and the prior
means the same thing in training and at test time. The price is that a lemma seen in one
half only has no prior for the sentences of that half.

Lemmas are looked up as the roleset inventory looks them up
(:meth:`~nlpplat_srl.senses.SenseInventory.lemma`): the file's LEMMA, or for raw text the
lemma seen most often with the form.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from nlpplat_srl.instances import Instance
from nlpplat_srl.roles import OUTSIDE, arguments

HALVES = 2  # a sentence reads the counts of the other half


def half(tokens: Sequence[str]) -> int:
    """The half of the data a sentence falls in: a stable hash of its words (not Python's
    ``hash``, which changes from process to process)."""
    return zlib.crc32("\t".join(tokens).encode("utf-8")) % HALVES


class RolePriors:
    """Role counts per lemma in each half of the training sentences, read as priors over ``tags``
    (the task's argument tags: ``O`` first, then ``B-<role>``); ``lemma(form, lemma or None)``
    gives the key a predicate is counted and looked up under."""

    def __init__(self, tags: Sequence[str], lemma: Callable[[str, str | None], str]) -> None:
        self.tags, self.lemma = list(tags), lemma
        # per half: lemma -> [predicates, {role: predicates with that role}]; "O": with none
        self.counts: list[dict[str, tuple[int, dict[str, int]]]] = [{} for _ in range(HALVES)]
        self._priors: dict[tuple[int, str], list[float]] = {}  # (half, lemma) -> prior, each computed once

    def _key(self, instance: Instance) -> str:
        return self.lemma(instance.tokens[instance.position], instance.sentence.lemmas[instance.position])

    def fit(self, instances: Iterable[Instance]) -> RolePriors:
        """Count the roles of the marked, annotated ``instances``."""
        totals: list[Counter[str]] = [Counter() for _ in range(HALVES)]
        roles: list[dict[str, Counter[str]]] = [defaultdict(Counter) for _ in range(HALVES)]
        for instance in instances:
            if instance.frame is None or not instance.sentence.annotated:
                continue
            part, key = half(instance.tokens), self._key(instance)
            found = {role for _, role in arguments(instance.gold_cells, instance.position)}
            totals[part][key] += 1
            roles[part][key].update(found or {OUTSIDE})
        self._priors = {}
        self.counts = [
            {key: (totals[part][key], dict(sorted(roles[part][key].items()))) for key in sorted(totals[part])}
            for part in range(HALVES)
        ]
        return self

    def prior(self, instance: Instance) -> list[float]:
        """``len(tags) + 1`` values for a marked ``instance``: per tag (``O`` first, then
        ``B-<role>``) the fraction of its lemma's predicates in the other half with that role,
        then ``n / (n + 1)`` for their number ``n``; all 0 for a lemma that half never saw.
        The list is computed once per lemma and half and shared: copy it before changing it."""
        cached = (half(instance.tokens) + 1) % HALVES, self._key(instance)  # the other half
        if cached not in self._priors:
            total, roles = self.counts[cached[0]].get(cached[1], (0, {}))
            fractions = [
                roles.get(OUTSIDE if tag == OUTSIDE else tag[2:], 0) / max(total, 1) for tag in self.tags
            ]
            self._priors[cached] = [*fractions, total / (total + 1)]
        return self._priors[cached]

    def state_dict(self) -> dict[str, Any]:
        return {"counts": [{key: [n, roles] for key, (n, roles) in part.items()} for part in self.counts]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._priors = {}
        self.counts = [
            {key: (int(n), dict(roles)) for key, (n, roles) in part.items()} for part in state["counts"]
        ]
