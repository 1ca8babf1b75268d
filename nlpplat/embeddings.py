"""Token representation shared by every task and backbone.

Each token becomes ``[word embedding ; character CNN features]`` (Ma & Hovy, 2016):
word embeddings carry what a word means when it is frequent, and the character CNN
lets the model read spelling, capitalisation and affixes of rare and unseen words,
which matters most when no pretrained vectors are used. During training, words seen
once are replaced by ``<unk>`` with probability ``word_dropout`` (Lample et al., 2016)
so that the ``<unk>`` embedding is trained on contexts like those of unseen words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nlpplat.dropout import Dropout
from nlpplat.errors import ConfigError

PAD, UNK = 0, 1  # reserved ids in both vocabularies
_DIGITS = re.compile(r"\d")


@dataclass
class EmbeddingConfig:
    word_dim: int = 100  # word embedding width; randomly initialised (no pretrained vectors)
    lowercase: bool = True  # case is left to the character features, which see it
    zero_digits: bool = True  # every digit becomes 0: numbers share statistics (Lample et al. 2016)
    min_count: int = 1  # words seen fewer times in training become <unk>
    word_dropout: float = 0.5  # probability of replacing a training singleton by <unk>
    # True: every training word w is replaced with probability a / (a + count(w)), with a set so
    # that singletons keep `word_dropout` (Kiperwasser & Goldberg, 2016): frequent words are
    # dropped too, rarely, so the model learns to tag from spelling and context alone.
    word_dropout_all: bool = False
    char_dim: int = 30  # character embedding width (Ma & Hovy 2016)
    char_filters: int = 50  # character CNN output width; 0 = no character features
    char_width: int = 3  # character CNN window
    max_chars: int = 24  # longer tokens are cut (keeps the char tensor small)
    feature_dim: int = 16  # width of each task-specific token feature (Task.input_features)
    dropout: float = 0.33  # dropout on the concatenated token vector


class TokenVocab:
    """Word and character vocabularies learned from the training tokens."""

    def __init__(self, config: EmbeddingConfig):
        self.config = config
        self.words: dict[str, int] = {"<pad>": PAD, "<unk>": UNK}
        self.chars: dict[str, int] = {"<pad>": PAD, "<unk>": UNK}
        self.counts: list[int] = [0, 0]  # training count of each word id (0: <pad>, <unk>, unknown)

    def normalise(self, token: str) -> str:
        if self.config.zero_digits:
            token = _DIGITS.sub("0", token)
        return token.lower() if self.config.lowercase else token

    def fit(self, sentences: Iterable[Sequence[str]]) -> TokenVocab:
        word_counts: Counter[str] = Counter()
        char_counts: Counter[str] = Counter()
        for tokens in sentences:
            for token in tokens:
                word_counts[self.normalise(token)] += 1
                char_counts.update(token[: self.config.max_chars])
        for word, count in sorted(word_counts.items(), key=lambda item: (-item[1], item[0])):
            if count >= self.config.min_count:
                self.words[word] = len(self.words)
                self.counts.append(count)
        for char in sorted(char_counts, key=lambda char: (-char_counts[char], char)):
            self.chars[char] = len(self.chars)
        return self

    @property
    def singletons(self) -> list[int]:
        """Ids of the words seen exactly once in training."""
        return [index for index, count in enumerate(self.counts) if count == 1]

    def dropout_probabilities(self) -> list[float]:
        """Per word id, the probability that training replaces it by ``<unk>`` (word dropout)."""
        p = self.config.word_dropout
        if not self.config.word_dropout_all:
            return [p if count == 1 else 0.0 for count in self.counts]
        if p >= 1:
            return [1.0 if count else 0.0 for count in self.counts]
        alpha = p / (1 - p)  # so that alpha / (alpha + 1) = p for a singleton
        return [alpha / (alpha + count) if count else 0.0 for count in self.counts]

    def ids(self, tokens: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        """Word ids and per-token character ids of one sentence (computed once per example)."""
        words = [self.words.get(self.normalise(token), UNK) for token in tokens]
        chars = [[self.chars.get(char, UNK) for char in token[: self.config.max_chars]] for token in tokens]
        return words, chars

    @staticmethod
    def pad(encoded: Sequence[tuple[list[int], list[list[int]]]]) -> tuple[Tensor, Tensor]:
        """Stack :meth:`ids` results: words (B, T) and chars (B, T, C), right-padded with 0."""
        length = max((len(words) for words, _ in encoded), default=1) or 1
        width = max((len(token) for _, chars in encoded for token in chars), default=1) or 1
        # One torch.tensor call on padded nested lists: far cheaper than filling per token.
        blank = [0] * width
        words = [ids + [PAD] * (length - len(ids)) for ids, _ in encoded]
        chars = [
            [token + [PAD] * (width - len(token)) for token in tokens] + [blank] * (length - len(tokens))
            for _, tokens in encoded
        ]
        return torch.tensor(words, dtype=torch.long), torch.tensor(chars, dtype=torch.long)

    def state_dict(self) -> dict[str, Any]:
        return {"words": list(self.words), "chars": list(self.chars), "counts": self.counts}

    @classmethod
    def from_state_dict(cls, config: EmbeddingConfig, state: Mapping[str, Any]) -> TokenVocab:
        vocab = cls(config)
        vocab.words = {word: index for index, word in enumerate(state["words"])}
        vocab.chars = {char: index for index, char in enumerate(state["chars"])}
        if "counts" in state:
            vocab.counts = list(state["counts"])
        else:  # written before counts were kept: only the singletons are known
            singletons = set(state["singletons"])
            vocab.counts = [1 if index in singletons else 0 for index in range(len(vocab.words))]
        return vocab


class CharCNN(nn.Module):
    """Character features: embed, convolve, max-pool over the characters of each token."""

    def __init__(self, num_chars: int, config: EmbeddingConfig):
        super().__init__()
        self.embed = nn.Embedding(num_chars, config.char_dim, padding_idx=PAD)
        self.conv = nn.Conv1d(config.char_dim, config.char_filters, config.char_width, padding="same")

    def forward(self, chars: Tensor) -> Tensor:
        """chars (B, T, C) long -> features (B, T, char_filters)."""
        batch, length, width = chars.shape
        flat = chars.reshape(batch * length, width)  # (B*T, C)
        x = self.embed(flat).transpose(1, 2)  # (B*T, char_dim, C)
        x = self.conv(x)  # (B*T, F, C)
        # Padding characters must not win the max, else a token's features would depend on
        # the longest token in its batch.
        x = x.masked_fill((flat == PAD).unsqueeze(1), float("-inf"))
        x = x.amax(dim=2)  # (B*T, F)
        x = torch.where(torch.isinf(x), torch.zeros_like(x), x)  # padding tokens have no characters
        return x.reshape(batch, length, -1)


class SharedRows(nn.Module):
    """Word ids -> rows of another module's embedding table, scaled: ``forward(words (B, T)) -> (B, T, E)``.

    ``ids`` (V,) long maps each word id to its row. The table stays its owner's: it is
    neither a parameter nor in the state dict of this module, so a checkpoint holds it once
    and nothing that walks the state dict updates it twice.
    """

    def __init__(self, table: nn.Embedding, ids: Tensor, scale: float = 1.0):
        super().__init__()
        self.owner: list[nn.Embedding] = [table]  # a list hides the module from registration
        self.register_buffer("ids", ids, persistent=False)  # derived from the vocabularies
        self.scale = scale
        self.embedding_dim = table.embedding_dim

    def forward(self, words: Tensor) -> Tensor:
        """words (B, T) long -> (B, T, E): the owner's rows of the words, times ``scale``."""
        return self.owner[0](self.ids[words]) * self.scale


