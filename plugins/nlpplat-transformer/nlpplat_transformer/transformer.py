"""The Transformer encoder (backbone ``transformer``), written out in full.

A stack of pre-LN blocks (Vaswani et al., 2017; Xiong et al., 2020), each

    x = x + Attention(LayerNorm(x))      every token reads every real token
    x = x + FeedForward(LayerNorm(x))    every token is transformed on its own

over token vectors projected to ``d_model`` and marked with their positions; a final
LayerNorm closes the stack. docs/theory.md explains each piece with its formula. Shapes:
``B`` batch, ``T`` tokens, ``E`` input width, ``C`` = ``d_model``, ``H`` heads, ``S`` = C / H.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlpplat import Backbone, Encoder
from nlpplat.errors import ConfigError

POSITIONS = ("sinusoidal", "learned")


@dataclass
class TransformerConfig:
    # A small encoder for training from scratch on NER-sized data (CoNLL-2003 has ~200k training
    # tokens): a quarter of Vaswani et al.'s base model in depth, half in width. Larger ones overfit
    # such data and train slowly on a CPU; about 3.2M parameters with 150-wide inputs.
    d_model: int = 256  # width of the residual stream, C
    heads: int = 4  # attention heads; S = C / H = 64 per head, as in Vaswani et al.
    layers: int = 4  # blocks
    ff: int = 1024  # hidden width of the feed-forward network, 4 C as in Vaswani et al.
    # Dropout on the projected inputs (after adding positions) and on every residual branch. A little
    # above the 0.1 of Vaswani et al.: from-scratch transformers overfit small tagging corpora.
    dropout: float = 0.15
    attention_dropout: float = 0.1  # on the attention weights, in training only
    # "sinusoidal": fixed encodings of Vaswani et al., defined for any length and no parameters.
    # "learned": one trained vector per position (BERT, GPT-2), for lengths up to max_length only.
    position: str = "sinusoidal"
    max_length: int = 512  # longest sequence with learned positions; sinusoids are precomputed this far


class SelfAttention(nn.Module):
    """Multi-head self-attention over real tokens only.

    ``forward(x (B, T, C), allowed (B, 1, 1, T) bool) -> (B, T, C)``; ``allowed`` is True at
    the keys a query may attend to.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.heads = config.heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)  # queries, keys and values in one matmul
        self.proj = nn.Linear(config.d_model, config.d_model)  # mixes the heads back together
        self.attention_dropout = config.attention_dropout
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, allowed: Tensor) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        # Split the width into H heads of S: (B, T, C) -> (B, H, T, S).
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        # softmax(q k^T / sqrt(S)) v with disallowed keys at -inf, in a fused kernel; (B, H, T, S).
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.attention_dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.dropout(self.proj(y))


class FeedForward(nn.Module):
    """Position-wise ``Linear -> GELU -> Linear``: ``(B, T, C) -> (B, T, C)``."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.fc = nn.Linear(config.d_model, config.ff)
        self.gelu = nn.GELU()  # Hendrycks & Gimpel (2016): smooth, and the norm since BERT and GPT
        self.proj = nn.Linear(config.ff, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.proj(self.gelu(self.fc(x))))


class Block(nn.Module):
    """A pre-LN block: ``(B, T, C) -> (B, T, C)``.

    Normalising the input of each branch rather than the sum (post-LN) keeps an identity path
    from the output down to the inputs, so the stack trains without learning-rate warm-up
    tricks (Xiong et al., 2020).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.ff = FeedForward(config)

    def forward(self, x: Tensor, allowed: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x), allowed)
        x = x + self.ff(self.ln_2(x))
        return x


def sinusoidal_positions(length: int, width: int) -> Tensor:
    """(length, width) fixed encodings: PE[p, 2i] = sin(p / 10000^(2i/width)), PE[p, 2i+1] = cos(…).

    Each pair of dimensions is a rotation at its own frequency, so a fixed offset is a linear
    map of the encoding, and lengths never seen in training still get encodings.
    """
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (length, 1)
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    angles = position * frequency  # (length, ceil(width / 2))
    encoding = torch.zeros(length, width)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles[:, : width // 2])  # an odd width has one cosine fewer
    return encoding


class TransformerEncoder(Encoder):
    """A pre-LN Transformer encoder.

    ``forward(inputs (B, T, E) float, mask (B, T) bool) -> states (B, T, C)``, ``C = d_model``.
    Real tokens come first in each row and attend only to real tokens, and positions count from
    the start of the row, so states at real positions do not depend on padding. Padding
    positions get finite, meaningless states.
    """

    def __init__(self, config: TransformerConfig, input_dim: int):
        super().__init__()
        if config.d_model % config.heads:
            raise ConfigError(
                f"backbone.d_model={config.d_model} must be a multiple of backbone.heads={config.heads}"
            )
        if config.position not in POSITIONS:
            raise ConfigError(f"backbone.position={config.position!r} is not one of {', '.join(POSITIONS)}")
        self.config = config
        self.output_dim = config.d_model
        # No sqrt(C) scaling of the inputs: Vaswani et al. scale embeddings that are tied to the
        # output softmax and so start small; ours are projected by a layer of their own, which
        # learns whatever scale suits the positional signal.
        self.input = nn.Linear(input_dim, config.d_model)
        if config.position == "learned":
            self.position_embedding = nn.Embedding(config.max_length, config.d_model)
        else:
            # A buffer, not a parameter, and not saved: checkpoints hold only what training changes.
            self.register_buffer(
                "sinusoids", sinusoidal_positions(config.max_length, config.d_model), persistent=False
            )
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.d_model)  # pre-LN leaves the residual stream unnormalised
        self.apply(self._init_weights)
        # GPT-2's scaled initialisation: each residual branch adds to the stream, so shrink the last
        # layer of each by 1/sqrt(2 * layers) to keep the stream's variance flat with depth.
        for name, parameter in self.named_parameters():
            if name.endswith(("attn.proj.weight", "ff.proj.weight")):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * config.layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def positions(self, length: int, device: torch.device) -> Tensor:
        """(length, C) positional vectors for positions 0 … length - 1."""
        if self.config.position == "learned":
            if length > self.config.max_length:
                raise ConfigError(
                    f"A sequence of {length} tokens is longer than backbone.max_length={self.config.max_length}, "
                    f"the number of learned positions. Raise it (--set backbone.max_length={length}) or use "
                    "backbone.position=sinusoidal."
                )
            return self.position_embedding(torch.arange(length, device=device))
        if length > self.sinusoids.size(0):
            return sinusoidal_positions(length, self.config.d_model).to(device)
        return self.sinusoids[:length]

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        T = inputs.size(1)
        # Each query may attend to the real keys of its row: (B, T) -> (B, 1, 1, T), broadcast over
        # heads and queries. Padding queries attend to real keys too, so their states stay finite.
        # Key 0 is always allowed: it is real in every non-empty row, and in a row that is all
        # padding it keeps the softmax from dividing by zero (NaN that would poison the gradients).
        allowed = mask.clone()
        allowed[:, 0] = True
        allowed = allowed[:, None, None, :]
        x = self.input(inputs) + self.positions(T, inputs.device)  # (B, T, C)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x, allowed)
        return self.ln_f(x)  # (B, T, C)


class TransformerBackbone(Backbone):
    name = "transformer"
    Config = TransformerConfig
    description = "Pre-LN Transformer encoder with sinusoidal or learned positions"

    @classmethod
    def build_encoder(cls, config: TransformerConfig, input_dim: int) -> TransformerEncoder:
        return TransformerEncoder(config, input_dim)
