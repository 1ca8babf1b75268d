"""The ``dialogue`` task (response generation) and the ``dialogue-act`` task (act per utterance).

Both read the same dialogues and see the same input: the last ``context_turns`` turns,
each behind a speaker marker, as subword pieces, cut from the left to ``context_tokens``
pieces. The marker says who spoke relative to the turn in question — ``<self>`` for its
speaker, ``<other>`` for anyone else — so the model learns one role, not two names.

``dialogue`` encodes the turns before a response and generates the response with the
backbone's decoder (host search: greedy, beam with n-gram blocking, or sampling). Its
primary metric is per-word perplexity of the gold response, which needs no decoding: dev
evaluations during training only score, and generation metrics come at the end.

``dialogue-act`` encodes the turns up to and including the utterance, pools the states of
the utterance's own pieces and classifies its act (DailyDialog's four). It is a separate
task rather than a head switch because its primary metric (macro-F1, higher is better)
and its need for a decoder (none) differ from response generation's.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlpplat import Batch, Decoder, Task
from nlpplat.dropout import Dropout
from nlpplat.embeddings import UNK as UNKNOWN_WORD
from nlpplat.embeddings import SharedRows
from nlpplat.errors import ConfigError, DataError
from nlpplat.generation import GeneratingTask, GenerationSettings, TargetDecoder, teacher_forcing
from nlpplat.io import atomic_writer
from nlpplat.subwords import BOS, EOS, MODEL_TYPES, PAD, Subwords
from nlpplat_dialogue import scoring
from nlpplat_dialogue.reader import ACTS, Dialogue, dialogue_from_json, label_file, read_dialogues
from nlpplat_dialogue.scoring import Reply

SELF, OTHER = "<self>", "<other>"  # speaker markers, one subword piece each


@dataclass
class Exchange:
    """Turn ``index`` of ``dialogue`` (index ``len(turns)``: the turn to be generated)."""

    dialogue: Dialogue
    index: int
    pieces: list[str] | None = field(default=None, repr=False, compare=False)  # input (cache)
    start: int = field(default=0, repr=False, compare=False)  # where turn ``index`` begins in pieces
    target_ids: list[int] | None = field(default=None, repr=False, compare=False)  # response (cache)

    @property
    def text(self) -> str:
        """The turn itself ("" for a turn still to be generated)."""
        turns = self.dialogue.turns
        return turns[self.index] if self.index < len(turns) else ""


@dataclass
class ContextSettings:
    """What the model reads of a dialogue; shared by both tasks."""

    context_turns: int = 3  # turns before the one in question that the encoder reads
    context_tokens: int = 128  # at most this many pieces; older pieces are cut off first
    vocab_size: int = 8000  # sentencepiece pieces, learned on the training turns
    subword_model: str = "unigram"  # "unigram" (Kudo 2018) or "bpe" (Sennrich et al. 2016)
    # A longer turn is an error (file:line), never silently cut: a response must fit the
    # decoder's positions. DailyDialog's longest utterance has 278 words.
    max_words: int = 300

    def check(self) -> None:
        if self.context_turns < 1 or self.context_tokens < 8 or self.vocab_size < 16 or self.max_words < 1:
            raise ConfigError(
                "task.context_turns must be at least 1, task.context_tokens at least 8, "
                "task.vocab_size at least 16 and task.max_words positive"
            )
        if self.subword_model not in MODEL_TYPES:
            raise ConfigError(
                f"task.subword_model = {self.subword_model!r}: use one of {', '.join(MODEL_TYPES)}"
            )


def responder(dialogue: Dialogue, index: int) -> str:
    """Who says turn ``index``; for a turn still to come, whoever spoke before the last speaker."""
    if index < len(dialogue.turns) or dialogue.speakers is None:
        return dialogue.speaker(index)
    last = dialogue.speakers[-1]
    earlier = [speaker for speaker in dialogue.speakers if speaker != last]
    return earlier[-1] if earlier else f"not {last}"


def context_pieces(
    subwords: Subwords, dialogue: Dialogue, index: int, settings: ContextSettings, include_turn: bool
) -> tuple[list[str], int]:
    """The pieces the encoder reads for turn ``index``, and where that turn begins in them.

    The last ``context_turns`` turns before ``index`` (and turn ``index`` itself when
    ``include_turn``), each as its speaker marker then its pieces, cut from the left to
    ``context_tokens``.
    """
    speaker = responder(dialogue, index)
    pieces: list[str] = []
    start = 0
    for turn in range(max(0, index - settings.context_turns), index + 1 if include_turn else index):
        start = len(pieces)
        pieces.append(SELF if dialogue.speaker(turn) == speaker else OTHER)
        pieces.extend(subwords.source_pieces(dialogue.turns[turn]))
    cut = max(0, len(pieces) - settings.context_tokens)
    return pieces[cut:], max(0, start - cut) if include_turn else len(pieces) - cut


class DialogueData:
    """Reading, subwords and inputs: what the two dialogue tasks share (a mixin of :class:`Task`)."""

    config: Any
    language: str
    subwords: Subwords | None
    include_turn: ClassVar[bool]  # does the encoder read the turn in question?

    def read(self, path: Path) -> list[Exchange]:
        dialogues = read_dialogues(Path(path))
        limit = self.config.max_words
        for dialogue in dialogues:
            for number, turn in enumerate(dialogue.turns, 1):
                if len(turn.split()) > limit:
                    raise DataError(
                        dialogue.path,
                        dialogue.line,
                        f"turn {number} has {len(turn.split())} words, more than task.max_words={limit}; "
                        "split it or raise the limit",
                    )
        return self.exchanges(dialogues)

    def exchanges(self, dialogues: Sequence[Dialogue]) -> list[Exchange]:
        raise NotImplementedError

    def files(self, path: Path) -> list[Path]:
        labels = label_file(Path(path))
        return [Path(path)] + ([labels] if labels is not None else [])

    def held_out(self, train: Sequence[Exchange], examples: list[Exchange]) -> list[Exchange]:
        """Drop the exchanges of dialogues that also occur in train (DailyDialog repeats some)."""
        seen = {exchange.dialogue.turns for exchange in train}
        return [exchange for exchange in examples if exchange.dialogue.turns not in seen]

    def _subwords(self) -> Subwords:
        if self.subwords is None:
            raise RuntimeError(
                f"{type(self).__name__} needs its subword model: call fit() or load_state_dict() first"
            )
        return self.subwords

    def tokens(self, example: Exchange) -> list[str]:
        if example.pieces is None:  # encoded once per example, then reused every epoch
            example.pieces, example.start = context_pieces(
                self._subwords(), example.dialogue, example.index, self.config, self.include_turn
            )
        return example.pieces

    def fit(self, examples: Sequence[Exchange]) -> None:
        dialogues = {id(example.dialogue): example.dialogue for example in examples}.values()
        turns = [turn for dialogue in dialogues for turn in dialogue.turns]
        config = self.config
        self.subwords = Subwords.learn(
            turns, [], config.vocab_size, True, config.subword_model, (SELF, OTHER)
        )

    def state_dict(self) -> dict[str, Any]:
        return {"subwords": self._subwords().state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.subwords = Subwords.from_state_dict(state["subwords"])

    def parse_text(self, text: str) -> Dialogue:
        """A dialogue typed or given by the user: JSON (an object or list) or one plain utterance.

        Raw text is split into tokens by spaCy, as DailyDialog's own text was, so that the
        model sees ``you ?`` rather than ``you?``.
        """
        from nlpplat.text import tokenize  # spaCy: loaded only when raw text comes in

        stripped = text.strip()
        record: object = stripped
        if stripped[:1] in "[{":
            try:
                record = json.loads(stripped)
            except json.JSONDecodeError:
                record = stripped
        dialogue = dialogue_from_json([record] if isinstance(record, str) else record)
        turns = tuple(" ".join(tokenize(turn, self.language)) for turn in dialogue.turns)
        return Dialogue(turns, dialogue.speakers, dialogue.acts)


# -- response generation -------------------------------------------------------------------


@dataclass
class DialogueConfig(ContextSettings, GenerationSettings):
    # Nucleus sampling (Holtzman et al. 2020), sharpened: of the decodings compared on dev
    # (docs/tasks/dialogue.md), the best BLEU-2, at a distinct-2 of 37; beam search
    # writes short, generic replies.
    decoding: str = "sample"
    top_p: float = 0.9
    temperature: float = 0.7
    # Responses do not grow with the context as translations grow with their source: a
    # fixed limit of 40 pieces (DailyDialog's responses average about 15 words).
    max_length_ratio: float = 0.0
    max_length_offset: int = 40
    label_smoothing: float = 0.0  # smoothing raises perplexity, the primary metric
    tie_embeddings: bool = True  # the target embedding is also the output projection
    # The encoder reads the context's pieces with the target embedding too (three-way tying,
    # Press & Wolf 2017): one SentencePiece model writes both sides, so a piece has one row.
    # False here (how runs trained before it existed load); new runs get True (run_defaults).
    share_embeddings: bool = False

    def __post_init__(self) -> None:
        GenerationSettings.__post_init__(self)
        self.check()
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("task.label_smoothing must be in [0, 1)")


class DialogueTask(DialogueData, GeneratingTask):
    name = "dialogue"
    Config = DialogueConfig
    primary_metric = "ppl"
    higher_is_better = False
    description = "Open-domain response generation: perplexity, BLEU, distinct-n"
    default_datasets = ("dailydialog", "demo")
    include_turn = False
    run_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "embeddings": {
            "lowercase": False,
            "zero_digits": False,
            "char_filters": 0,
            "word_dim": 256,
            "word_dropout": 0.0,
            "dropout": 0.1,
        },
        # The linear schedule ends its decay with the hour: dev perplexity 42.00 against 42.91
        # for inverse_sqrt, lower after every epoch from the second (docs/tasks/dialogue.md).
        "train": {
            "batch_tokens": 4096,
            "max_time": "60m",
            "patience": 5,
            "eval_batch_size": 100,
            "schedule": "linear",
            # Batch shapes that repeat: 1.08 times the response pieces per second under tcmalloc
            # (1.10 under glibc) over an epoch's first 300 bf16 batches (benchmarks/allocator.py).
            "pad_multiple": 8,
        },
    }
    # The models the measured table was made with (docs/tasks/dialogue.md), not the backbones'
    # own defaults, which were set on tagging tasks: 2+2 Transformer layers, not 4 (1+1 ends
    # 0.79 higher in dev perplexity after twice the epochs), and dropout 0.1, not 0.15 / 0.33
    # (without any, dev perplexity turns upward after five epochs).
    backbone_run_defaults: ClassVar[Mapping[str, Mapping[str, Mapping[str, Any]]]] = {
        # One embedding for context, response and output: dev perplexity 1.6 to 3.7 lower
        # after every epoch, in 26 % fewer parameters; test 39.03 against 41.31
        # (docs/tasks/dialogue.md).
        # Only here: the recurrent decoders read 400-wide inputs (both encoder directions),
        # the words are 256 wide, and tying them was not measured.
        "transformer": {"backbone": {"layers": 2, "dropout": 0.1}, "task": {"share_embeddings": True}},
        "lstm": {"backbone": {"dropout": 0.1}},
        "rnn": {"backbone": {"dropout": 0.1}},
    }
    config: DialogueConfig

    def __init__(self, config: DialogueConfig, language: str = "en"):
        super().__init__(config, language)
        self.subwords: Subwords | None = None
        self.score_only = False  # inside validation(): perplexity without generating

    def exchanges(self, dialogues: Sequence[Dialogue]) -> list[Exchange]:
        """Every turn after the first is a response to the turns before it."""
        return [
            Exchange(dialogue, index) for dialogue in dialogues for index in range(1, len(dialogue.turns))
        ]

    def target_ids(self, example: Exchange) -> list[int]:
        if example.target_ids is None:
            example.target_ids = self._subwords().target_ids(example.text)
        return example.target_ids

    def length(self, example: Exchange) -> tuple[int, int]:
        # Both sides: contexts are long (cut at 128 pieces) and responses short, so sorting
        # by the longer side alone left 61 % of DailyDialog's response slots as padding.
        # The loss is a mean over response pieces, which the trainer reweights per batch.
        return len(self.tokens(example)), len(self.target_ids(example)) + 1

    def targets(self, examples: Sequence[Exchange], length: int) -> dict[str, Tensor]:
        """``prefix`` (B, S) = BOS + response pieces and ``gold`` (B, S) = response pieces + EOS."""
        return teacher_forcing([self.target_ids(example) for example in examples], BOS, EOS, PAD)

    def target_size(self) -> int:
        return self._subwords().target_size

    def shared_word_embedding(self, words: Sequence[str], head: nn.Module) -> SharedRows | None:
        if not self.config.share_embeddings:
            return None
        if not isinstance(head, TargetDecoder):
            raise TypeError(f"task.share_embeddings needs the TargetDecoder head, not {type(head).__name__}")
        pieces = self._subwords().target
        ids = [pieces.piece_to_id(word) for word in words]
        # The host's reserved words (padding, unknown) have no piece; any later word without
        # one was changed by the host's normalisation and would read <unk>'s row.
        first = UNKNOWN_WORD + 1
        strays = [
            word for word, row in zip(words[first:], ids[first:], strict=True) if row == pieces.unk_id()
        ]
        if strays:
            raise ConfigError(
                f"task.share_embeddings: {len(strays)} input words are not pieces of the subword model "
                f"(e.g. {strays[0]!r}); set embeddings.lowercase=false and embeddings.zero_digits=false"
            )
        return SharedRows(head.embedding, torch.tensor(ids), head.scale)

    def decode(self, head: TargetDecoder, states: Tensor, batch: Batch) -> list[Reply]:
        """The gold response's log-likelihood and, unless only scoring, a generated response."""
        targets = batch.targets
        scores = head.log_likelihood(targets["prefix"], targets["gold"], states, batch.mask).tolist()
        pieces = (targets["gold"] != PAD).sum(dim=1).tolist()
        texts: list[str | None] = [None] * len(scores)
        if not self.score_only:
            ids = self.generate(head, states, batch)
            texts = [self._subwords().detokenize(row) for row in ids]
        return [Reply(text, score, count) for text, score, count in zip(texts, scores, pieces, strict=True)]

    @contextlib.contextmanager
    def validation(self) -> Iterator[None]:
        """Dev evaluations during training score perplexity only: it needs no decoding."""
        self.score_only = True
        try:
            yield
        finally:
            self.score_only = False

    def metrics(self, predictions: Sequence[Reply], examples: Sequence[Exchange]) -> dict[str, Any]:
        references = [example.text for example in examples]
        scores: dict[str, Any] = dict(scoring.perplexities(predictions, references))
        if predictions and all(reply.text is not None for reply in predictions):
            scores |= scoring.generation_metrics([reply.text for reply in predictions], references)
        return scores

    def metric_signature(self) -> str:
        return scoring.signature()

    def example_statistics(
        self, predictions: Sequence[Reply], examples: Sequence[Exchange]
    ) -> list[list[float]]:
        """Per response: ``[-log-likelihood, words + 1]``; perplexity is exp(sum / sum)."""
        return [
            [-reply.log_likelihood, float(len(scoring.words(example.text)) + 1)]
            for reply, example in zip(predictions, examples, strict=True)
        ]

    def metric_from_statistics(self, totals: Sequence[float]) -> float:
        return math.exp(totals[0] / max(totals[1], 1.0))

    def write_predictions(
        self, examples: Sequence[Exchange], predictions: Sequence[Reply], path: Path
    ) -> None:
        """One generated response per line, in the order of the split's exchanges."""
        with atomic_writer(path) as handle:
            handle.writelines((reply.text or "").replace("\n", " ") + "\n" for reply in predictions)

    def predict_text(self, text: str, predict: Callable[[list[Any]], list[Any]]) -> list[dict[str, Any]]:
        """The next turn of a dialogue (JSON, as in the ``.jsonl`` format, or one plain utterance).

        One dict: ``context`` (the turns read, tokenized as the model reads them) and ``response``.
        """
        dialogue = self.parse_text(text)
        [reply] = predict([Exchange(dialogue, len(dialogue.turns))])
        return [{"context": list(dialogue.turns), "response": reply.text}]


