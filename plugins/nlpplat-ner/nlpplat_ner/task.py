"""The ``ner`` task: named-entity recognition as sequence labelling over column files."""

# No ``from __future__ import annotations`` here: the host reads the field types of
# ``NERConfig`` to parse ``--set task.key=value``, and wants types, not strings.

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nlpplat import Batch, DataError, Task
from nlpplat.errors import ConfigError
from nlpplat.text import split_sentences
from nlpplat_ner import scoring
from nlpplat_ner.head import TaggerHead
from nlpplat_ner.reader import Sentence, read_columns, write_columns
from nlpplat_ner.schemes import (
    INTERNAL,
    bioes_labels,
    convert,
    detect_scheme,
    entity_types,
    find_violation,
    from_spans,
    normalise_scheme,
    split_tag,
    to_spans,
)

HEADS = ("crf", "softmax")


@dataclass
class NERConfig:
    head: str = "crf"  # "crf": Viterbi over valid BIOES paths; "softmax": each token on its own
    dropout: float = 0.2  # on the encoder states, just before the output layer
    token_column: int = 0  # column holding the token; 1 for Universal NER (column 0 is an index)
    tag_column: int = -1  # column holding the entity tag; -1 is the last (CoNLL-2003); 2 for Universal NER
    input_scheme: str = "auto"  # tag scheme of the files: "auto" (detected per file), IOB1, IOB2, BIOES
    # Columns whose values are embedded as extra token inputs, e.g. [1, 2] for CoNLL-2003's
    # part-of-speech and chunk tags. Values unseen in training share one "unknown" vector.
    feature_columns: list[int] = field(default_factory=list)
    # Within a document (-DOCSTART- markers; raw text is one), a name usually keeps one type, so
    # each predicted entity takes the type that most mentions of the same words received, a
    # longer name voting also for the shorter names inside it ("Bill Clinton" for "Clinton")
    # (non-local consistency: Mikheev et al., 1999; Krishnan & Manning, 2006; Ratinov & Roth,
    # 2009). Ties keep their own.
    document_vote: bool = True

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ConfigError(f"task.head must be one of {', '.join(HEADS)}, not {self.head!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"task.dropout must be in [0, 1), not {self.dropout!r}")
        if self.input_scheme.lower() != "auto":
            try:
                self.input_scheme = normalise_scheme(self.input_scheme)
            except ValueError as error:
                raise ConfigError(f"task.input_scheme: {error}, or auto") from None
        if not all(isinstance(column, int) for column in self.feature_columns):
            raise ConfigError(f"task.feature_columns must be column numbers, not {self.feature_columns!r}")
        reserved = {self.token_column, self.tag_column}
        if reserved & set(self.feature_columns):
            raise ConfigError("task.feature_columns must not include the token or tag column")


class NERTask(Task):
    """Tag every token with an entity label; score entity spans with seqeval.

    Examples are :class:`~nlpplat_ner.reader.Sentence`. Whatever a file's scheme, the
    model learns and predicts BIOES labels (``self.labels``); predictions go back to
    each sentence's own scheme, so ``decode`` returns tags as the file would write them.
    """

    name = "ner"
    Config = NERConfig
    primary_metric = "f1"
    higher_is_better = True
    prediction_suffix = ".conll"
    default_datasets = ("conll2003", "demo")  # the benchmark when it is here, else generated data
    description = "Named-entity recognition on CoNLL-style column files (IOB1, IOB2, BIOES)."

    def __init__(self, config: NERConfig | None = None, language: str = "en"):
        config = config if config is not None else NERConfig()
        config.__post_init__()  # again: the host may have changed fields after construction
        super().__init__(config, language)
        self.labels: list[str] = []  # BIOES labels, "O" first; a tag's id is its index
        self._ids: dict[str, int] = {}
        # Per feature column, the values seen in training; a value's id is its index + 1
        # (0 is "unknown": unseen values, and text without the column).
        self.feature_values: dict[int, list[str]] = {}
        self._feature_ids: dict[int, dict[str, int]] = {}

    # -- data ---------------------------------------------------------------------
    def read(self, path: Path) -> list[Sentence]:
        """Every sentence of a column file, with its tags checked and its scheme set.

        Raises :class:`DataError` at ``file:line`` for a malformed line, an invalid tag
        (``B-``, ``X-PER``, ``B-O``), a tag sequence its scheme forbids, or no sentences.
        """
        config = self.config
        sentences = list(read_columns(path, config.token_column, config.tag_column))
        if not sentences:
            raise DataError(path, None, "no sentences (expected one token per line, blank lines between)")
        for sentence in sentences:
            for position, tag in enumerate(sentence.tags):
                try:
                    split_tag(tag)
                except ValueError as error:
                    width = len(sentence.rows[position])
                    where = (
                        f"tag column {config.tag_column} of {width}; set task.tag_column if it is elsewhere"
                    )
                    raise DataError(path, sentence.line + position, f"{error} ({where})") from None
            width = len(sentence.rows[0])
            for column in config.feature_columns:
                if not -width <= column < width:
                    message = f"has {width} columns, so there is no feature column {column}"
                    raise DataError(path, sentence.line, f"{message} (see task.feature_columns)")
                if column % width in (config.token_column % width, config.tag_column % width):
                    message = f"feature column {column} is the token or tag column of its {width}"
                    raise DataError(path, sentence.line, f"{message} (see task.feature_columns)")
        scheme = config.input_scheme
        if scheme == "auto":
            scheme = detect_scheme(sentence.tags for sentence in sentences)
        for sentence in sentences:
            sentence.scheme = scheme
            violation = find_violation(sentence.tags, scheme)
            if violation:
                position, reason = violation
                hint = ""
                if config.input_scheme != "auto":
                    detected = detect_scheme(sentence.tags for sentence in sentences)
                    hint = f" (the file looks like {detected}: set task.input_scheme=auto)"
                raise DataError(path, sentence.line + position, reason + hint)
        return sentences

    def tokens(self, example: Sentence) -> list[str]:
        return example.tokens

    def fit(self, examples: Sequence[Sentence]) -> None:
        """The BIOES label vocabulary: ``O``, then B-/I-/E-/S- for every entity type seen."""
        self._set_labels(bioes_labels(entity_types(tag for example in examples for tag in example.tags)))
        values = {
            column: sorted({row[column] for example in examples for row in example.rows})
            for column in self.config.feature_columns
        }
        self._set_feature_values(values)

    def state_dict(self) -> dict[str, Any]:
        features = {str(column): values for column, values in self.feature_values.items()}
        return {"labels": list(self.labels), "scheme": INTERNAL, "feature_values": features}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._set_labels(list(state["labels"]))
        features = state.get("feature_values", {})
        self._set_feature_values({int(column): list(values) for column, values in features.items()})

    def _set_feature_values(self, values: dict[int, list[str]]) -> None:
        self.feature_values = values
        self._feature_ids = {
            column: {value: index for index, value in enumerate(known, start=1)}
            for column, known in values.items()
        }

    def _set_labels(self, labels: list[str]) -> None:
        self.labels = labels
        self._ids = {label: index for index, label in enumerate(labels)}

    def targets(self, examples: Sequence[Sentence], length: int) -> dict[str, Tensor]:
        """``{"tags": (B, length) long}``: BIOES label ids, 0 (``O``) at padding.

        Entity types unknown to the vocabulary (in dev or test only) become ``O``, which
        keeps every sequence valid; metrics read the examples' own tags, not these.
        """
        tags = torch.zeros(len(examples), length, dtype=torch.long)
        for row, example in enumerate(examples):
            ids = [self._ids.get(tag, 0) for tag in convert(example.tags, INTERNAL)[:length]]
            tags[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return {"tags": tags}

    def input_features(self) -> dict[str, int]:
        """``column<N>`` for each of ``task.feature_columns``: its training values, plus unknown."""
        return {f"column{column}": len(known) + 1 for column, known in self.feature_values.items()}

    def features(self, examples: Sequence[Sentence], length: int) -> dict[str, Tensor]:
        """``column<N>`` (B, length) long: each token's value id in column N, 0 if unknown or absent.

        Raw text (:meth:`predict_text`) has no columns, so its tokens get 0 throughout.
        """
        features = {}
        for column, ids in self._feature_ids.items():
            values = torch.zeros(len(examples), length, dtype=torch.long)
            for row, example in enumerate(examples):
                found = [
                    ids.get(cells[column], 0) if len(cells) > column >= -len(cells) else 0
                    for cells in example.rows[:length]
                ]
                values[row, : len(found)] = torch.tensor(found, dtype=torch.long)
            features[f"column{column}"] = values
        return features

    # -- model --------------------------------------------------------------------
    def build_head(self, input_dim: int) -> TaggerHead:
        if not self.labels:
            raise RuntimeError("NERTask.build_head needs labels: call fit() or load_state_dict() first")
        config = self.config
        return TaggerHead(input_dim, self.labels, crf=config.head == "crf", dropout=config.dropout)

    def loss(self, head: nn.Module, states: Tensor, batch: Batch) -> Tensor:
        """Mean over real tokens of the CRF negative log-likelihood (or cross-entropy)."""
        return head.loss(states, batch.targets["tags"], batch.mask)

    def decode(self, head: nn.Module, states: Tensor, batch: Batch) -> list[list[str]]:
        """Predicted tags per example, in the example's own scheme and of its full length.

        CRF: the Viterbi path, always a valid BIOES sequence. Softmax: the per-token
        argmax, repaired by reading it as spans (:func:`~nlpplat_ner.schemes.to_spans`).
        Tokens beyond the batch's mask (if the host truncated a sentence) are ``O``.
        """
        with torch.no_grad():
            ids = head.predict(states, batch.mask)
        predictions = []
        for example, row in zip(batch.examples, ids, strict=True):
            internal = [self.labels[index] for index in row]
            internal += ["O"] * (len(example.tokens) - len(internal))
            predictions.append(convert(internal, example.scheme))
        return predictions

    def postprocess(self, predictions: list[list[str]], examples: Sequence[Sentence]) -> list[list[str]]:
        """With ``task.document_vote``: one entity type per name within each document.

        Every predicted span votes for its type under its words and under every shorter run
        of words inside them (a later "Clinton" is usually the "Bill Clinton" of before); a
        span whose type has fewer votes under its words, in its document, than the most voted
        one takes that one. Boundaries never change, and sentences outside any document
        (``document`` None) stay as they are.
        """
        if not self.config.document_vote:
            return predictions
        documents: dict[tuple[str, int], list[int]] = {}
        for index, example in enumerate(examples):
            if example.document is not None:
                documents.setdefault((example.path, example.document), []).append(index)
        revised = list(predictions)
        for members in documents.values():
            spans = {index: to_spans(predictions[index]) for index in members}
            votes: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
            for index, found in spans.items():
                for span in found:
                    for name in _names_within(examples[index].tokens[span.start : span.end]):
                        votes[name][span.type] += 1
            for index, found in spans.items():
                words = examples[index].tokens
                agreed = [
                    span._replace(type=_majority(votes[tuple(words[span.start : span.end])], span.type))
                    for span in found
                ]
                if agreed != found:
                    revised[index] = from_spans(agreed, len(words), examples[index].scheme)
        return revised

    # -- evaluation and output ---------------------------------------------------
    def metrics(self, predictions: Sequence[Sequence[str]], examples: Sequence[Sentence]) -> dict[str, Any]:
        """seqeval entity scores: see :func:`nlpplat_ner.scoring.entity_scores` for the keys."""
        return scoring.entity_scores(*self._iob2(predictions, examples))

    def example_statistics(
        self, predictions: Sequence[Sequence[str]], examples: Sequence[Sentence]
    ) -> list[list[float]]:
        """Per sentence ``[correct, predicted, gold]`` entities, counted as seqeval counts them."""
        return scoring.entity_counts(*self._iob2(predictions, examples))

    def metric_from_statistics(self, totals: Sequence[float]) -> float:
        """Micro F1 (points) from summed ``[correct, predicted, gold]``: seqeval's ``f1``."""
        correct, predicted, gold = totals
        return scoring.f1_from_counts(correct, predicted, gold)

    def _iob2(
        self, predictions: Sequence[Sequence[str]], examples: Sequence[Sentence]
    ) -> tuple[list[list[str]], list[list[str]]]:
        """Gold and predicted tags re-encoded as canonical IOB2, the form that is scored."""
        gold, predicted = [], []
        for example, tags in zip(examples, predictions, strict=True):
            if len(tags) != len(example.tokens):
                raise ValueError(
                    f"{example.path}:{example.line}: {len(tags)} tags for {len(example.tokens)} tokens"
                )
            gold.append(convert(example.tags, "IOB2"))
            predicted.append(convert(tags, "IOB2"))
        return gold, predicted

    def metric_signature(self) -> str:
        return scoring.signature()

    def decoding_parameters(self) -> dict[str, Any]:
        """``decoder``: ``viterbi`` (CRF head, valid BIOES paths) or ``argmax``; ``document_vote``: the setting."""
        config = self.config
        return {
            "decoder": "viterbi" if config.head == "crf" else "argmax",
            "document_vote": config.document_vote,
        }

    def write_predictions(
        self, examples: Sequence[Sentence], predictions: Sequence[Sequence[str]], path: Path
    ) -> None:
        """The input columns plus the predicted tag as a new last column (conlleval's layout)."""
        write_columns(path, examples, predictions)

    def predict_text(self, text: str, predict: Callable[[list[Any]], list[Any]]) -> list[dict[str, Any]]:
        """Tokenise and sentence-split ``text`` with spaCy, tag it, return its entities.

        One dict per sentence: ``text``, ``start``/``end`` (character offsets into
        ``text``), ``tokens``, ``tags`` (IOB2) and ``entities``, each ``{"text", "type",
        "start", "end"}`` with ``end`` exclusive, so ``text[start:end]`` is the entity.
        """
        sentences = split_sentences(text, self.language)
        examples = [
            Sentence(
                tokens=[token.text for token in tokens],
                tags=["O"] * len(tokens),
                rows=[[token.text] for token in tokens],
                path="<text>",
                line=number,
                scheme="IOB2",
                document=0,  # one text, one document
            )
            for number, tokens in enumerate(sentences, start=1)
        ]
        if not examples:
            return []
        results = []
        for tokens, tags in zip(sentences, predict(examples), strict=True):
            entities = []
            for span in to_spans(tags):
                start, end = tokens[span.start].start, tokens[span.end - 1].end
                entities.append({"text": text[start:end], "type": span.type, "start": start, "end": end})
            start, end = tokens[0].start, tokens[-1].end
            results.append(
                {
                    "text": text[start:end],
                    "start": start,
                    "end": end,
                    "tokens": [token.text for token in tokens],
                    "tags": list(tags),
                    "entities": entities,
                }
            )
        return results


def _names_within(words: Sequence[str]) -> set[tuple[str, ...]]:
    """Every contiguous run of ``words``, all of them included: "Bill Clinton" gives
    ("Bill", "Clinton"), ("Bill",) and ("Clinton",); a run that repeats counts once."""
    return {
        tuple(words[start:end]) for start in range(len(words)) for end in range(start + 1, len(words) + 1)
    }


def _majority(counts: Counter[str], own: str) -> str:
    """The type with the most votes, unless ``own`` has as many (ties keep their own)."""
    best, most = counts.most_common(1)[0]
    return best if most > counts[own] else own
