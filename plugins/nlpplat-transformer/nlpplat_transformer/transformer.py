"""The Transformer (backbone ``transformer``), encoder and decoder, written out in full.

The encoder is a stack of pre-LN blocks (Vaswani et al., 2017; Xiong et al., 2020), each

    x = x + Attention(LayerNorm(x))      every token reads every real token
    x = x + FeedForward(LayerNorm(x))    every token is transformed on its own

over token vectors projected to ``d_model`` and marked with their positions; a final
LayerNorm closes the stack. The decoder's blocks add a second attention, over the encoder's
states ("cross-attention"), and its self-attention is causal: position s reads positions
0 … s only, so that generation can proceed one token at a time with the keys and values of
earlier positions cached. docs/theory.md explains each piece with its formula. Shapes:
``B`` batch, ``T`` tokens, ``E`` input width, ``C`` = ``d_model``, ``H`` heads, ``S`` = C / H,
``L`` target positions, ``M`` memory (encoder state) width.
"""

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlpplat import Backbone, Decoder, Encoder
from nlpplat.dropout import Dropout
from nlpplat.errors import ConfigError

POSITIONS = ("sinusoidal", "learned", "relative")


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
    # "relative": no position in the inputs; each head adds a learned bias for the bucketed
    # offset between query and key to its attention scores (Shaw et al., 2018; Raffel et al., 2020).
    position: str = "sinusoidal"
    max_length: int = 512  # longest sequence with learned positions; sinusoids are precomputed this far
    # Relative positions: distances below relative_buckets / 4 each get a bucket of their own in
    # either direction (below / 2 in the causal decoder, which sees one direction), larger ones
    # share log-spaced buckets up to relative_max_distance, beyond which all are alike. T5's
    # values: the encoder is exact up to 7 words either way, where most of syntax lies.
    relative_buckets: int = 32
    relative_max_distance: int = 128


def split_heads(x: Tensor, heads: int) -> Tensor:
    """(B, T, C) -> (B, H, T, S): the width cut into H heads of S."""
    B, T, C = x.shape
    return x.view(B, T, heads, C // heads).transpose(1, 2)


def merge_heads(y: Tensor) -> Tensor:
    """(B, H, T, S) -> (B, T, C): the heads side by side again."""
    B, H, T, S = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, H * S)


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    allowed: Tensor | None,
    causal: bool,
    weight_dropout: Dropout | nn.Dropout,
) -> Tensor:
    """softmax(q k^T / sqrt(S) + mask) v, the weights dropped out in training: (B, H, T, S).

    q (B, H, T, S); k and v (B, H, U, S); ``allowed`` (broadcast to (B, H, T, U)) is either
    boolean, True where a query may read a key, or an additive float bias (relative positions,
    -inf where reading is not allowed); ``causal`` lets query t read keys up to t. A query
    that may read no key gets zeros, as from ``scaled_dot_product_attention``.

    Without dropout, or on a GPU, this is :func:`fused_attention`, PyTorch's kernels (fused on
    a GPU, with their own counter-based dropout). With dropout on a CPU no fused kernel
    applies: torch falls back to its reference path, which converts bf16 inputs to fp32 and
    draws the weights' mask with ``bernoulli_``, one generator call per weight. Here the
    formula is written out instead, so that ``weight_dropout`` draws the mask
    (``nlpplat.dropout``'s cheaper draws), and under bf16 autocast its two products run in
    bf16 (accumulated in fp32 by the CPU's kernels) with the softmax in fp32, as an eager
    attention under autocast does on a GPU. ``benchmarks/dropout.py`` measures the difference
    on whole training steps.
    """
    p = weight_dropout.p if weight_dropout.training else 0.0
    if p == 0.0 or q.device.type != "cpu":
        return fused_attention(q, k, v, allowed, causal, p)
    if causal:
        allowed = with_causal(allowed, q.size(-2), k.size(-2), q.device)
    scores = (q * q.size(-1) ** -0.5) @ k.transpose(-2, -1)  # (B, H, T, U); scaling q is the cheaper side
    if allowed is not None and allowed.is_floating_point():
        scores = scores + allowed.to(scores.dtype)
    elif allowed is not None:
        scores = scores.masked_fill(~allowed, -math.inf)
    # A query that may read no key would get 0 / 0: give it zeros, and no NaN in the backward.
    unread = scores.isneginf().all(dim=-1, keepdim=True)  # (B, H, T, 1)
    weights = scores.masked_fill(unread, 0.0).softmax(dim=-1).masked_fill(unread, 0.0)
    return weight_dropout(weights) @ v


