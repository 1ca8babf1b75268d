"""Generating text with a backbone's decoder: the target side of a model, and the searches.

Every generating task (translation, dialogue, …) uses the same pieces:

- :class:`TargetDecoder` puts a target-token embedding in front of the backbone's
  :class:`~nlpplat.contracts.Decoder` and a projection to the vocabulary behind it
  (optionally the embedding matrix itself: tied input/output embeddings, Press & Wolf 2017);
- :func:`generate` decodes a batch with greedy search, beam search (Wu et al. 2016's
  length penalty) or sampling (top-k, Fan et al. 2018; top-p, Holtzman et al. 2020), all
  batched: every step is a handful of tensor operations over the whole batch, and a
  sentence whose search is over leaves the batch so that it costs nothing more.

Shapes: ``B`` sentences, ``K`` beam size, ``N`` rows being decoded (``B`` or ``B × K``),
``T`` source tokens, ``M`` memory width, ``V`` target vocabulary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlpplat.batching import round_up
from nlpplat.contracts import Batch, Decoder, Task
from nlpplat.errors import ConfigError
from nlpplat.subwords import BOS, EOS, PAD

# The projection to the vocabulary runs on a multiple of this many target positions (see
# TargetDecoder.loss): at most 63 wasted rows against the ~1,400 of a DailyDialog batch.
PROJECTED_ROWS = 64
IGNORED = -100  # a target that label_smoothed_loss leaves out

STRATEGIES = ("greedy", "beam", "sample")


@dataclass
class GenerationSettings:
    """How to decode; generating tasks inherit these fields into their own ``Config``."""

    decoding: str = "beam"  # "greedy", "beam" or "sample"
    beam: int = 5  # hypotheses kept per sentence by beam search
    # Wu et al. (2016)'s length penalty: a hypothesis' log-probability is divided by
    # ((5 + length) / 6) ** length_penalty, so longer outputs are not punished for having
    # more factors; 0 compares raw log-probabilities. 0.6 is in their best range (0.6-0.7).
    length_penalty: float = 0.6
    # Beam search: with early_exit a sentence is done as soon as its best extension ends it
    # (OpenNMT-py's rule, CTranslate2's allow_early_exit): a quarter faster on Multi30k, but
    # no longer exact. Without, it is done once `beam` hypotheses have ended (fairseq's rule)
    # or no live one can still win.
    early_exit: bool = False
    # Outputs stop after max_length_ratio * source tokens + max_length_offset tokens (at least 1).
    max_length_ratio: float = 1.5
    max_length_offset: int = 10
    no_repeat_ngram: int = 0  # > 0: never produce the same n-gram twice in one output
    top_k: int = 0  # sampling: draw only from the k most probable tokens (0 = all)
    top_p: float = 1.0  # sampling: draw only from the smallest set holding this much probability
    temperature: float = 1.0  # sampling: divides the logits (< 1 sharpens, > 1 flattens)
    # sampling: each example's draws depend only on this seed, the example and the step, so
    # the same model and input give the same output in any batch (evaluate repeats a run).
    seed: int = 1
    # The dev evaluations made during training only rank checkpoints, and greedy search
    # ranks them like beam search at a quarter of the cost; the reported scores use decoding.
    validation_decoding: str = "greedy"

    def __post_init__(self) -> None:
        for name in ("decoding", "validation_decoding"):
            if getattr(self, name) not in STRATEGIES:
                raise ConfigError(
                    f"task.{name} = {getattr(self, name)!r}: use one of {', '.join(STRATEGIES)}"
                )
        if self.beam < 1 or self.max_length_ratio < 0 or self.max_length_offset < 0:
            raise ConfigError(
                "task.beam must be at least 1, task.max_length_ratio and task.max_length_offset not negative"
            )
        if not 0 < self.top_p <= 1 or self.temperature <= 0 or self.top_k < 0 or self.no_repeat_ngram < 0:
            raise ConfigError(
                "task.top_p must be in (0, 1], task.temperature positive, task.top_k and "
                "task.no_repeat_ngram not negative"
            )

    def for_validation(self) -> GenerationSettings:
        """These settings with ``validation_decoding`` as the strategy."""
        return dataclasses.replace(self, decoding=self.validation_decoding)

    def parameters(self) -> dict[str, Any]:
        """The settings that matter for the chosen strategy (stored with the results)."""
        chosen: dict[str, Any] = {"decoder": self.decoding}
        if self.decoding == "beam":
            chosen |= {
                "beam": self.beam,
                "length_penalty": self.length_penalty,
                "early_exit": self.early_exit,
            }
        if self.decoding == "sample":
            chosen |= {
                "top_k": self.top_k,
                "top_p": self.top_p,
                "temperature": self.temperature,
                "seed": self.seed,
            }
        chosen |= {
            "max_length": f"{self.max_length_ratio} * source + {self.max_length_offset}",
            "no_repeat_ngram": self.no_repeat_ngram,
        }
        return chosen


class GeneratingTask(Task):
    """Base of the tasks that write text with this module's search (translation, dialogue).

    Its ``Config`` derives from :class:`GenerationSettings` and also has ``tie_embeddings``
    and ``label_smoothing``; :meth:`targets` returns :func:`teacher_forcing` rows padded with
    ``nlpplat.subwords.PAD``, and :meth:`target_size` says how many target tokens there are.
    The head is then a :class:`TargetDecoder` trained by teacher forcing. :attr:`decoding`
    holds the settings to decode with: the config itself, or inside :meth:`validation` (the
    dev evaluations made during training) the config with ``validation_decoding``.
    """

    requires_decoder = True
    sequence_targets = ("prefix", "gold")  # padded with PAD, which is 0

    def __init__(self, config: GenerationSettings, language: str = "en"):
        super().__init__(config, language)
        self._validating = False

    @property
    def decoding(self) -> GenerationSettings:
        # Derived from config on every use, so that replacing config (a benchmark comparing
        # decodings, --set task.beam=10) always takes effect.
        return self.config.for_validation() if self._validating else self.config

    @contextlib.contextmanager
    def validation(self) -> Iterator[None]:
        self._validating = True
        try:
            yield
        finally:
            self._validating = False

    def decoding_parameters(self) -> dict[str, Any]:
        return self.config.parameters()

    def target_size(self) -> int:
        """How many tokens the decoder chooses from (the target vocabulary, specials included)."""
        raise NotImplementedError

    def generate(self, head: TargetDecoder, states: Tensor, batch: Batch) -> list[list[int]]:
        """Decode ``batch`` with :attr:`decoding`: one list of target ids per example.

        ``states`` (B, T, M) are the encoder's. Sampling seeds each example from ``seed``
        and its tokens, so that its output depends neither on its batch nor on what ran
        before it.
        """
        seeds = None
        if self.decoding.decoding == "sample":  # greedy and beam search draw nothing
            keys = [
                "\x1f".join([str(self.decoding.seed), *self.tokens(example)]) for example in batch.examples
            ]
            seeds = torch.tensor([zlib.crc32(key.encode()) for key in keys], device=states.device)
        return generate(head, states, batch.mask, self.decoding, BOS, EOS, seeds)

    def build_head(self, input_dim: int, decoder: Decoder | None = None) -> TargetDecoder:
        if decoder is None:
            raise ConfigError(f"the {self.name} task needs a backbone with a decoder")
        return TargetDecoder(decoder, self.target_size(), pad_id=PAD, tie=self.config.tie_embeddings)

    def loss(self, head: TargetDecoder, states: Tensor, batch: Batch) -> Tensor:
        targets = batch.targets
        return head.loss(targets["prefix"], targets["gold"], states, batch.mask, self.config.label_smoothing)


class TargetDecoder(nn.Module):
    """Target embedding → backbone decoder → vocabulary logits.

    ``forward(prefix (B, S) long, memory (B, T, M), memory_mask (B, T) bool) -> logits (B, S, V)``
    is teacher forcing: position ``s`` predicts token ``s + 1`` from ``prefix[:, :s + 1]``.
    :meth:`start` and :meth:`step` run the same computation one token at a time.

    Embeddings are scaled by sqrt(E) on the way in (Vaswani et al. 2017): with the
    N(0, 1/E) initialisation that suits the tied output projection, the decoder then sees
    inputs of unit variance.
    """

    def __init__(self, decoder: Decoder, vocab_size: int, pad_id: int = 0, tie: bool = True):
        super().__init__()
        width = decoder.input_dim
        if tie and decoder.output_dim != width:
            raise ConfigError(
                f"cannot tie embeddings: the decoder reads {width}-wide inputs and writes "
                f"{decoder.output_dim}-wide states; set task.tie_embeddings=false"
            )
        self.decoder = decoder
        self.pad_id = pad_id
        self.embedding = nn.Embedding(vocab_size, width, padding_idx=pad_id)
        nn.init.normal_(self.embedding.weight, mean=0.0, std=width**-0.5)
        with torch.no_grad():
            self.embedding.weight[pad_id].zero_()
        self.scale = math.sqrt(width)
        self.output = None if tie else nn.Linear(decoder.output_dim, vocab_size, bias=False)

    @property
    def vocab_size(self) -> int:
        return self.embedding.num_embeddings

    def embed(self, tokens: Tensor) -> Tensor:
        """tokens (...) long -> (..., E)."""
        return self.embedding(tokens) * self.scale

    def logits_weight(self) -> Tensor:
        """(V, D): the output projection, which is the embedding matrix when tied."""
        return self.embedding.weight if self.output is None else self.output.weight

    def logits(self, states: Tensor) -> Tensor:
        """states (..., D) -> (..., V)."""
        return F.linear(states, self.logits_weight())

    def forward(self, prefix: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        return self.logits(self.decoder(self.embed(prefix), memory, memory_mask))

    def start(self, memory: Tensor, memory_mask: Tensor) -> dict[str, Any]:
        return self.decoder.start(memory, memory_mask)

    def step(
        self, tokens: Tensor, memory: Tensor, memory_mask: Tensor, cache: dict[str, Any]
    ) -> tuple[Tensor, dict[str, Any]]:
        """tokens (N,) long -> log-probabilities of the next token (N, V) float32, new cache."""
        states, cache = self.decoder.step(self.embed(tokens), memory, memory_mask, cache)
        return torch.log_softmax(self.logits(states).float(), dim=-1), cache

    def loss(
        self, prefix: Tensor, gold: Tensor, memory: Tensor, memory_mask: Tensor, smoothing: float = 0.0
    ) -> Tensor:
        """Teacher-forced, label-smoothed cross-entropy per real target token.

        prefix, gold (B, S) long: the decoder's inputs and the tokens it should predict,
        ``pad_id`` after the end. Only real positions are projected to the vocabulary: the
        projection is the largest matrix product of a step, and padding would waste it. The
        row count is rounded up to a multiple of :data:`PROJECTED_ROWS` with padding
        positions whose loss is ignored, so that the product's shapes repeat from batch to
        batch (a bf16 product on a CPU runs a kernel compiled for its exact shape).
        """
        states = self.decoder(self.embed(prefix), memory, memory_mask)  # (B, S, D)
        real = gold != self.pad_id
        projected = real.clone()
        count = int(real.sum())
        spare = (~real).flatten().nonzero().squeeze(1)[: round_up(count, PROJECTED_ROWS) - count]
        projected.view(-1)[spare] = True
        targets = gold.masked_fill(~real, IGNORED)[projected]  # (rows,)
        return label_smoothed_loss(self.logits(states[projected]), targets, smoothing)

    def log_likelihood(self, prefix: Tensor, gold: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        """(B,) float32: each row's total log-probability of its ``gold`` tokens (padding excluded).

        The same teacher forcing as :meth:`loss`, without smoothing: perplexity is
        ``exp(-sum(log_likelihood) / tokens)``.
        """
        states = self.decoder(self.embed(prefix), memory, memory_mask)
        real = gold != self.pad_id
        log_probs = torch.log_softmax(self.logits(states[real]).float(), dim=-1)
        picked = log_probs.gather(1, gold[real].unsqueeze(1)).squeeze(1)  # (real tokens,)
        totals = torch.zeros(gold.shape, dtype=picked.dtype, device=picked.device)
        totals[real] = picked
        return totals.sum(dim=1)


def teacher_forcing(rows: Sequence[Sequence[int]], bos: int, eos: int, pad: int) -> dict[str, Tensor]:
    """The decoder's inputs and gold outputs for target token ``rows``.

    ``prefix`` (B, S) long = BOS + tokens and ``gold`` (B, S) long = tokens + EOS, padded with
    ``pad`` to the longest row plus one: position ``s`` of ``prefix`` predicts ``gold[s]``.
    """
    width = max(len(row) for row in rows) + 1
    prefix = [[bos, *row] + [pad] * (width - len(row) - 1) for row in rows]
    gold = [[*row, eos] + [pad] * (width - len(row) - 1) for row in rows]
    return {"prefix": torch.tensor(prefix, dtype=torch.long), "gold": torch.tensor(gold, dtype=torch.long)}


def label_smoothed_loss(logits: Tensor, targets: Tensor, smoothing: float, pad_id: int = IGNORED) -> Tensor:
    """Mean cross-entropy per target token, with label smoothing (Szegedy et al. 2016).

    logits (..., V), targets (...) long; positions holding ``pad_id`` are ignored. The gold
    token gets 1 - smoothing of the target distribution and the rest is spread evenly, which
    keeps the model from growing over-confident (Vaswani et al. 2017 use 0.1).
    """
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),
        targets.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=smoothing,
    )


def max_lengths(memory_mask: Tensor, settings: GenerationSettings) -> Tensor:
    """(B,) long: the most tokens (end of sentence included) each output may have."""
    source = memory_mask.sum(dim=1).float()
    return (source * settings.max_length_ratio + settings.max_length_offset).ceil().long().clamp(min=1)


@torch.no_grad()
def generate(
    head: TargetDecoder,
    memory: Tensor,
    memory_mask: Tensor,
    settings: GenerationSettings,
    bos: int,
    eos: int,
    seeds: Tensor | None = None,
) -> list[list[int]]:
    """Decode every row of ``memory`` (B, T, M); return B token lists without BOS and EOS.

    ``seeds`` (B,) 32-bit numbers make sampling reproducible per row (default: drawn from
    torch's global generator).
    """
    limits = max_lengths(memory_mask, settings)
    if head.decoder.max_length is not None:  # e.g. learned positions: no position past the table
        limits = limits.clamp(max=head.decoder.max_length)
    if settings.decoding == "beam" and settings.beam > 1:
        alpha, blocked = settings.length_penalty, settings.no_repeat_ngram
        return beam_search(
            head, memory, memory_mask, bos, eos, limits, settings.beam, alpha, blocked, settings.early_exit
        )
    if settings.decoding == "sample":
        if seeds is None:
            seeds = torch.randint(0, 2**32, (memory.size(0),), device=memory.device)
        choose = sampler(seeds.to(memory.device), settings.top_k, settings.top_p, settings.temperature)
    else:
        choose = greedy_choice
    return single_path_search(head, memory, memory_mask, bos, eos, limits, choose, settings.no_repeat_ngram)


def greedy_choice(log_probs: Tensor, rows: Tensor, step: int) -> Tensor:
    """(N, V) -> (N,) the most probable token of each row."""
    return log_probs.argmax(dim=-1)


def sampler(
    seeds: Tensor, top_k: int = 0, top_p: float = 1.0, temperature: float = 1.0
) -> Callable[[Tensor, Tensor, int], Tensor]:
    """A choice function that draws from the (truncated, tempered) next-token distribution.

    ``seeds`` (B,) hold a 32-bit number per sentence, on the device of the decoding;
    ``choose(log_probs, rows, step)`` draws row ``i`` of ``log_probs`` with
    :func:`uniform` ``(seeds[rows[i]], step)``, by inverting the cumulative distribution.
    """

    def choose(log_probs: Tensor, rows: Tensor, step: int) -> Tensor:
        scores = log_probs / temperature  # (N, V)
        if top_k > 0:
            kth = scores.topk(min(top_k, scores.size(-1)), dim=-1).values[:, -1:]  # (N, 1)
            scores = scores.masked_fill(scores < kth, -math.inf)
        if top_p < 1.0:
            sorted_scores, order = scores.sort(dim=-1, descending=True)
            probabilities = sorted_scores.softmax(dim=-1)
            # Drop a token when the more probable ones already hold top_p: the most probable
            # token always stays.
            before = probabilities.cumsum(dim=-1) - probabilities
            drop = torch.zeros_like(before, dtype=torch.bool).scatter(-1, order, before >= top_p)
            scores = scores.masked_fill(drop, -math.inf)
        cumulative = scores.softmax(dim=-1).cumsum(dim=-1)  # (N, V)
        draws = uniform(seeds[rows], step).to(cumulative.dtype) * cumulative[:, -1]
        chosen = torch.searchsorted(cumulative, draws.unsqueeze(1), right=True).squeeze(1)
        return chosen.clamp(max=cumulative.size(1) - 1)  # a draw of the total itself, by rounding

    return choose


def uniform(seeds: Tensor, step: int) -> Tensor:
    """(N,) float64 in (0, 1): a fixed function of each 32-bit seed and ``step``.

    A counter-based draw (the integer hash of Mueller's ``hash32``, all products below
    2**59, so int64 never overflows): it needs no generator state, so a sentence's draws
    do not depend on the other sentences of its batch or on their order.
    """
    x = (seeds.long() + step * 0x9E3779B9) & 0xFFFFFFFF
    for _ in range(2):
        x = (((x >> 16) ^ x) * 0x45D9F3B) & 0xFFFFFFFF
    x = (x >> 16) ^ x
    return (x.double() + 0.5) / 2**32


def block_repeated_ngrams(history: Tensor, log_probs: Tensor, n: int) -> Tensor:
    """Forbid each row's next token where it would repeat an n-gram already in that row.

    history (N, t) long, the tokens generated so far; log_probs (N, V). Vectorised: every
    earlier window whose first n - 1 tokens equal the row's last n - 1 bans its n-th token.
    """
    N, t = history.shape
    if n < 1 or t < n:  # no complete n-gram yet
        return log_probs
    V = log_probs.size(1)
    if n == 1:
        banned = history
    else:
        windows = history.unfold(1, n, 1)  # (N, t - n + 1, n)
        match = (windows[:, :, :-1] == history[:, t - n + 1 :].unsqueeze(1)).all(dim=-1)  # (N, W)
        banned = torch.where(match, windows[:, :, -1], V)  # V: a spare column for non-matches
    penalty = torch.zeros(N, V + 1, device=log_probs.device, dtype=log_probs.dtype)
    penalty.scatter_(1, banned, -math.inf)
    return log_probs + penalty[:, :V]


def _forbid(log_probs: Tensor, head: TargetDecoder, bos: int, eos: int, at_limit: Tensor) -> Tensor:
    """Never emit padding or BOS; at a row's length limit only EOS is left."""
    log_probs[:, head.pad_id] = -math.inf
    if bos != eos:
        log_probs[:, bos] = -math.inf
    if at_limit.any():
        eos_scores = log_probs[:, eos].clone()
        log_probs[at_limit] = -math.inf
        log_probs[:, eos] = eos_scores
    return log_probs


def _token_lists(tokens: Tensor, lengths: Tensor) -> list[list[int]]:
    return [row[:length].tolist() for row, length in zip(tokens, lengths.tolist(), strict=True)]


def single_path_search(
    head: TargetDecoder,
    memory: Tensor,
    memory_mask: Tensor,
    bos: int,
    eos: int,
    limits: Tensor,
    choose: Callable[[Tensor, Tensor, int], Tensor],
    no_repeat_ngram: int = 0,
) -> list[list[int]]:
    """One hypothesis per sentence, extended by ``choose`` (greedy or sampling).

    A sentence that has produced EOS (or reached its length limit) leaves the batch.
    """
    B, device = memory.size(0), memory.device
    cache = head.start(memory, memory_mask)
    active = torch.arange(B, device=device)  # sentences still being decoded
    output = torch.full((B, int(limits.max())), eos, dtype=torch.long, device=device)
    lengths = torch.zeros(B, dtype=torch.long, device=device)
    tokens = torch.full((B,), bos, dtype=torch.long, device=device)
    for t in range(output.size(1)):
        log_probs, cache = head.step(tokens, memory, memory_mask, cache)  # (A, V)
        if no_repeat_ngram:
            log_probs = block_repeated_ngrams(output[active, :t], log_probs, no_repeat_ngram)
        tokens = choose(_forbid(log_probs, head, bos, eos, t + 1 >= limits[active]), active, t)  # (A,)
        output[active, t] = tokens
        ended = tokens == eos
        lengths[active] = torch.where(ended, t, t + 1)
        ended |= t + 1 >= limits[active]
        if ended.all():
            break
        if ended.any():
            keep = (~ended).nonzero().squeeze(1)
            active, tokens = active[keep], tokens[keep]
            memory, memory_mask = memory[keep], memory_mask[keep]
            cache = head.decoder.reorder_cache(cache, keep)
    return _token_lists(output, lengths)


def length_penalty(length: Tensor | int, alpha: float) -> Tensor | float:
    """Wu et al. (2016): ((5 + length) / 6) ** alpha."""
    return ((5 + length) / 6) ** alpha


def beam_search(
    head: TargetDecoder,
    memory: Tensor,
    memory_mask: Tensor,
    bos: int,
    eos: int,
    limits: Tensor,
    beam: int,
    alpha: float = 0.6,
    no_repeat_ngram: int = 0,
    early_exit: bool = False,
) -> list[list[int]]:
    """The best hypothesis of each sentence by batched beam search.

    Rows ``a * K … a * K + K - 1`` hold the K live hypotheses of the ``a``-th active
    sentence. Each step scores the K × V extensions and keeps the best 2K per sentence: EOS
    among the top K ends a hypothesis (it is scored with the length penalty and kept if it
    beats the sentence's best so far), the best K others live on. A sentence
    is done when K hypotheses have ended (as in fairseq), when no live hypothesis can still
    beat its best (with ``alpha`` ≥ 0 a live score can only fall: dividing it by the
    largest penalty bounds every continuation), at its length limit, or, with
    ``early_exit``, as soon as its best extension is EOS; done sentences leave the batch.
    """
    B, K, device = memory.size(0), beam, memory.device
    rows = torch.arange(B, device=device).repeat_interleave(K)
    # The per-source work of start() is done once per sentence, then its cache is copied to
    # the K rows (a decoder may share rather than copy what depends on the source alone).
    cache = head.decoder.reorder_cache(head.start(memory, memory_mask), rows)
    memory, memory_mask = memory[rows], memory_mask[rows]  # (B*K, T, M), (B*K, T)
    active = torch.arange(B, device=device)  # (A,) sentences still searching
    limits = limits.clone()
    scores = torch.full((B, K), -math.inf, device=device)  # (A, K) log-probabilities of the live
    scores[:, 0] = 0.0  # all K rows start identical: only one may extend, else the beam fills with copies
    history = torch.empty((B * K, 0), dtype=torch.long, device=device)  # (A*K, t) tokens so far
    tokens = torch.full((B * K,), bos, dtype=torch.long, device=device)
    best_scores = torch.full((B,), -math.inf, device=device)
    best_tokens = torch.full((B, int(limits.max())), eos, dtype=torch.long, device=device)
    best_lengths = torch.zeros(B, dtype=torch.long, device=device)
    ended_count = torch.zeros(B, dtype=torch.long, device=device)
    rank = torch.arange(2 * K, device=device)
    for t in range(best_tokens.size(1)):
        A = active.numel()
        log_probs, cache = head.step(tokens, memory, memory_mask, cache)  # (A*K, V)
        if no_repeat_ngram:
            log_probs = block_repeated_ngrams(history, log_probs, no_repeat_ngram)
        at_limit = (t + 1 >= limits[active]).repeat_interleave(K)
        log_probs = _forbid(log_probs, head, bos, eos, at_limit)
        # The 2K best extensions of a sentence are among the 2K best of each of its rows
        # (a row's extension outside its own top 2K is beaten by 2K of that row alone): picking
        # them per row first never builds the (A, K * V) table of every extension.
        width = min(2 * K, log_probs.size(1))
        row_scores, row_tokens = log_probs.topk(width, dim=1)  # (A*K, width)
        candidates = (scores.reshape(-1, 1) + row_scores).view(A, K * width)
        top_scores, top_ids = candidates.topk(2 * K, dim=1)  # (A, 2K), best first
        origin = top_ids // width  # which live hypothesis
        token = row_tokens.view(A, K * width).gather(1, top_ids)  # which next token
        ending = (token == eos) & (rank < K) & torch.isfinite(top_scores)
        # Hypotheses that end here: keep each sentence's best if it beats the best so far.
        normalized = torch.where(ending, top_scores / length_penalty(t + 1, alpha), -math.inf)
        value, position = normalized.max(dim=1)  # (A,)
        better = value > best_scores[active]
        if better.any():
            sentences = active[better]
            source_rows = (better.nonzero().squeeze(1) * K) + origin[better, position[better]]
            best_scores[sentences] = value[better]
            best_tokens[sentences, :t] = history[source_rows]
            best_lengths[sentences] = t
        ended_count[active] += ending.sum(dim=1)
        # The K best extensions that do not end live on.
        live, pick = top_scores.masked_fill(token == eos, -math.inf).topk(K, dim=1)  # (A, K)
        parents = (torch.arange(A, device=device).unsqueeze(1) * K + origin.gather(1, pick)).view(-1)
        bound = live[:, 0] / length_penalty(limits[active], alpha) if alpha >= 0 else live[:, 0] + math.inf
        done = (
            (ended_count[active] >= K)
            | (ending[:, 0] if early_exit else False)
            | (best_scores[active] >= bound)
            | (t + 1 >= limits[active])
            | torch.isinf(live[:, 0])
        )
        if done.all():
            break
        keep = (~done).nonzero().squeeze(1)  # (A',)
        kept_rows = parents.view(A, K)[keep].reshape(-1)  # (A'*K,)
        history = torch.cat([history[kept_rows], token.gather(1, pick)[keep].reshape(-1, 1)], dim=1)
        tokens = history[:, -1]
        cache = head.decoder.reorder_cache(cache, kept_rows)
        if keep.numel() < A:  # all K rows of a sentence share its memory: only drop sentences
            memory = memory.view(A, K, *memory.shape[1:])[keep].flatten(0, 1)
            memory_mask = memory_mask.view(A, K, -1)[keep].flatten(0, 1)
        scores, active = live[keep], active[keep]
    return _token_lists(best_tokens, best_lengths)
