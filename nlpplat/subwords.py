"""Subword vocabularies learned with SentencePiece (Kudo & Richardson, 2018).

Subwords keep the vocabulary small and closed while every word, seen or not, can still be
spelt: a rare German compound becomes a few frequent pieces. SentencePiece works on raw
text (whitespace is a piece, ``▁``), so decoding the pieces gives back the text as it was
written, which is what sacrebleu wants to score. Generating tasks (translation, dialogue)
learn a model on their training data only, one for what the encoder reads and one for
what the decoder writes, or one joint model for both (which lets the decoder copy names
and numbers from its input); it is stored in the run directory inside ``vocab.json``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sentencepiece as spm

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # fixed ids in every model, so the decoder's specials never move
MODEL_TYPES = ("unigram", "bpe")


def train_model(
    sentences: Iterable[str], vocab_size: int, model_type: str, symbols: Sequence[str] = ()
) -> bytes:
    """A serialized SentencePiece model learned on ``sentences``.

    ``vocab_size`` is a soft limit (``hard_vocab_limit=false``): a small corpus gets as many
    pieces as it supports instead of an error. ``symbols`` are markers that are always one
    piece of their own (e.g. dialogue's speaker markers). One thread keeps the model a
    function of the data alone.
    """
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(sentences)),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,  # small alphabets (Multi30k, DailyDialog): keep every character
        user_defined_symbols=list(symbols),
        pad_id=PAD,
        unk_id=UNK,
        bos_id=BOS,
        eos_id=EOS,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    return buffer.getvalue()


class Subwords:
    """The source and target SentencePiece models (the same object when joint)."""

    def __init__(self, source_model: bytes, target_model: bytes | None = None):
        self.source_model, self.target_model = source_model, target_model
        self.source = spm.SentencePieceProcessor(model_proto=source_model)
        self.target = (
            self.source if target_model is None else spm.SentencePieceProcessor(model_proto=target_model)
        )

    @classmethod
    def learn(
        cls,
        sources: list[str],
        targets: list[str],
        vocab_size: int,
        joint: bool,
        model_type: str,
        symbols: Sequence[str] = (),
    ) -> Subwords:
        """Models learned on the encoder's and the decoder's training text (``symbols`` in both)."""
        if joint:
            return cls(train_model(sources + targets, vocab_size, model_type, symbols))
        return cls(
            train_model(sources, vocab_size, model_type, symbols),
            train_model(targets, vocab_size, model_type, symbols),
        )

    @property
    def joint(self) -> bool:
        return self.target_model is None

    @property
    def target_size(self) -> int:
        return self.target.get_piece_size()

    def source_pieces(self, text: str) -> list[str]:
        return self.source.encode(text, out_type=str)

    def target_ids(self, text: str) -> list[int]:
        return self.target.encode(text, out_type=int)

    def detokenize(self, ids: list[int]) -> str:
        return self.target.decode(ids)

    def state_dict(self) -> dict[str, Any]:
        def encode(model: bytes | None) -> str | None:
            return None if model is None else base64.b64encode(model).decode("ascii")

        return {"source": encode(self.source_model), "target": encode(self.target_model)}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Subwords:
        target = state.get("target")
        return cls(base64.b64decode(state["source"]), None if target is None else base64.b64decode(target))