class TokenEmbedder(nn.Module):
    """words (B, T), chars (B, T, C), features {name: (B, T)} -> token vectors (B, T, output_dim).

    ``features`` maps each task-specific categorical input to its number of values
    (:meth:`nlpplat.contracts.Task.input_features`); each gets an embedding of its own.
    """

    def __init__(self, vocab: TokenVocab, config: EmbeddingConfig, features: dict[str, int] | None = None):
        super().__init__()
        self.config = config
        self.words = nn.Embedding(len(vocab.words), config.word_dim, padding_idx=PAD)
        self.chars = CharCNN(len(vocab.chars), config) if config.char_filters else None
        self.features = nn.ModuleDict(
            {
                name: nn.Embedding(count, config.feature_dim)
                for name, count in sorted((features or {}).items())
            }
        )
        self.dropout = Dropout(config.dropout)
        drop = torch.tensor(vocab.dropout_probabilities(), dtype=torch.float)  # (V,)
        self.register_buffer("word_drop", drop, persistent=False)  # derived from vocab.json
        self.output_dim = config.word_dim + config.char_filters + config.feature_dim * len(self.features)

    def share_words(self, words: SharedRows) -> None:
        """Embed word ids with ``words`` (another module's rows, :class:`SharedRows`) instead
        of the own table, which is dropped."""
        width = words.embedding_dim
        if width != self.config.word_dim:
            raise ConfigError(
                f"embeddings.word_dim is {self.config.word_dim}, but the task shares a {width}-wide "
                f"embedding with the input: set embeddings.word_dim={width} or turn the task's sharing off"
            )
        self.words = words

    def forward(self, words: Tensor, chars: Tensor, features: dict[str, Tensor] | None = None) -> Tensor:
        if self.training and self.config.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.word_drop[words]
            words = words.masked_fill(drop, UNK)
        parts = [self.words(words)]  # (B, T, word_dim)
        if self.chars is not None:
            parts.append(self.chars(chars))  # (B, T, char_filters)
        parts += [embedding(features[name]) for name, embedding in self.features.items()]  # type: ignore[index]
        return self.dropout(torch.cat(parts, dim=-1))  # (B, T, E)