def fused_attention(
    q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None, causal: bool, p: float
) -> Tensor:
    """``scaled_dot_product_attention`` with :func:`attention`'s arguments and its own dropout
    ``p``: (B, H, T, S). A causal mask given with an explicit one is merged into it, since
    not every kernel takes both."""
    if causal and allowed is not None:
        allowed, causal = with_causal(allowed, q.size(-2), k.size(-2), q.device), False
    if allowed is not None and allowed.is_floating_point():
        allowed = allowed.to(q.dtype)  # the kernels want the bias in the queries' dtype
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, is_causal=causal, dropout_p=p)


def with_causal(allowed: Tensor | None, queries: int, keys: int, device: torch.device) -> Tensor:
    """``allowed`` (broadcast to (B, H, T, U), or None) with the keys after each query
    disallowed too: False, or -inf in a float bias; (…, T, U)."""
    later = torch.ones(queries, keys, dtype=torch.bool, device=device).triu(1)  # (T, U): key u after query t
    if allowed is None:
        return ~later
    return allowed.masked_fill(later, -math.inf) if allowed.is_floating_point() else allowed & ~later


class SelfAttention(nn.Module):
    """Multi-head self-attention.

    ``forward(x (B, T, C), allowed (B, 1, 1, T) bool | None, causal) -> (B, T, C)``;
    ``allowed`` is True at the keys a query may attend to; ``causal`` lets position t attend
    to positions up to t only. :meth:`step` is the causal case for one new position, with
    the keys and values of the earlier ones given.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.heads = config.heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)  # queries, keys and values in one matmul
        self.proj = nn.Linear(config.d_model, config.d_model)  # mixes the heads back together
        self.attention_dropout = Dropout(config.attention_dropout)  # on the attention weights
        self.dropout = Dropout(config.dropout)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values, each (B, H, T, S)."""
        q, k, v = self.qkv(x).split(x.size(-1), dim=2)  # 3 x (B, T, C)
        return split_heads(q, self.heads), split_heads(k, self.heads), split_heads(v, self.heads)

    def attend(self, q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None, causal: bool = False) -> Tensor:
        y = attention(q, k, v, allowed, causal, self.attention_dropout)  # (B, H, T, S)
        return self.dropout(self.proj(merge_heads(y)))

    def forward(self, x: Tensor, allowed: Tensor | None, causal: bool = False) -> Tensor:
        return self.attend(*self.project(x), allowed, causal)

    def step(
        self,
        x: Tensor,
        past_k: Tensor,
        past_v: Tensor,
        order: Tensor | None = None,
        bias: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """x (N, 1, C), past keys and values (N', H, t, S) -> output (N, 1, C), keys and values
        (N, H, t + 1, S). Row i continues past row ``order[i]`` ((N,) long; None: row i).
        ``bias`` (1, H, 1, t + 1): relative position biases of the new position, if any."""
        q, k, v = self.project(x)
        k, v = extend(past_k, k, order), extend(past_v, v, order)
        return self.attend(q, k, v, bias), k, v  # the new position may read every cached one


def extend(past: Tensor, new: Tensor, order: Tensor | None) -> Tensor:
    """past (N', H, t, S), new (N, H, 1, S) -> (N, H, t + 1, S): ``past[order[i]]`` then ``new[i]``.

    Beam search reorders the cache at every step; selecting the past rows straight into the
    grown tensor copies the cache once per step instead of twice (select, then concatenate).
    """
    if order is None:
        return torch.cat([past, new], dim=2)
    grown = new.new_empty(new.size(0), new.size(1), past.size(2) + 1, new.size(3))
    torch.index_select(past, 0, order, out=grown[:, :, :-1])
    grown[:, :, -1:] = new
    return grown


class CrossAttention(nn.Module):
    """Multi-head attention of target positions over the encoder's states.

    ``forward(x (B, L, C), keys, values (B, H, T, S), allowed (B, 1, 1, T)) -> (B, L, C)``. The
    keys and values depend on the source only, so generation computes them once per source
    (:meth:`memory_keys_values`) and every step reuses them.
    """

    def __init__(self, config: TransformerConfig, memory_dim: int):
        super().__init__()
        self.heads = config.heads
        self.q = nn.Linear(config.d_model, config.d_model)
        self.kv = nn.Linear(memory_dim, 2 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.attention_dropout = Dropout(config.attention_dropout)  # on the attention weights
        self.dropout = Dropout(config.dropout)

    def memory_keys_values(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """memory (B, T, M) -> keys and values, each (B, H, T, S)."""
        k, v = self.kv(memory).chunk(2, dim=2)
        return split_heads(k, self.heads), split_heads(v, self.heads)

    def forward(self, x: Tensor, keys: Tensor, values: Tensor, allowed: Tensor) -> Tensor:
        q = split_heads(self.q(x), self.heads)  # (B, H, L, S)
        y = attention(q, keys, values, allowed, False, self.attention_dropout)
        return self.dropout(self.proj(merge_heads(y)))


class FeedForward(nn.Module):
    """Position-wise ``Linear -> GELU -> Linear``: ``(B, T, C) -> (B, T, C)``."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.fc = nn.Linear(config.d_model, config.ff)
        self.gelu = nn.GELU()  # Hendrycks & Gimpel (2016): smooth, and the norm since BERT and GPT
        self.proj = nn.Linear(config.ff, config.d_model)
        self.dropout = Dropout(config.dropout)

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


class DecoderBlock(nn.Module):
    """A pre-LN decoder block: causal self-attention, cross-attention, feed-forward.

    ``forward(x (B, L, C), keys, values (B, H, T, S), allowed (B, 1, 1, T)) -> (B, L, C)``;
    :meth:`step` runs the same three sublayers for one new position of N rows, with the
    cached self-attention keys and values of the earlier ones.
    """

    def __init__(self, config: TransformerConfig, memory_dim: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.cross = CrossAttention(config, memory_dim)
        self.ln_3 = nn.LayerNorm(config.d_model)
        self.ff = FeedForward(config)

    def forward(
        self, x: Tensor, keys: Tensor, values: Tensor, allowed: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        """``bias`` (1, H, L, L): causal relative position biases, -inf above the diagonal; None:
        plain causal attention."""
        x = x + self.attn(self.ln_1(x), bias, causal=bias is None)
        return self._cross_and_feed_forward(x, keys, values, allowed)

    def step(
        self,
        x: Tensor,
        past_k: Tensor,
        past_v: Tensor,
        keys: Tensor,
        values: Tensor,
        allowed: Tensor,
        order: Tensor | None = None,
        bias: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """x (N, 1, C); keys, values and allowed of S sources, S dividing N, each source's N / S
        rows in a block; ``order`` and ``bias`` as in :meth:`SelfAttention.step` -> (N, 1, C)
        and the self-attention keys and values (N, H, t + 1, S)."""
        attended, past_k, past_v = self.attn.step(self.ln_1(x), past_k, past_v, order, bias)
        return self._cross_and_feed_forward(x + attended, keys, values, allowed), past_k, past_v

    def _cross_and_feed_forward(self, x: Tensor, keys: Tensor, values: Tensor, allowed: Tensor) -> Tensor:
        # The rows of a source attend to it as queries of one row: (N, L, C) -> (S, N L / S, C).
        # In training S = N; in beam search a source's K hypotheses share its keys and values.
        query = self.ln_2(x).reshape(keys.size(0), -1, x.size(-1))
        x = x + self.cross(query, keys, values, allowed).reshape(x.shape)
        return x + self.ff(self.ln_3(x))


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


class Positions(nn.Module):
    """Absolute positional vectors: ``forward(length, offset=0) -> (length, C)`` for positions
    offset, offset + 1, …"""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        if config.position == "learned":
            self.embedding = nn.Embedding(config.max_length, config.d_model)
        else:
            # A buffer, not a parameter, and not saved: checkpoints hold only what training changes.
            self.register_buffer(
                "sinusoids", sinusoidal_positions(config.max_length, config.d_model), persistent=False
            )

    def forward(self, length: int, offset: int = 0) -> Tensor:
        end = offset + length
        if self.config.position == "learned":
            if end > self.config.max_length:
                raise ConfigError(
                    f"A sequence of {end} tokens is longer than backbone.max_length={self.config.max_length}, "
                    f"the number of learned positions. Raise it (--set backbone.max_length={end}) or use "
                    "backbone.position=sinusoidal."
                )
            return self.embedding(torch.arange(offset, end, device=self.embedding.weight.device))
        if end > self.sinusoids.size(0):
            return sinusoidal_positions(end, self.config.d_model).to(self.sinusoids.device)[offset:]
        return self.sinusoids[offset:end]


def relative_buckets(offset: Tensor, buckets: int, max_distance: int, bidirectional: bool) -> Tensor:
    """Key-minus-query offsets (any shape, long) -> their buckets in [0, buckets), same shape.

    Bidirectional: half the buckets for keys at or before the query, half for keys after it;
    causal: all of them for keys at or before it (later keys get bucket 0, and are masked
    anyway). Within a direction the first half of the buckets hold distances 0, 1, 2, … one
    each; the second half split the distances up to ``max_distance`` evenly in log space, so
    that "3 or 4 words away" stays precise while "40 or 41" need not; farther is the last bucket.
    """
    if bidirectional:
        buckets //= 2
        base = (offset > 0).long() * buckets  # keys after the query use the upper half
        distance = offset.abs()
    else:
        base = torch.zeros_like(offset)
        distance = (-offset).clamp(min=0)
    exact = buckets // 2
    # log(d / exact) / log(max_distance / exact) runs from 0 at d = exact to 1 at max_distance.
    # Some distances land exactly on a bucket's boundary (16, 32 and 64 with the defaults);
    # the margin keeps a last-bit difference between devices' log from moving them down one.
    scale = (buckets - exact) / math.log(max_distance / exact)
    past_exact = torch.log(distance.clamp(min=exact).float() / exact) * scale  # buckets beyond the exact ones
    logarithmic = exact + (past_exact + 1e-4).long()
    return base + torch.where(distance < exact, distance, logarithmic.clamp(max=buckets - 1))


class RelativePositionBias(nn.Module):
    """Learned attention biases for relative positions (T5's, Raffel et al. 2020), shared by all blocks.

    ``forward(queries, keys, offset=0) -> (1, H, queries, keys)`` float: the bias of head h for
    the query at position ``offset + i`` and the key at position j, ``b[bucket(j - offset - i), h]``.
    Causal biases are -inf at keys after their query, so they also serve as the causal mask.
    """

    def __init__(self, config: TransformerConfig, bidirectional: bool):
        super().__init__()
        self.config, self.bidirectional = config, bidirectional
        self.bias = nn.Embedding(config.relative_buckets, config.heads)  # (buckets, H)

    def forward(self, queries: int, keys: int, offset: int = 0) -> Tensor:
        device = self.bias.weight.device
        query = torch.arange(offset, offset + queries, device=device)[:, None]
        key = torch.arange(keys, device=device)[None, :]
        buckets = relative_buckets(
            key - query, self.config.relative_buckets, self.config.relative_max_distance, self.bidirectional
        )
        bias = self.bias(buckets).permute(2, 0, 1).unsqueeze(0)  # (queries, keys, H) -> (1, H, queries, keys)
        if not self.bidirectional:
            bias = bias.masked_fill(key > query, float("-inf"))
        return bias


def check_config(config: TransformerConfig) -> None:
    if config.position not in POSITIONS:
        raise ConfigError(f"backbone.position={config.position!r} is not one of {', '.join(POSITIONS)}")
    if config.position == "relative" and not 4 <= config.relative_buckets < config.relative_max_distance:
        raise ConfigError(
            f"backbone.relative_buckets={config.relative_buckets} must be at least 4 and below "
            f"backbone.relative_max_distance={config.relative_max_distance}"
        )
    if config.d_model % config.heads:
        raise ConfigError(
            f"backbone.d_model={config.d_model} must be a multiple of backbone.heads={config.heads}"
        )


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform linear weights and zero biases (as Vaswani et al. 2017 and fairseq), N(0, 0.02) embeddings.

    Why not GPT-2's N(0, 0.02) for every weight: at GPT-2's widths (768 and more) 0.02 is
    about 1/sqrt(width), but at ours (64-256) it is several times smaller, so attention
    scores and every residual branch start near zero and the decoder does not learn to
    read the source: a 2-layer, 64-wide model could not learn to copy its input in 300
    steps with it, and learned it in 200 with Xavier's sqrt(6 / (fan_in + fan_out)) bound.
    """
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.xavier_uniform_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, mean=0.0, std=0.02)


def allowed_keys(mask: Tensor) -> Tensor:
    """(B, T) bool -> (B, 1, 1, T): the real keys of each row, broadcast over heads and queries.

    Key 0 is always allowed: it is real in every non-empty row, and in a row that is all
    padding it leaves every query a key to read, so that no softmax is over nothing.
    """
    allowed = mask.clone()
    allowed[:, 0] = True
    return allowed[:, None, None, :]


class TransformerEncoder(Encoder):
    """A pre-LN Transformer encoder.

    ``forward(inputs (B, T, E) float, mask (B, T) bool) -> states (B, T, C)``, ``C = d_model``.
    Real tokens come first in each row and attend only to real tokens, and positions count from
    the start of the row, so states at real positions do not depend on padding. Padding
    positions get finite, meaningless states.
    """

    def __init__(self, config: TransformerConfig, input_dim: int):
        super().__init__()
        check_config(config)
        self.config = config
        self.output_dim = config.d_model
        # No sqrt(C) scaling of the inputs: Vaswani et al. scale embeddings that are tied to the
        # output softmax and so start small; ours are projected by a layer of their own, which
        # learns whatever scale suits the positional signal.
        self.input = nn.Linear(input_dim, config.d_model)
        relative = config.position == "relative"
        self.positions = None if relative else Positions(config)
        self.relative = RelativePositionBias(config, bidirectional=True) if relative else None
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.d_model)  # pre-LN leaves the residual stream unnormalised
        init_weights(self)

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        old = prefix + "position_embedding.weight"
        if old in state_dict:  # a checkpoint from before Positions was a module of its own
            state_dict[prefix + "positions.embedding.weight"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        # Each query may attend to the real keys of its row. Padding queries attend to real keys
        # too, so their states stay finite.
        allowed = allowed_keys(mask)  # (B, 1, 1, T)
        x = self.input(inputs)  # (B, T, C)
        T = x.size(1)
        if self.relative is not None:  # positions enter as biases on the scores: (B, H, T, T)
            allowed = self.relative(T, T).masked_fill(~allowed, float("-inf"))
        else:
            x = x + self.positions(T)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x, allowed)
        return self.ln_f(x)  # (B, T, C)


class TransformerDecoder(Decoder):
    """A pre-LN Transformer decoder with a key/value cache for generation.

    ``forward(inputs (B, L, C), memory (B, T, M), memory_mask (B, T)) -> states (B, L, C)``;
    ``input_dim = output_dim = C``, so the host may tie the target embedding to the output
    projection. The cache holds, per block, the self-attention keys and values of the
    positions generated so far (N, H, t, S), reordered lazily by the next step (``order``),
    and the cross-attention keys and values of each source (sources, H, T, S), computed once
    in :meth:`start` and shared by all the rows (beam hypotheses) that read the same source
    (``rows``: N -> source).
    """

    def __init__(self, config: TransformerConfig, memory_dim: int):
        super().__init__()
        check_config(config)
        self.config = config
        self.input_dim = self.output_dim = config.d_model
        self.max_length = config.max_length if config.position == "learned" else None
        relative = config.position == "relative"
        self.positions = None if relative else Positions(config)
        self.relative = RelativePositionBias(config, bidirectional=False) if relative else None
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(DecoderBlock(config, memory_dim) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        init_weights(self)

    def forward(self, inputs: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        allowed = allowed_keys(memory_mask)
        L = inputs.size(1)
        bias = self.relative(L, L) if self.relative is not None else None  # (1, H, L, L), causal
        x = self.dropout(inputs if bias is not None else inputs + self.positions(L))  # (B, L, C)
        for block in self.blocks:
            x = block(x, *block.cross.memory_keys_values(memory), allowed, bias)
        return self.ln_f(x)

    def start(self, memory: Tensor, memory_mask: Tensor) -> dict[str, Any]:
        B, H = memory.size(0), self.config.heads
        empty = memory.new_zeros(B, H, 0, self.config.d_model // H)
        return {
            "position": 0,
            "self": [(empty, empty) for _ in self.blocks],
            "order": None,  # row i of the next step continues cached row order[i] (None: row i)
            # Cross-attention keys and values, one row per source (contiguous: rows are
            # selected from them when sources leave the batch), and which source each
            # decoder row reads. Beam search keeps K rows per source: they share these.
            "memory": [
                tuple(t.contiguous() for t in block.cross.memory_keys_values(memory)) for block in self.blocks
            ],
            "allowed": allowed_keys(memory_mask),  # (sources, 1, 1, T)
            "rows": torch.arange(B, device=memory.device),
        }

    def step(
        self, inputs: Tensor, memory: Tensor, memory_mask: Tensor, cache: dict[str, Any]
    ) -> tuple[Tensor, dict[str, Any]]:
        position, rows = cache["position"], cache["rows"]
        x = inputs.unsqueeze(1)  # (N, 1, C)
        bias = None
        if self.relative is not None:  # the new position against itself and every cached one
            bias = self.relative(1, position + 1, offset=position)  # (1, H, 1, position + 1)
        else:
            x = x + self.positions(1, offset=position)
        x = self.dropout(x)
        sources = cache["allowed"].size(0)
        group = rows.numel() // sources
        # When the rows are the sources' hypotheses in blocks (beam search: K per source, in
        # order), each block's K positions attend to their source as K queries of one row:
        # no copy of the source's keys and values per hypothesis.
        grouped = group * sources == rows.numel() and torch.equal(
            rows, torch.arange(sources, device=rows.device).repeat_interleave(group)
        )
        past = []
        for block, (past_k, past_v), (keys, values) in zip(
            self.blocks, cache["self"], cache["memory"], strict=True
        ):
            allowed = cache["allowed"]
            if not grouped:  # each row its own copy of its source's keys and values
                keys, values, allowed = (t.index_select(0, rows) for t in (keys, values, allowed))
            x, past_k, past_v = block.step(x, past_k, past_v, keys, values, allowed, cache["order"], bias)
            past.append((past_k, past_v))
        return self.ln_f(x).squeeze(1), {**cache, "position": position + 1, "self": past, "order": None}

    def reorder_cache(self, cache: dict[str, Any], indices: Tensor) -> dict[str, Any]:
        rows = cache["rows"].index_select(0, indices)
        memory, allowed = cache["memory"], cache["allowed"]
        used = torch.unique(rows)  # sorted
        if used.numel() < allowed.size(0):  # sources that no row reads any more are dropped
            memory = [(k.index_select(0, used), v.index_select(0, used)) for k, v in memory]
            allowed = allowed.index_select(0, used)
            rows = torch.searchsorted(used, rows)
        order = cache["order"]
        return {
            "position": cache["position"],
            # The self-attention cache is reordered lazily, by the next step (see extend()).
            "self": cache["self"],
            "order": indices if order is None else order.index_select(0, indices),
            "memory": memory,
            "allowed": allowed,
            "rows": rows,
        }


class TransformerBackbone(Backbone):
    name = "transformer"
    Config = TransformerConfig
    description = (
        "Pre-LN Transformer encoder and decoder (KV cache) with sinusoidal, learned or relative positions"
    )

    @classmethod
    def build_encoder(cls, config: TransformerConfig, input_dim: int) -> TransformerEncoder:
        return TransformerEncoder(config, input_dim)

    @classmethod
    def build_decoder(cls, config: TransformerConfig, memory_dim: int) -> TransformerDecoder:
        return TransformerDecoder(config, memory_dim)
