"""Training instances and predictions: one instance per predicate, one per sentence.

A sentence with ``n`` predicates gives ``n + 1`` instances, all reading its tokens:

- one **predicate instance** per predicate, with that predicate marked by the indicator
  input (Marcheggiani & Titov, 2017; He et al., 2017): its roleset and argument column
  are the targets, its prediction is a :class:`Frame`;
- one **identification instance** with no predicate marked (an all-zero indicator): which
  words are predicates is the target, its prediction is a :class:`Predicates`.

Identification never sees a marked predicate, so the indicator cannot leak into it, and
argument labelling always sees one, as it does at prediction time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nlpplat_srl.conllu import Sentence

PREDICATE = "V"  # the argument cell of the predicate itself


@dataclass(eq=False)
class Instance:
    """What the model reads once: a sentence, with the predicate at ``position`` marked.

    ``position`` is None for an identification instance. ``frame`` is the index of the gold
    predicate at ``position`` (:attr:`Sentence.predicates`), None if there is none there
    (a predicted predicate that is not a gold one, or raw text).
    """

    sentence: Sentence
    position: int | None = None
    frame: int | None = None

    @property
    def tokens(self) -> list[str]:
        return self.sentence.tokens

    @property
    def gold_cells(self) -> list[str] | None:
        """The gold argument column of the marked predicate, if there is one."""
        return None if self.frame is None else self.sentence.arguments[self.frame]


@dataclass(frozen=True)
class Frame:
    """The prediction for a predicate instance: its roleset and argument column (``_``, ``V``, roles)."""

    roleset: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Predicates:
    """The prediction for an identification instance: the word positions of the predicates.

    ``tree``: each word's head (0-based, ``-1`` for the root) in the model's own parse of the
    sentence, when the model has a parser (``task.syntax > 0``); else None.
    """

    positions: tuple[int, ...]
    tree: tuple[int, ...] | None = None


Prediction = Frame | Predicates


def instances(sentences: Iterable[Sentence]) -> list[Instance]:
    """Every sentence's identification instance followed by its predicate instances."""
    result = []
    for sentence in sentences:
        result.append(Instance(sentence))
        result.extend(Instance(sentence, position, k) for k, position in enumerate(sentence.predicates))
    return result


def gold(instance: Instance) -> Prediction:
    """The perfect prediction for ``instance``, as read from its file."""
    sentence = instance.sentence
    if instance.position is None:
        return Predicates(tuple(sentence.predicates))
    if instance.frame is None:
        raise ValueError(
            f"{sentence.path}:{sentence.line}: no gold predicate at word {instance.position + 1}"
        )
    return Frame(sentence.rolesets[instance.frame], tuple(sentence.arguments[instance.frame]))
