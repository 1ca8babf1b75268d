"""The contracts through which tasks, backbones and datasets meet.

They are small on purpose: a task never sees which backbone encodes its tokens, a
backbone never sees which task reads its states, and the host glues them together
(:mod:`nlpplat.model`). Shapes use ``B`` batch size, ``T`` tokens per sequence,
``C`` characters per token, ``E`` input width and ``D`` state width.

The host turns each example's tokens into vectors (word embeddings plus character
features, :mod:`nlpplat.embeddings`) before the backbone sees them, so every backbone
gets the same token representation and any backbone works with any task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from nlpplat.embeddings import SharedRows


@dataclass
class Batch:
    """A padded batch, as the model sees it.

    words:   (B, T) long  word ids from the host's vocabulary, 0 is padding
    chars:   (B, T, C) long  character ids, 0 is padding
    mask:    (B, T) bool  True at real tokens; real tokens come first in each row
    targets: task-specific tensors made by :meth:`Task.targets` (gold labels, …)
    examples: the examples the batch was made from, in row order
    features: name -> (B, T) long, the task's extra token inputs (:meth:`Task.input_features`)
    """

    words: Tensor
    chars: Tensor
    mask: Tensor
    targets: dict[str, Tensor] = field(default_factory=dict)
    examples: Sequence[Any] = ()
    features: dict[str, Tensor] = field(default_factory=dict)

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            self.words.to(device),
            self.chars.to(device),
            self.mask.to(device),
            {key: value.to(device) for key, value in self.targets.items()},
            self.examples,
            {key: value.to(device) for key, value in self.features.items()},
        )

    @property
    def lengths(self) -> Tensor:
        """(B,) long: the number of real tokens in each row."""
        return self.mask.sum(dim=1)


class Encoder(nn.Module):
    """Contextualises token vectors.

    ``forward(inputs (B, T, E) float, mask (B, T) bool) -> states (B, T, D)``.
    States at real positions must not depend on how much padding follows them;
    states at padding positions carry no meaning but must be finite (a NaN there would
    poison the gradients). ``output_dim`` is ``D``.
    """

    output_dim: int


class Decoder(nn.Module):
    """Generates a sequence one token at a time, reading encoder states ("memory").

    The host embeds the target tokens (``E = input_dim`` wide) and projects the
    decoder's states (``D = output_dim`` wide) to the vocabulary
    (:class:`nlpplat.generation.TargetDecoder`); the decoder sees only vectors. Shapes:
    ``B`` batch, ``S`` target positions, ``T`` source tokens, ``M`` memory width.

    - ``forward(inputs (B, S, E), memory (B, T, M), memory_mask (B, T) bool) -> (B, S, D)``:
      teacher forcing; the state at position ``s`` depends on inputs ``0 … s`` only.
    - ``start(memory, memory_mask) -> cache``: the cache before the first step (per-source
      work done once: the transformer's cross-attention keys and values, the recurrent
      decoders' bridged initial state).
    - ``step(inputs (B, E), memory, memory_mask, cache) -> (states (B, D), cache)``: one
      position; ``step`` after ``start`` over the inputs of ``forward`` gives the states of
      ``forward``, position by position (the conformance kit checks this).
    - ``reorder_cache(cache, indices (B',) long) -> cache``: keep row ``indices[i]`` as row
      ``i``; beam search uses it to follow, duplicate and drop hypotheses.

    A cache is a dict of tensors (and plain values); the decoder owns its layout.
    """

    input_dim: int
    output_dim: int
    max_length: int | None = None  # the most positions it can generate (e.g. learned positions); None: any

    def start(self, memory: Tensor, memory_mask: Tensor) -> dict[str, Any]:
        raise NotImplementedError

    def step(
        self, inputs: Tensor, memory: Tensor, memory_mask: Tensor, cache: dict[str, Any]
    ) -> tuple[Tensor, dict[str, Any]]:
        raise NotImplementedError

    def reorder_cache(self, cache: dict[str, Any], indices: Tensor) -> dict[str, Any]:
        raise NotImplementedError


class Backbone:
    """A family of architectures, registered by name (``rnn``, ``lstm``, …).

    A subclass sets ``name`` and ``Config`` (a dataclass whose fields all have
    defaults, each commented) and implements :meth:`build_encoder`. A backbone that can
    also generate overrides :meth:`build_decoder`; tasks that generate
    (``Task.requires_decoder``) accept only such backbones (:meth:`has_decoder`).
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    description: ClassVar[str] = ""

    @classmethod
    def build_encoder(cls, config: Any, input_dim: int) -> Encoder:
        """Return an :class:`Encoder` reading ``input_dim``-wide token vectors."""
        raise NotImplementedError

    @classmethod
    def build_decoder(cls, config: Any, memory_dim: int) -> Decoder:
        """Return a :class:`Decoder` reading ``memory_dim``-wide encoder states; optional.

        The decoder chooses its own ``input_dim`` and ``output_dim`` (they are equal when
        the host may tie the target embedding to the output projection). A backbone that
        does not override this method has no decoder.
        """
        raise NotImplementedError(f"backbone {cls.name!r} has no decoder")

    @classmethod
    def has_decoder(cls) -> bool:
        """Whether this backbone overrides :meth:`build_decoder`."""
        return cls.build_decoder.__func__ is not Backbone.build_decoder.__func__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's files come from and what they hold.

    name:      the name users pass to ``--dataset``; unique per task
    task:      the task whose reader understands the files
    files:     split ("train", "dev", "test") -> file name inside the dataset folder;
               a name ending in ``.gz`` also matches the uncompressed file and vice versa
    extra_files: split -> further files of the split, which lie beside its file (e.g. the
               target-language side ``train.de.gz`` of translation's ``train.en.gz``);
               the task reads them (:meth:`Task.files`)
    directory: the folder under ``$NLPPLAT_DATA_DIR`` and the cache (default: ``name``)
    urls:      split (or extra file name) -> download URL; empty for data that must be
               imported by hand
    sha256:    split (or extra file name) -> hex digest of the downloaded file's content
               (decompressed, for a file name ending in ``.gz``)
    language:  language code for the tokenizer used by ``predict_text``
    license, citation, description: shown by ``nlpplat datasets``
    manual:    how to obtain licence-gated data (shown when it is missing)
    task_defaults: task settings this data needs (e.g. which column holds the tag),
               applied below the user's own ``--set task.…`` values
    generate:  for synthetic data: ``generate(folder)`` writes the files, deterministically
    """

    name: str
    task: str
    files: Mapping[str, str]
    extra_files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    directory: str = ""
    urls: Mapping[str, str] = field(default_factory=dict)
    sha256: Mapping[str, str] = field(default_factory=dict)
    language: str = "en"
    license: str = ""
    citation: str = ""
    description: str = ""
    manual: str = ""
    task_defaults: Mapping[str, Any] = field(default_factory=dict)
    generate: Callable[[Path], None] | None = None

    @property
    def folder(self) -> str:
        return self.directory or self.name

    def split_files(self, split: str) -> dict[str, str]:
        """Download key (split, or file name for an extra file) -> file name, for ``split``."""
        return {split: self.files[split], **{name: name for name in self.extra_files.get(split, ())}}


class Task:
    """A problem with its data format, output heads, decoding and metrics.

    The host calls, in order: :meth:`read` for each split, :meth:`fit` on the training
    examples, :meth:`build_head`, then per batch :meth:`tokens`/:meth:`targets`
    (collation), :meth:`loss` in training and :meth:`decode` in evaluation, and finally
    :meth:`metrics` and :meth:`write_predictions`. A task holds only its label
    vocabularies as state (:meth:`state_dict`), which must be JSON-serialisable.

    Class attributes: ``name``; ``Config`` (dataclass of task options, all defaulted);
    ``primary_metric`` (a key of :meth:`metrics`, used for early stopping and ranking);
    ``higher_is_better``; ``prediction_suffix`` for the predictions file;
    ``default_datasets``: dataset names tried in order when the user names none (the
    first one available offline is used, so put the real benchmark before ``demo``);
    ``requires_decoder``: True for tasks that generate text, which then run only with
    backbones that have a decoder (:meth:`Backbone.has_decoder`).
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    prediction_suffix: ClassVar[str] = ".txt"
    default_datasets: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    requires_decoder: ClassVar[bool] = False  # generates text: needs a backbone with a decoder
    # Settings of other sections that suit this task, applied below the user's own
    # (config file, options, --set): e.g. translation reads case-sensitive subwords, so
    # {"embeddings": {"lowercase": False, "char_filters": 0}}.
    run_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    # The same for one backbone, over run_defaults and below the user's: what suits the
    # pair, e.g. {"rnn": {"train": {"schedule": "inverse_sqrt"}}}.
    backbone_run_defaults: ClassVar[Mapping[str, Mapping[str, Mapping[str, Any]]]] = {}
    # Keys of :meth:`targets` that are sequences of their own length, not the input's
    # (B, S, ...), padded with 0: e.g. a decoder's inputs. The host pads them, like the input,
    # to a multiple of ``train.pad_multiple``.
    sequence_targets: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, language: str = "en"):
        self.config = config
        self.language = language

    # -- data ---------------------------------------------------------------------
    def read(self, path: Path) -> list[Any]:
        """Read one split from ``path`` (``.gz`` transparently), streaming.

        Raises :class:`~nlpplat.errors.DataError` with ``file:line`` on malformed input.
        """
        raise NotImplementedError

    def files(self, path: Path) -> list[Path]:
        """The files that the split ``path`` stands for (default: ``[path]``).

        A split may be several files, e.g. translation's ``PREFIX.en`` and ``PREFIX.de``;
        the host checksums them all for the leaderboard.
        """
        return [path]

    def tokens(self, example: Any) -> list[str]:
        """The tokens the encoder reads for ``example``."""
        raise NotImplementedError

    def length(self, example: Any) -> int | tuple[int, ...]:
        """How long ``example`` is for batching: length-sorted buckets and token budgets.

        Default: its number of tokens. A task that also produces a sequence of its own
        returns one length per padded side, ``(source, target)``, when the two differ much
        (dialogue's long context and short response: batches are then sorted on both
        sides, see :mod:`nlpplat.batching`), or the longer of the two when they go together
        (translation), which sorts on one number. A token budget counts a row's longest side.
        With sides, :meth:`loss` must be a mean over the batch's tokens of the last side: the
        trainer scales it so that every such token weighs the same over an epoch
        (:func:`nlpplat.batching.loss_weights`).
        """
        return len(self.tokens(example))

    def held_out(self, train: Sequence[Any], examples: list[Any]) -> list[Any]:
        """A dev or test split without the examples that also occur in ``train``.

        The default keeps everything. A task whose corpora repeat items across splits
        (DailyDialog repeats whole dialogues) removes the repeats here, so that its scores
        measure generalisation; the host reports how many it removed.
        """
        return examples

    def fit(self, examples: Sequence[Any]) -> None:
        """Build label vocabularies from the training examples."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (label vocabularies) saved in ``vocab.json``."""
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def targets(self, examples: Sequence[Any], length: int) -> dict[str, Tensor]:
        """Gold tensors for a batch whose token axis is padded to ``length``."""
        raise NotImplementedError

    def input_features(self) -> dict[str, int]:
        """Extra categorical token inputs: name -> number of values (default: none).

        The host embeds each one and concatenates it to every token's vector before the
        encoder, so the backbone sees it: e.g. semantic role labelling gives every word its
        bucketed distance to the predicate with ``{"predicate": 20}``. Values come from
        :meth:`features`.
        """
        return {}

    def features(self, examples: Sequence[Any], length: int) -> dict[str, Tensor]:
        """(B, length) long per name of :meth:`input_features`, each value below its count."""
        return {}

    # -- model --------------------------------------------------------------------
    def build_head(self, input_dim: int, decoder: Decoder | None = None) -> nn.Module:
        """The output layers reading encoder states (B, T, input_dim).

        A task that ``requires_decoder`` gets the backbone's :class:`Decoder` and builds
        its generator around it (usually :class:`nlpplat.generation.TargetDecoder`);
        other tasks get None.
        """
        raise NotImplementedError

    def shared_word_embedding(self, words: Sequence[str], head: nn.Module) -> SharedRows | None:
        """What embeds the host's word ids instead of its own table, or None (the default).

        ``words``: the host's word vocabulary, by id. A generating task whose encoder and
        decoder read one subword vocabulary can return rows of its head's target embedding
        (three-way tying, Press & Wolf 2017): ``forward(words (B, T) long) -> (B, T, W)``,
        ``W`` the host's ``embeddings.word_dim``.
        """
        return None

    def loss(self, head: nn.Module, states: Tensor, batch: Batch) -> Tensor:
        """Scalar training loss (float32), averaged so that it does not grow with batch size.

        With ``train.precision=bf16`` it runs under the step's autocast, so the head's layers
        return bf16 scores: take ``.float()`` of them before a sum over a sentence or any
        reduction that autocast does not already run in float32 (bf16 keeps about three
        significant digits, too few for a sum of dozens of scores).
        """
        raise NotImplementedError

    def decode(self, head: nn.Module, states: Tensor, batch: Batch) -> list[Any]:
        """One prediction per example, in batch order."""
        raise NotImplementedError

    def postprocess(self, predictions: list[Any], examples: Sequence[Any]) -> list[Any]:
        """Decisions that need every prediction of a call at once; returns the final predictions.

        :meth:`decode` sees one length-sorted batch; this sees all ``examples`` of one
        evaluation or prediction call, in their order, beside their predictions. NER uses it
        to give every mention of a name in a document the same entity type. The default
        changes nothing.
        """
        return predictions

    @contextlib.contextmanager
    def validation(self) -> Iterator[None]:
        """The context of the dev evaluations made during training.

        They choose the checkpoint, stop early and check checkpoint averaging; the final
        dev and test scores are computed outside it. A task may decode more cheaply here
        when that ranks checkpoints alike (translation: greedy instead of beam search,
        about four times faster). The default changes nothing.
        """
        yield

    # -- evaluation and output ---------------------------------------------------
    def metrics(self, predictions: Sequence[Any], examples: Sequence[Any]) -> dict[str, Any]:
        """Scores in points (0-100) where they are ratios; must contain ``primary_metric``."""
        raise NotImplementedError

    def metric_signature(self) -> str:
        """How the metrics were computed (library, version, mode), stored beside them."""
        return ""

    def decoding_parameters(self) -> dict[str, Any]:
        """How :meth:`decode` turns scores into predictions (JSON-able), stored with the results.

        For example ``{"decoder": "viterbi"}`` or ``{"decoder": "beam", "beam": 5}``; empty
        when there is nothing to say.
        """
        return {}

    def example_statistics(
        self, predictions: Sequence[Any], examples: Sequence[Any]
    ) -> list[list[float]] | None:
        """Per-example sufficient statistics of the primary metric, or None if it has none.

        One row of ``K`` numbers per example, in order, such that summing the rows over
        any multiset of examples and passing the sums to :meth:`metric_from_statistics`
        gives the primary metric of that multiset. The host resamples these rows to give
        bootstrap confidence intervals and paired significance tests
        (:mod:`nlpplat.confidence`). Entity F1: ``[correct, predicted, gold]`` entities;
        BLEU: sacrebleu's n-gram matches and totals plus the two lengths.
        """
        return None

    def metric_from_statistics(self, totals: Sequence[float]) -> float:
        """The primary metric (in the units of :meth:`metrics`) from summed statistics.

        Needed only when :meth:`example_statistics` returns rows. It must depend on
        ``totals`` and the task's config alone, never on fitted state, because the host
        also calls it on a task built afresh (``TaskClass(TaskClass.Config())`` with the
        run's task settings) to compare stored runs.
        """
        raise NotImplementedError

    def write_predictions(self, examples: Sequence[Any], predictions: Sequence[Any], path: Path) -> None:
        """Write predictions in the dataset's own format."""
        raise NotImplementedError

    def predict_text(self, text: str, predict: Callable[[list[Any]], list[Any]]) -> list[dict[str, Any]]:
        """Analyse raw text: tokenise it, run ``predict(examples)``, return JSON-able results."""
        raise NotImplementedError