# -- dialogue acts ----------------------------------------------------------------------------


@dataclass
class DialogueActConfig(ContextSettings):
    context_turns: int = 2  # the utterance plus the two turns before it
    dropout: float = 0.1  # on the pooled utterance vector

    def __post_init__(self) -> None:
        self.check()
        if not 0 <= self.dropout < 1:
            raise ConfigError("task.dropout must be in [0, 1)")


class ActHead(nn.Module):
    """Mean of an utterance's states → act scores.

    ``forward(states (B, T, D), span (B, T) bool) -> logits (B, A)``: ``span`` marks the
    pieces of the utterance being classified (its marker included).
    """

    def __init__(self, input_dim: int, acts: int, dropout: float):
        super().__init__()
        self.dropout = Dropout(dropout)
        self.output = nn.Linear(input_dim, acts)

    def forward(self, states: Tensor, span: Tensor) -> Tensor:
        weights = span.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
        pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # (B, D)
        return self.output(self.dropout(pooled))


class DialogueActTask(DialogueData, Task):
    name = "dialogue-act"
    Config = DialogueActConfig
    primary_metric = "macro_f1"
    description = "Dialogue-act classification of each utterance: accuracy, macro-F1"
    default_datasets = ("dailydialog", "demo")
    include_turn = True
    # The generator's embeddings; no shared target embedding, no schedule of its own.
    run_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "embeddings": DialogueTask.run_defaults["embeddings"],
        "train": {"batch_tokens": 4096, "max_time": "30m", "eval_batch_size": 100},
    }
    config: DialogueActConfig

    def __init__(self, config: DialogueActConfig, language: str = "en"):
        super().__init__(config, language)
        self.subwords: Subwords | None = None

    def exchanges(self, dialogues: Sequence[Dialogue]) -> list[Exchange]:
        """Every utterance of every dialogue with act labels (the reader warns about the others)."""
        return [
            Exchange(dialogue, index)
            for dialogue in dialogues
            if dialogue.acts is not None
            for index in range(len(dialogue.turns))
        ]

    def targets(self, examples: Sequence[Exchange], length: int) -> dict[str, Tensor]:
        """``act`` (B,) long (-100 when unknown) and ``span`` (B, length) bool: the utterance's pieces."""
        acts, spans = [], torch.zeros(len(examples), length, dtype=torch.bool)
        for row, example in enumerate(examples):
            pieces = self.tokens(example)
            spans[row, example.start : len(pieces)] = True
            acts.append(-100 if example.dialogue.acts is None else example.dialogue.acts[example.index])
        return {"act": torch.tensor(acts), "span": spans}

    def build_head(self, input_dim: int, decoder: Decoder | None = None) -> ActHead:
        return ActHead(input_dim, len(ACTS), self.config.dropout)

    def loss(self, head: ActHead, states: Tensor, batch: Batch) -> Tensor:
        logits = head(states, batch.targets["span"]).float()
        return F.cross_entropy(logits, batch.targets["act"], ignore_index=-100)

    def decode(self, head: ActHead, states: Tensor, batch: Batch) -> list[str]:
        return [ACTS[index] for index in head(states, batch.targets["span"]).argmax(dim=-1).tolist()]

    def decoding_parameters(self) -> dict[str, Any]:
        return {"decoder": "argmax"}

    def metrics(self, predictions: Sequence[str], examples: Sequence[Exchange]) -> dict[str, Any]:
        gold = [self._gold(example) for example in examples]
        return scoring.classification_metrics([ACTS.index(act) for act in predictions], gold, ACTS)

    def _gold(self, example: Exchange) -> int:
        if example.dialogue.acts is None:
            raise ValueError(
                f"{example.dialogue.path}:{example.dialogue.line}: the dialogue has no act labels"
            )
        return example.dialogue.acts[example.index]

    def metric_signature(self) -> str:
        return "accuracy and macro-F1 over DailyDialog's four acts (inform, question, directive, commissive)"

    def example_statistics(
        self, predictions: Sequence[str], examples: Sequence[Exchange]
    ) -> list[list[float]]:
        """Per utterance, for each act: [predicted and gold, predicted, gold] (0 or 1 each)."""
        rows = []
        for prediction, example in zip(predictions, examples, strict=True):
            predicted, gold = ACTS.index(prediction), self._gold(example)
            row = []
            for act in range(len(ACTS)):
                row += [float(predicted == act == gold), float(predicted == act), float(gold == act)]
            rows.append(row)
        return rows

    def metric_from_statistics(self, totals: Sequence[float]) -> float:
        f1s = []
        for act in range(len(ACTS)):
            correct, predicted, gold = totals[3 * act : 3 * act + 3]
            if predicted or gold:
                f1s.append(200.0 * correct / (predicted + gold))  # 2PR / (P + R) in counts
        return sum(f1s) / len(f1s) if f1s else 0.0

    def write_predictions(self, examples: Sequence[Exchange], predictions: Sequence[str], path: Path) -> None:
        """One line per dialogue, as DailyDialog's act files: codes 1-4, space-separated."""
        lines: dict[int, list[str]] = {}
        for example, act in zip(examples, predictions, strict=True):
            lines.setdefault(id(example.dialogue), []).append(str(ACTS.index(act) + 1))
        with atomic_writer(path) as handle:
            handle.writelines(" ".join(codes) + "\n" for codes in lines.values())

    def predict_text(self, text: str, predict: Callable[[list[Any]], list[Any]]) -> list[dict[str, Any]]:
        """The act of every turn of a dialogue (JSON, or one plain utterance)."""
        dialogue = self.parse_text(text)
        examples = [Exchange(dialogue, index) for index in range(len(dialogue.turns))]
        acts = predict(examples)
        return [{"turn": turn, "act": act} for turn, act in zip(dialogue.turns, acts, strict=True)]
