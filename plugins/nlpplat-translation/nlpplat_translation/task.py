"""The ``translation`` task: sequence-to-sequence generation over sentencepiece subwords.

The encoder (any backbone) reads the source sentence as subword pieces; the backbone's
decoder, behind the host's target embedding and output projection
(:class:`nlpplat.generation.TargetDecoder`), predicts the target pieces. Training is
teacher forcing with label-smoothed cross-entropy; decoding is the host's beam search
(or greedy, or sampling) followed by sentencepiece's detokenization, and the metrics are
sacrebleu's BLEU, chrF and TER on the detokenized output against the raw references.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor

from nlpplat import Batch
from nlpplat.errors import ConfigError
from nlpplat.generation import GeneratingTask, GenerationSettings, TargetDecoder, teacher_forcing
from nlpplat.io import atomic_writer
from nlpplat.subwords import BOS, EOS, MODEL_TYPES, PAD, Subwords
from nlpplat_translation import scoring
from nlpplat_translation.reader import Pair, is_tsv, language_files, read_pairs


@dataclass
class TranslationConfig(GenerationSettings):
    source: str = "en"  # language code of the source side (file suffix, spaCy sentence splitting)
    target: str = "de"  # language code of the target side (file suffix)
    # One sentencepiece model for both languages: names, numbers and shared words get the same
    # pieces on both sides. 8k joint pieces suit a corpus of Multi30k's size (30k pairs).
    vocab_size: int = 8000
    joint_vocab: bool = True
    subword_model: str = "unigram"  # "unigram" (Kudo 2018) or "bpe" (Sennrich et al. 2016)
    label_smoothing: float = 0.1  # Vaswani et al. (2017)
    tie_embeddings: bool = True  # the target embedding is also the output projection (Press & Wolf 2017)
    max_words: int = 250  # a longer line is an error (file:line), never silently cut or dropped
    allow_empty: bool = False  # keep pairs with an empty side (with a warning) instead of stopping

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.subword_model not in MODEL_TYPES:
            raise ConfigError(
                f"task.subword_model = {self.subword_model!r}: use one of {', '.join(MODEL_TYPES)}"
            )
        if self.vocab_size < 16 or not 0 <= self.label_smoothing < 1 or self.max_words < 1:
            raise ConfigError(
                "task.vocab_size must be at least 16, task.label_smoothing in [0, 1) and task.max_words positive"
            )


class TranslationTask(GeneratingTask):
    name = "translation"
    Config = TranslationConfig
    primary_metric = "bleu"
    description = "Machine translation: subword seq2seq, beam search, sacrebleu BLEU/chrF/TER"
    default_datasets = ("multi30k-en-de", "demo")
    # Subword pieces are case- and digit-sensitive words of their own: no lowercasing, no digit
    # folding, no character CNN (the pieces already spell rare words), no word dropout.
    run_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "embeddings": {
            "lowercase": False,
            "zero_digits": False,
            "char_filters": 0,
            "word_dim": 256,
            "word_dropout": 0.0,
            "dropout": 0.1,
        },
        # Token-based batches, a longer budget and averaging the last checkpoints, as is usual
        # for translation (Vaswani et al. 2017; Popel & Bojar 2018).
        "train": {
            "batch_tokens": 4096,
            "max_time": "60m",
            "patience": 10,
            "average_last": 5,
            "eval_batch_size": 100,
        },
    }
    config: TranslationConfig

    def __init__(self, config: TranslationConfig, language: str = "en"):
        super().__init__(config, language)
        self.subwords: Subwords | None = None

    # -- data -------------------------------------------------------------------------------
    def read(self, path: Path) -> list[Pair]:
        config = self.config
        return read_pairs(Path(path), config.source, config.target, config.max_words, config.allow_empty)

    def files(self, path: Path) -> list[Path]:
        path = Path(path)
        return [path] if is_tsv(path) else list(language_files(path, self.config.source, self.config.target))

    def _subwords(self) -> Subwords:
        if self.subwords is None:
            raise RuntimeError(
                "TranslationTask needs its subword model: call fit() or load_state_dict() first"
            )
        return self.subwords

    def tokens(self, example: Pair) -> list[str]:
        if example.pieces is None:  # encoded once per example, then reused every epoch
            example.pieces = self._subwords().source_pieces(example.source)
        return example.pieces

    def target_ids(self, example: Pair) -> list[int]:
        if example.target_ids is None:
            example.target_ids = self._subwords().target_ids(example.target)
        return example.target_ids

    def length(self, example: Pair) -> int:
        return max(len(self.tokens(example)), len(self.target_ids(example)) + 1)  # + BOS or EOS

    def fit(self, examples: Sequence[Pair]) -> None:
        config = self.config
        self.subwords = Subwords.learn(
            [pair.source for pair in examples],
            [pair.target for pair in examples],
            config.vocab_size,
            config.joint_vocab,
            config.subword_model,
        )

    def state_dict(self) -> dict[str, Any]:
        return {"subwords": self._subwords().state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.subwords = Subwords.from_state_dict(state["subwords"])

    def targets(self, examples: Sequence[Pair], length: int) -> dict[str, Tensor]:
        """``prefix`` (B, S) = BOS + target pieces and ``gold`` (B, S) = target pieces + EOS, padded."""
        return teacher_forcing([self.target_ids(pair) for pair in examples], BOS, EOS, PAD)

    # -- model ------------------------------------------------------------------------------
    def target_size(self) -> int:
        return self._subwords().target_size

    def decode(self, head: TargetDecoder, states: Tensor, batch: Batch) -> list[str]:
        ids = self.generate(head, states, batch)
        return [self._subwords().detokenize(row) for row in ids]

    # -- evaluation and output --------------------------------------------------------------
    def metrics(self, predictions: Sequence[str], examples: Sequence[Pair]) -> dict[str, Any]:
        return scoring.corpus_metrics(predictions, [pair.target for pair in examples])

    def metric_signature(self) -> str:
        return scoring.signature()

    def example_statistics(self, predictions: Sequence[str], examples: Sequence[Pair]) -> list[list[float]]:
        return scoring.bleu_statistics(predictions, [pair.target for pair in examples])

    def metric_from_statistics(self, totals: Sequence[float]) -> float:
        return scoring.bleu_from_statistics(totals)

    def write_predictions(self, examples: Sequence[Pair], predictions: Sequence[str], path: Path) -> None:
        """One detokenized translation per line, in the order of the source file."""
        with atomic_writer(path) as handle:
            handle.writelines(prediction.replace("\n", " ") + "\n" for prediction in predictions)

    def predict_text(self, text: str, predict: Callable[[list[Any]], list[Any]]) -> list[dict[str, Any]]:
        """Split ``text`` into sentences (spaCy, source language) and translate each.

        One dict per sentence: ``source`` (the sentence as written), ``start``/``end``
        (character offsets into ``text``) and ``translation``.
        """
        from nlpplat.text import split_sentences

        spans = [(tokens[0].start, tokens[-1].end) for tokens in split_sentences(text, self.config.source)]
        examples = [
            Pair(text[start:end], "", "<text>", number) for number, (start, end) in enumerate(spans, 1)
        ]
        if not examples:
            return []
        return [
            {"source": pair.source, "start": start, "end": end, "translation": translation}
            for pair, (start, end), translation in zip(examples, spans, predict(examples), strict=True)
        ]
