"""The host's generation: beam search is exact where it can be, batching changes nothing,
limits and n-gram blocking hold, sampling is reproducible, finished rows leave the batch."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from nlpplat import Decoder
from nlpplat.errors import ConfigError
from nlpplat.generation import (
    GeneratingTask,
    GenerationSettings,
    TargetDecoder,
    block_repeated_ngrams,
    generate,
    label_smoothed_loss,
    length_penalty,
    sampler,
    uniform,
)

PAD, BOS, EOS = 0, 1, 2
WORDS = (3, 4, 5)
V = 6


class MarkovDecoder(Decoder):
    """The next token depends on the last one only, through a fixed table of log-probabilities.

    The host embeds the last token as a one-hot vector (identity embedding), so this decoder
    reads it back with argmax; its "state" is the table row, and an identity output layer
    turns it into logits. It records the batch size of every step.
    """

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.input_dim = self.output_dim = V
        self.table = table
        self.batch_sizes: list[int] = []

    def start(self, memory, memory_mask):
        return {}

    def step(self, inputs, memory, memory_mask, cache):
        self.batch_sizes.append(inputs.size(0))
        return self.table[inputs.argmax(dim=-1)], cache

    def forward(self, inputs, memory, memory_mask):
        return self.table[inputs.argmax(dim=-1)]

    def reorder_cache(self, cache, indices):
        return cache


def markov_head(seed: int) -> TargetDecoder:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(V, V, generator=generator) * 2
    logits[:, [PAD, BOS]] = -1e9  # finite: the identity output layer multiplies it by 0
    head = TargetDecoder(MarkovDecoder(logits.log_softmax(dim=-1)), V, pad_id=PAD, tie=False)
    with torch.no_grad():
        head.embedding.weight.copy_(torch.eye(V))
        head.output.weight.copy_(torch.eye(V))
    return head


def exhaustive_best(head: TargetDecoder, limit: int, alpha: float) -> list[int]:
    """The best-scoring output by enumerating every sequence (the search beam search approximates)."""
    table = head.decoder.table
    best, best_score = None, -math.inf
    for length in range(limit):  # `length` words, then EOS; at most limit - 1 words
        for words in itertools.product(WORDS, repeat=length):
            sequence = [BOS, *words, EOS]
            score = sum(table[a, b].item() for a, b in itertools.pairwise(sequence))
            score /= length_penalty(length + 1, alpha)
            if score > best_score:
                best, best_score = list(words), score
    return best


def source(lengths: list[int], width: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(lengths)
    memory = torch.randn(len(lengths), T, width, generator=torch.Generator().manual_seed(7))
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    return memory, mask


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
@pytest.mark.parametrize("seed", range(4))
def test_a_wide_beam_finds_the_best_sequence(seed: int, alpha: float) -> None:
    head = markov_head(seed)
    memory, mask = source([4])
    settings = GenerationSettings(
        beam=50, length_penalty=alpha, max_length_ratio=1.0, max_length_offset=0, early_exit=False
    )
    [output] = generate(head, memory, mask, settings, bos=BOS, eos=EOS)
    assert output == exhaustive_best(head, limit=4, alpha=alpha)


def test_early_exit_stops_a_sentence_when_its_best_extension_ends() -> None:
    head = markov_head(5)
    with torch.no_grad():  # after BOS the best token is EOS, and the words are close behind
        head.decoder.table[BOS] = torch.tensor([-1e9, -1e9, 0.0, -0.1, -0.2, -0.3]).log_softmax(dim=0)
    memory, mask = source([6])
    settings = GenerationSettings(beam=3, early_exit=True)
    assert generate(head, memory, mask, settings, bos=BOS, eos=EOS) == [[]]
    assert head.decoder.batch_sizes == [3]  # one step: the empty output ended it
    head.decoder.batch_sizes.clear()
    generate(head, memory, mask, GenerationSettings(beam=3, early_exit=False), bos=BOS, eos=EOS)
    assert len(head.decoder.batch_sizes) > 1  # without it, the search waits for three endings


def test_a_generating_tasks_decoding_follows_its_config() -> None:
    task = GeneratingTask(GenerationSettings(decoding="beam", validation_decoding="greedy"))
    assert task.decoding.decoding == "beam"
    with task.validation():
        assert task.decoding.decoding == "greedy"
    assert task.decoding.decoding == "beam"
    task.config = GenerationSettings(decoding="sample")  # what a benchmark comparing decodings does
    assert task.decoding is task.config


def test_beam_of_one_is_greedy() -> None:
    head = markov_head(3)
    memory, mask = source([5, 3, 8])
    greedy = generate(head, memory, mask, GenerationSettings(decoding="greedy"), bos=BOS, eos=EOS)
    beam = generate(head, memory, mask, GenerationSettings(beam=1), bos=BOS, eos=EOS)
    assert greedy == beam


def test_outputs_respect_the_length_limit() -> None:
    head = markov_head(1)
    with torch.no_grad():
        head.decoder.table[:, EOS] = -50.0  # the model would never stop by itself
    memory, mask = source([2, 6])
    for decoding in ("greedy", "beam", "sample"):
        settings = GenerationSettings(decoding=decoding, max_length_ratio=1.5, max_length_offset=1)
        outputs = generate(head, memory, mask, settings, bos=BOS, eos=EOS)
        # limit = ceil(1.5 * source + 1) tokens, the last of them EOS
        assert [len(output) for output in outputs] == [3, 9], decoding


def test_finished_sentences_leave_the_batch() -> None:
    head = markov_head(2)
    memory, mask = source([1, 30])  # limits 4 and 55: the short one ends long before the other
    with torch.no_grad():
        head.decoder.table[:, EOS] = -50.0
    generate(head, memory, mask, GenerationSettings(decoding="greedy"), bos=BOS, eos=EOS)
    sizes = head.decoder.batch_sizes
    assert sizes[0] == 2 and sizes[-1] == 1 and len(sizes) == 55
    head.decoder.batch_sizes.clear()
    generate(head, memory, mask, GenerationSettings(beam=3), bos=BOS, eos=EOS)
    assert head.decoder.batch_sizes[0] == 6 and head.decoder.batch_sizes[-1] == 3


def test_no_repeated_ngrams() -> None:
    head = markov_head(0)
    with torch.no_grad():
        head.decoder.table[:, EOS] = -50.0
        head.decoder.table[3, 3] = 0.0  # the model loves "3 3 3 3 …"
    memory, mask = source([6])
    for decoding in ("greedy", "beam"):
        [output] = generate(
            head, memory, mask, GenerationSettings(decoding=decoding, no_repeat_ngram=2), bos=BOS, eos=EOS
        )
        bigrams = list(itertools.pairwise(output))
        assert len(bigrams) == len(set(bigrams)), (decoding, output)


def test_block_repeated_ngrams_bans_exactly_the_completions() -> None:
    history = torch.tensor([[3, 4, 5, 3], [3, 3, 3, 3]])
    blocked = block_repeated_ngrams(history, torch.zeros(2, V), n=2)
    assert blocked[0].isinf().tolist() == [False, False, False, False, True, False]  # 3 was followed by 4
    assert blocked[1].isinf().tolist() == [False, False, False, True, False, False]
    assert torch.equal(block_repeated_ngrams(history[:, :1], torch.zeros(2, V), n=2), torch.zeros(2, V))


def test_sampling_is_reproducible_per_sentence_and_truncation_works() -> None:
    head = markov_head(4)
    memory, mask = source([5, 5, 5, 5])

    def sample(seeds: list[int], rows: slice = slice(None), **settings) -> list[list[int]]:
        config = GenerationSettings(decoding="sample", **settings)
        return generate(head, memory[rows], mask[rows], config, bos=BOS, eos=EOS, seeds=torch.tensor(seeds))

    assert sample([1, 2, 3, 4]) == sample([1, 2, 3, 4])
    assert sample([1, 2, 3, 4]) != sample([5, 6, 7, 8])
    # A sentence's output depends on its seed only, not on its batch.
    assert sample([1, 2, 3, 4])[2:] == sample([3, 4], slice(2, None))
    greedy = generate(head, memory, mask, GenerationSettings(decoding="greedy"), bos=BOS, eos=EOS)
    assert sample([3] * 4, top_k=1) == greedy
    assert sample([3] * 4, top_p=1e-6) == greedy
    assert sample([3] * 4, temperature=1e-4) == greedy


def test_counter_based_draws_follow_the_distribution() -> None:
    probabilities = torch.tensor([0.5, 0.0, 0.3, 0.2])
    choose = sampler(torch.arange(20_000))
    draws = choose(probabilities.log().expand(20_000, 4), torch.arange(20_000), step=7)
    counts = torch.bincount(draws, minlength=4) / 20_000
    assert counts[1] == 0  # zero probability is never drawn
    assert torch.allclose(counts, probabilities, atol=0.015)  # about 4.5 standard errors
    assert not torch.equal(uniform(torch.arange(50), 1), uniform(torch.arange(50), 2))
    values = uniform(torch.arange(10_000), 3)
    assert values.min() > 0 and values.max() < 1


@pytest.mark.parametrize("backbone", ["rnn", "lstm", "transformer"])
@pytest.mark.parametrize("decoding", ["greedy", "beam"])
def test_a_sentence_decodes_the_same_alone_and_in_a_padded_batch(backbone: str, decoding: str) -> None:
    from nlpplat.plugins import make_plugin_host
    from nlpplat.registry import build_registry

    backbone_cls = build_registry(make_plugin_host()).backbone(backbone)
    small = {"transformer": {"d_model": 16, "heads": 2, "layers": 2, "ff": 32}}.get(backbone, {"hidden": 8})
    import dataclasses

    torch.manual_seed(0)
    decoder = backbone_cls.build_decoder(dataclasses.replace(backbone_cls.Config(), **small), 12)
    head = TargetDecoder(decoder, 20).eval()
    memory, mask = source([5, 2, 7], width=12)
    settings = GenerationSettings(decoding=decoding, beam=4)
    together = generate(head, memory, mask, settings, bos=BOS, eos=EOS)
    for row in range(3):
        length = int(mask[row].sum())
        alone = generate(
            head, memory[row : row + 1, :length], mask[row : row + 1, :length], settings, bos=BOS, eos=EOS
        )
        assert alone == [together[row]]


def test_label_smoothing_and_padding() -> None:
    logits = torch.tensor([[[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]]])
    targets = torch.tensor([[0, 2]])
    plain = label_smoothed_loss(logits, targets, 0.0, pad_id=2)  # the second position is padding
    assert plain.item() == pytest.approx(-torch.log_softmax(logits[0, 0], dim=-1)[0].item())
    assert label_smoothed_loss(logits, targets, 0.1, pad_id=2) > plain


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="decoding"):
        GenerationSettings(decoding="nucleus")
    with pytest.raises(ConfigError, match="top_p"):
        GenerationSettings(top_p=0.0)
    assert GenerationSettings().parameters()["decoder"] == "beam"
    assert GenerationSettings(decoding="sample", top_k=5).parameters()["top_k"] == 5


def test_tying_needs_equal_widths() -> None:
    decoder = MarkovDecoder(torch.zeros(V, V))
    decoder.output_dim = V + 1
    with pytest.raises(ConfigError, match="cannot tie embeddings"):
        TargetDecoder(decoder, V)


def small_teacher_forcing_case() -> tuple[
    TargetDecoder, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor
]:
    """A one-layer Transformer head, two sources (5 and 3 tokens) and two targets (3 and 1 tokens)."""
    from nlpplat_transformer.transformer import TransformerBackbone, TransformerConfig

    torch.manual_seed(0)
    decoder = TransformerBackbone.build_decoder(TransformerConfig(d_model=16, heads=2, layers=1, ff=32), 12)
    head = TargetDecoder(decoder, 20).eval()
    memory, mask = source([5, 3], width=12)
    prefix = torch.tensor([[BOS, 7, 8, 9], [BOS, 5, PAD, PAD]])
    gold = torch.tensor([[7, 8, 9, EOS], [5, EOS, PAD, PAD]])
    return head, memory, mask, prefix, gold


def test_loss_projects_only_real_positions_and_equals_the_full_loss() -> None:
    head, memory, mask, prefix, gold = small_teacher_forcing_case()
    full = label_smoothed_loss(head(prefix, memory, mask), gold, 0.1, pad_id=PAD)
    assert head.loss(prefix, gold, memory, mask, 0.1).item() == pytest.approx(full.item(), rel=1e-6)


def test_the_projection_runs_on_a_multiple_of_rows_with_the_same_loss_and_gradients() -> None:
    head, memory, mask, prefix, gold = small_teacher_forcing_case()
    head.train()
    rows: list[int] = []
    logits = head.logits

    def counting(states: torch.Tensor) -> torch.Tensor:
        rows.append(states.shape[0])
        return logits(states)

    head.logits = counting  # type: ignore[method-assign]
    prefix, gold = prefix.repeat(20, 1), gold.repeat(20, 1)  # 120 real positions, 40 padding
    memory, mask = memory.repeat(20, 1, 1), mask.repeat(20, 1)
    with torch.random.fork_rng():
        loss = head.loss(prefix, gold, memory, mask, 0.1)
    loss.backward()
    grads = [parameter.grad.clone() for parameter in head.parameters()]
    assert rows == [128]  # 120 rounded up to a multiple of PROJECTED_ROWS = 64
    head.zero_grad()
    with torch.random.fork_rng():  # the same dropout masks
        states = head.decoder(head.embed(prefix), memory, mask)
    real = gold != PAD
    expected = label_smoothed_loss(logits(states[real]), gold[real], 0.1)
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    for grad, parameter in zip(grads, head.parameters(), strict=True):
        torch.testing.assert_close(grad, parameter.grad, rtol=1e-5, atol=1e-7)


def test_log_likelihood_sums_each_rows_real_tokens() -> None:
    head, memory, mask, prefix, gold = small_teacher_forcing_case()
    log_probs = head(prefix, memory, mask).log_softmax(dim=-1)
    expected = [sum(log_probs[row, s, gold[row, s]].item() for s in range(n)) for row, n in ((0, 4), (1, 2))]
    assert head.log_likelihood(prefix, gold, memory, mask).tolist() == pytest.approx(expected, rel=1e-5)
    # Without smoothing, the loss is minus the mean log-likelihood per real token.
    mean = -sum(expected) / 6
    assert head.loss(prefix, gold, memory, mask).item() == pytest.approx(mean, rel=1e-5)


@pytest.mark.parametrize("backbone", ["rnn", "lstm", "transformer"])
def test_every_decoder_learns_to_copy_its_source(backbone: str) -> None:
    """A behaviour test of the whole target side: attention over the memory must be learnable.

    (With GPT-2's N(0, 0.02) initialisation the 64-wide Transformer could not learn this.)
    """
    import dataclasses

    from nlpplat.plugins import make_plugin_host
    from nlpplat.registry import build_registry

    backbone_cls = build_registry(make_plugin_host()).backbone(backbone)
    small = {"transformer": {"d_model": 64, "heads": 4, "layers": 2, "ff": 128, "attention_dropout": 0.0}}
    config = dataclasses.replace(
        backbone_cls.Config(), dropout=0.0, **small.get(backbone, {"hidden": 32, "layers": 1})
    )
    torch.manual_seed(0)
    embedding = nn.Embedding(V + 6, 32)
    encoder = backbone_cls.build_encoder(config, 32)
    head = TargetDecoder(backbone_cls.build_decoder(config, encoder.output_dim), V + 6)
    parameters = [*embedding.parameters(), *encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=0.003 if backbone != "transformer" else 0.001)
    mask = torch.ones(32, 6, dtype=torch.bool)
    for _ in range(250):
        source = torch.randint(3, V + 6, (32, 6))
        prefix = torch.cat([torch.full((32, 1), BOS), source], dim=1)
        gold = torch.cat([source, torch.full((32, 1), EOS)], dim=1)
        loss = head.loss(prefix, gold, encoder(embedding(source), mask), mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    head.eval(), encoder.eval()
    source = torch.randint(3, V + 6, (16, 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        outputs = generate(
            head, encoder(embedding(source), mask[:16]), mask[:16], GenerationSettings(), BOS, EOS
        )
    assert sum(output == row for output, row in zip(outputs, source.tolist(), strict=True)) >= 12
