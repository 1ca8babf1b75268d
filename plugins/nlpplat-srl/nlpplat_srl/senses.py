"""The roleset inventory: which rolesets a predicate may take, learned from training data.

PropBank has thousands of rolesets (``nominate.01``, ``run.02``, …), and a word can take only
the few of its own lemma. The sense head scores every roleset of the training data but
chooses only among a predicate's **candidates**: the rolesets seen in training with its
lemma, or with its lower-cased form. The lemma is the file's LEMMA column where there is
one (like the lemma column CoNLL-2009 systems read); for raw text it is the lemma seen most
often with that form in training, or the form itself. A predicate with no candidates
gets ``<lemma>.01``, the first sense, which is the usual one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

FALLBACK_SENSE = "01"


class SenseInventory:
    """Rolesets by id, and the candidate rolesets of each lemma and form."""

    def __init__(self) -> None:
        self.rolesets: list[str] = []
        self.ids: dict[str, int] = {}
        self.candidates: dict[str, list[int]] = {}  # "lemma:<lemma>" or "form:<form>" -> roleset ids
        self.form_lemmas: dict[str, str] = {}  # lower-cased predicate form -> its usual lemma

    def __len__(self) -> int:
        return len(self.rolesets)

    def fit(self, predicates: Iterable[tuple[str, str | None, str]]) -> SenseInventory:
        """Learn from ``(form, lemma or None, roleset)`` of every training predicate."""
        seen: dict[str, set[str]] = defaultdict(set)
        lemmas: dict[str, Counter[str]] = defaultdict(Counter)
        rolesets: set[str] = set()
        for form, lemma, roleset in predicates:
            form = form.lower()
            if lemma is not None:
                lemmas[form][lemma.lower()] += 1
            rolesets.add(roleset)
            seen[f"form:{form}"].add(roleset)
            seen[f"lemma:{(lemma or form).lower()}"].add(roleset)
        self.rolesets = sorted(rolesets)
        self.ids = {roleset: index for index, roleset in enumerate(self.rolesets)}
        self.candidates = {key: sorted(self.ids[r] for r in found) for key, found in sorted(seen.items())}
        # ties go to the alphabetically first lemma, so the table never depends on file order
        self.form_lemmas = {
            form: min(counts, key=lambda lemma: (-counts[lemma], lemma))
            for form, counts in sorted(lemmas.items())
        }
        return self

    def lemma(self, form: str, lemma: str | None) -> str:
        """The lemma under which a predicate's rolesets are looked up."""
        if lemma is not None:
            return lemma.lower()
        form = form.lower()
        return self.form_lemmas.get(form, form)

    def candidate_ids(self, form: str, lemma: str | None) -> list[int]:
        """Ids of the rolesets seen in training with this predicate's lemma or form (sorted)."""
        by_lemma = self.candidates.get(f"lemma:{self.lemma(form, lemma)}", [])
        by_form = self.candidates.get(f"form:{form.lower()}", [])
        return sorted(set(by_lemma) | set(by_form))

    def fallback(self, form: str, lemma: str | None) -> str:
        """The roleset of a predicate with no candidates: its lemma's first sense."""
        return f"{self.lemma(form, lemma)}.{FALLBACK_SENSE}"

    def state_dict(self) -> dict[str, Any]:
        return {"rolesets": self.rolesets, "candidates": self.candidates, "form_lemmas": self.form_lemmas}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rolesets = list(state["rolesets"])
        self.ids = {roleset: index for index, roleset in enumerate(self.rolesets)}
        self.candidates = {key: list(ids) for key, ids in state["candidates"].items()}
        self.form_lemmas = dict(state["form_lemmas"])
