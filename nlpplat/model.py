"""The model of a run: token embedder (host) → encoder (backbone) → head (task)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlpplat.batching import Length, round_up, sides
from nlpplat.contracts import Backbone, Batch, Task
from nlpplat.embeddings import EmbeddingConfig, TokenEmbedder, TokenVocab


class TaskModel(nn.Module):
    """Glue between the three parts; ``forward(batch) -> states (B, T, D)``.

    The task reads the states with its own head (``task.loss(model.head, states, batch)``
    and ``task.decode(...)``), so the model knows nothing of any task.
    """

    def __init__(self, embedder: TokenEmbedder, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.embedder = embedder
        self.encoder = encoder
        self.head = head

    def forward(self, batch: Batch) -> Tensor:
        inputs = self.embedder(batch.words, batch.chars, batch.features)  # (B, T, E)
        return self.encoder(inputs, batch.mask)  # (B, T, D)


def build_model(
    task: Task, backbone: type[Backbone], backbone_config: Any, vocab: TokenVocab, embeddings: EmbeddingConfig
) -> TaskModel:
    """Build the parts in a fixed order, so that a seed fixes every initial weight."""
    embedder = TokenEmbedder(vocab, embeddings, task.input_features())
    encoder = backbone.build_encoder(backbone_config, embedder.output_dim)
    if task.requires_decoder:
        head = task.build_head(
            encoder.output_dim, backbone.build_decoder(backbone_config, encoder.output_dim)
        )
    else:
        head = task.build_head(encoder.output_dim)
    shared = task.shared_word_embedding(list(vocab.words), head)
    if shared is not None:
        embedder.share_words(shared)
    return TaskModel(embedder, encoder, head)


def parameter_count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


class Collator:
    """Turns examples into padded :class:`Batch` es.

    With ``multiple`` > 1 every padded length (the input's, and that of each of the task's
    ``sequence_targets``) is a multiple of it. Batch shapes then repeat from batch to batch:
    oneDNN compiles a kernel for every new shape of a bf16 matrix product on a CPU and keeps
    only 1,024, and tensor cores want multiples of 8.
    """

    def __init__(self, task: Task, vocab: TokenVocab, multiple: int = 1):
        self.task, self.vocab, self.multiple = task, vocab, multiple

    def lengths(self, examples: Sequence[Any]) -> list[Length]:
        """``task.length`` of every example; all with the same number of sides."""
        lengths = [self.task.length(example) for example in examples]
        if len({len(sides(length)) for length in lengths}) > 1:
            raise TypeError(f"{type(self.task).__name__}.length gives examples different numbers of sides")
        return lengths

    def __call__(self, examples: Sequence[Any]) -> Batch:
        # Encoding on the fly costs well under a second per CoNLL-2003 epoch; caching ids
        # would tie memory to every example ever predicted.
        encoded = [self.vocab.ids(self.task.tokens(example)) for example in examples]
        words, chars = TokenVocab.pad(encoded)
        length = round_up(words.shape[1], self.multiple)
        words = F.pad(words, (0, length - words.shape[1]))  # (B, T)
        chars = F.pad(chars, (0, 0, 0, length - chars.shape[1]))  # (B, T, C)
        lengths = torch.tensor([len(ids) for ids, _ in encoded])
        mask = torch.arange(length) < lengths.unsqueeze(1)  # (B, T)
        targets = self.task.targets(examples, length)
        if self.multiple > 1:  # else every pad would be 0: spare the copies
            for key in self.task.sequence_targets:
                sequence = targets[key]  # (B, S, ...)
                pad = round_up(sequence.shape[1], self.multiple) - sequence.shape[1]
                targets[key] = F.pad(sequence, (0, 0) * (sequence.dim() - 2) + (0, pad))
        return Batch(words, chars, mask, targets, examples, self.task.features(examples, length))
