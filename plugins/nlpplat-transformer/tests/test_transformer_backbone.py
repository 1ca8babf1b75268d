"""The transformer backbone: the conformance kit, plus what is particular to it."""

import dataclasses
import itertools
import math

import pytest
import torch

import nlpplat_transformer.plugin
from nlpplat import testing
from nlpplat.config import apply
from nlpplat.dropout import Dropout, keep_mask
from nlpplat.errors import ConfigError
from nlpplat.plugins import make_plugin_host
from nlpplat.registry import build_registry
from nlpplat_transformer import TransformerBackbone
from nlpplat_transformer.transformer import attention, relative_buckets, sinusoidal_positions


def small(**changes):
    sizes = {"d_model": 32, "heads": 4, "layers": 2, "ff": 64}
    return dataclasses.replace(TransformerBackbone.Config(), **{**sizes, **changes})


@pytest.mark.parametrize("position", ["sinusoidal", "learned", "relative"])
def test_conformance(position):
    testing.check_backbone(TransformerBackbone, small(position=position))


def test_default_config_conforms():
    testing.check_backbone(TransformerBackbone)


def test_sinusoids_beyond_max_length_keep_the_contract():
    # max_length 4 < the kit's longest padded batch (24): the encodings are computed on the fly.
    testing.check_padding_invariance(TransformerBackbone, small(max_length=4))


def test_learned_positions_refuse_sequences_longer_than_max_length():
    encoder = TransformerBackbone.build_encoder(small(position="learned", max_length=4), input_dim=8)
    inputs, mask = testing.make_inputs([5], 8)
    with pytest.raises(ConfigError, match="max_length=4"):
        encoder(inputs, mask)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_padding_rows_and_all_padding_rows_stay_finite(mode):
    """Padding queries, and a row with no real token at all, give finite states and gradients."""
    encoder = TransformerBackbone.build_encoder(small(), input_dim=8).train(mode == "train")
    inputs, mask = testing.make_inputs([6, 2, 1], 8, total_length=9, garbage=1)
    mask[2] = False  # a row that is all padding (allowed_keys leaves it key 0)
    inputs.requires_grad_(True)
    states = encoder(inputs, mask)
    assert torch.isfinite(states).all()
    (states * torch.randn_like(states))[mask].sum().backward()
    assert torch.isfinite(inputs.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters())


def test_attention_matches_the_formula():
    """softmax(q k^T / sqrt(S) + mask) v, written out, equals the fused kernel."""
    torch.manual_seed(0)
    config = small()
    attention = TransformerBackbone.build_encoder(config, input_dim=8).blocks[0].attn.eval()
    x = torch.randn(2, 5, config.d_model)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    B, T, C, H = 2, 5, config.d_model, config.heads
    q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in attention.qkv(x).split(C, dim=2))
    scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)  # (B, H, T, T)
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    y = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
    torch.testing.assert_close(attention(x, mask[:, None, None, :]), attention.proj(y))


def attention_masks() -> dict[str, tuple[torch.Tensor | None, bool]]:
    """Every kind of mask ``attention`` takes, by name, as (allowed, causal). The pair masks
    and the bias leave query 2 of the first row no key to read."""
    generator = torch.Generator().manual_seed(0)
    keys = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    keys = keys[:, None, None, :]  # (2, 1, 1, 6)
    pairs = torch.rand(2, 1, 5, 6, generator=generator) < 0.7
    pairs[0, 0, 2] = False
    bias = torch.randn(1, 4, 5, 6, generator=generator).masked_fill(~pairs, float("-inf"))
    return {
        "keys": (keys, False),
        "keys, causal": (keys, True),
        "pairs": (pairs, False),
        "pairs, causal": (pairs, True),
        "bias": (bias, False),
        "causal": (None, True),
    }


def attention_row_by_row(q, k, v, allowed, causal, keep):
    """The formula one query at a time, over the keys it may read (none: zeros); ``keep``
    (B, H, T, U) multiplies the weights (dropout). Independent of how ``attention`` masks."""
    B, H, T, S = q.shape
    U = k.size(-2)
    readable = torch.ones(B, H, T, U, dtype=torch.bool)
    bias = torch.zeros(B, H, T, U)
    if allowed is not None and allowed.is_floating_point():
        readable = readable & allowed.isfinite()
        bias = bias + allowed.masked_fill(allowed.isneginf(), 0.0)
    elif allowed is not None:
        readable = readable & allowed
    if causal:
        readable = readable & torch.ones(T, U, dtype=torch.bool).tril()
    rows = []
    for b, h, t in itertools.product(range(B), range(H), range(T)):
        keys = readable[b, h, t].nonzero().flatten()
        if len(keys) == 0:
            rows.append(torch.zeros(S))
            continue
        weights = (q[b, h, t] @ k[b, h, keys].T / math.sqrt(S) + bias[b, h, t, keys]).softmax(dim=-1)
        rows.append((weights * keep[b, h, t, keys]) @ v[b, h, keys])
    return torch.stack(rows).view(B, H, T, S)


@pytest.mark.parametrize("name", list(attention_masks()))
def test_attention_with_dropout_is_the_formula_with_its_mask(name):
    """On a CPU the weights are dropped out by the Dropout module: output and gradients (of
    q, k, v and a trained bias) equal the formula's, computed query by query with the very
    mask the module draws; a query that may read no key gets zeros, as from the fused
    kernel. Without dropout (the fused kernel) the output is the formula's too."""
    allowed, causal = attention_masks()[name]
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 5 if i == 0 else 6, 8) for i in range(3))
    inputs = [q, k, v] + ([allowed] if allowed is not None and allowed.is_floating_point() else [])
    leaves = [tensor.clone().requires_grad_(True) for tensor in inputs]
    copies = [tensor.clone().requires_grad_(True) for tensor in inputs]
    dropout = Dropout(0.3).train()

    torch.manual_seed(1)
    y = attention(*leaves[:3], leaves[3] if len(leaves) == 4 else allowed, causal, dropout)
    torch.manual_seed(1)
    keep = keep_mask((2, 4, 5, 6), 0.3, q)
    expected = attention_row_by_row(*copies[:3], copies[3] if len(copies) == 4 else allowed, causal, keep)
    torch.testing.assert_close(y, expected)
    upstream = torch.randn_like(y)
    gradients = torch.autograd.grad(y, leaves, upstream)
    expected_gradients = torch.autograd.grad(expected, copies, upstream)
    for gradient, reference in zip(gradients, expected_gradients, strict=True):
        torch.testing.assert_close(gradient, reference)

    dropout.eval()
    plain = attention_row_by_row(q, k, v, allowed, causal, torch.ones(2, 4, 5, 6))
    torch.testing.assert_close(attention(q, k, v, allowed, causal, dropout), plain)


def test_attention_under_bf16_autocast_stays_close_to_fp32():
    """In training under bf16 autocast the written-out formula runs its products in bf16:
    the result stays within bf16's resolution of the fp32 one (same mask)."""
    allowed, _ = attention_masks()["keys"]
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 5 if i == 0 else 6, 8) for i in range(3))
    dropout = Dropout(0.3).train()
    torch.manual_seed(1)
    exact = attention(q, k, v, allowed, False, dropout)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = attention(q, k, v, allowed, False, dropout)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), exact, atol=0.05, rtol=0.02)


def test_a_dropout_outside_zero_to_one_names_the_backbone_setting():
    with pytest.raises(ConfigError, match=r"backbone.attention_dropout = 1.5: a dropout probability"):
        apply(TransformerBackbone.Config(), {"attention_dropout": 1.5}, "backbone")


def test_sinusoidal_positions_follow_the_formula():
    encoding = sinusoidal_positions(50, 16)
    p, i = 7, 3
    assert encoding[p, 2 * i].item() == pytest.approx(math.sin(p / 10000 ** (2 * i / 16)), abs=1e-6)
    assert encoding[p, 2 * i + 1].item() == pytest.approx(math.cos(p / 10000 ** (2 * i / 16)), abs=1e-6)
    assert sinusoidal_positions(3, 7).shape == (3, 7)  # odd widths work


def test_relative_buckets_are_exact_near_and_logarithmic_far():
    offsets = torch.arange(-200, 201)
    both = relative_buckets(offsets, buckets=32, max_distance=128, bidirectional=True)
    before, after = both[offsets <= 0].flip(0), both[offsets > 0]  # each by distance
    assert before[:8].tolist() == list(range(8))  # distances 0-7 one bucket each
    assert after[:7].tolist() == list(range(17, 24))  # keys after the query: the upper half
    assert (before.diff() >= 0).all() and (after.diff() >= 0).all()
    assert set(before[8:].tolist()) == set(range(8, 16))  # 8 log-spaced buckets up to 128 …
    assert before[127:].eq(15).all() and after[127:].eq(31).all()  # … and one for all beyond
    causal = relative_buckets(offsets, buckets=32, max_distance=128, bidirectional=False)
    assert causal[offsets <= 0].flip(0)[:16].tolist() == list(range(16))
    assert causal.max() == 31 and causal[offsets > 0].eq(0).all()


def bucket_in_integers(distance: int, buckets: int, max_distance: int) -> int:
    """The bucket of one direction, with no floating point: distance d >= exact falls in
    exact + k for the largest k with (d / exact)^m >= (max_distance / exact)^k, m = buckets - exact."""
    exact, m = buckets // 2, buckets - buckets // 2
    if distance < exact:
        return distance
    k = max(k for k in range(m + 1) if distance**m * exact**k >= max_distance**k * exact**m)
    return min(exact + k, buckets - 1)


@pytest.mark.parametrize(("buckets", "max_distance"), [(32, 128), (16, 64), (8, 16)])
def test_relative_buckets_match_the_formula_in_exact_arithmetic(buckets: int, max_distance: int):
    distances = torch.arange(0, 2 * max_distance)
    both = relative_buckets(-distances, buckets, max_distance, bidirectional=True)
    after = relative_buckets(distances[1:], buckets, max_distance, bidirectional=True)
    causal = relative_buckets(-distances, buckets, max_distance, bidirectional=False)
    half = buckets // 2
    for d in distances.tolist():
        assert both[d] == bucket_in_integers(d, half, max_distance), d
        assert causal[d] == bucket_in_integers(d, buckets, max_distance), d
        if d:
            assert after[d - 1] == half + bucket_in_integers(d, half, max_distance), d
    if (buckets, max_distance) == (32, 128):  # the boundaries that a last-bit error would move
        assert both[[16, 32, 64]].tolist() == [10, 12, 14]


def test_relative_attention_adds_the_bias_of_each_offset():
    """softmax(q k^T / sqrt(S) + b[bucket(j - i)]) v, written out, is what the encoder's first block computes."""
    torch.manual_seed(0)
    config = small(position="relative", relative_buckets=8, relative_max_distance=16)
    encoder = TransformerBackbone.build_encoder(config, input_dim=8).eval()
    torch.nn.init.normal_(encoder.relative.bias.weight)  # biases large enough to matter
    B, T, C, H = 1, 12, config.d_model, config.heads
    x = torch.randn(B, T, C)
    q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in encoder.blocks[0].attn.qkv(x).split(C, dim=2))
    scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)  # (B, H, T, T)
    for i in range(T):
        for j in range(T):
            bucket = relative_buckets(torch.tensor(j - i), 8, 16, bidirectional=True)
            scores[0, :, i, j] += encoder.relative.bias.weight[bucket]
    y = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
    bias = encoder.relative(T, T)
    torch.testing.assert_close(encoder.blocks[0].attn(x, bias), encoder.blocks[0].attn.proj(y))


def test_relative_positions_add_no_vector_to_the_inputs():
    """A sequence of identical tokens gives identical states: every key then carries the same
    value, so however the biases weigh the keys each query averages the same vector, and only a
    position vector added to the inputs could tell the tokens apart (as the sinusoids do)."""
    encoder = TransformerBackbone.build_encoder(small(position="relative"), input_dim=8).eval()
    inputs = torch.randn(1, 1, 8).expand(1, 6, 8)
    states = encoder(inputs, torch.ones(1, 6, dtype=torch.bool))
    torch.testing.assert_close(states, states[:, :1].expand_as(states))
    sinusoidal = TransformerBackbone.build_encoder(small(), input_dim=8).eval()
    states = sinusoidal(inputs, torch.ones(1, 6, dtype=torch.bool))
    assert not torch.allclose(states, states[:, :1].expand_as(states))


def test_sinusoids_are_not_saved():
    encoder = TransformerBackbone.build_encoder(small(), input_dim=8)
    assert not any("sinusoid" in key for key in encoder.state_dict())
    learned = TransformerBackbone.build_encoder(small(position="learned"), input_dim=8)
    assert "positions.embedding.weight" in learned.state_dict()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"heads": 5}, "multiple of backbone.heads"),
        ({"position": "rotary"}, "rotary"),
        (
            {"position": "relative", "relative_buckets": 64, "relative_max_distance": 64},
            "relative_max_distance",
        ),
    ],
)
def test_invalid_configs_are_explained(changes, message):
    with pytest.raises(ConfigError, match=message):
        TransformerBackbone.build_encoder(small(**changes), input_dim=8)


def test_plugin_module_registers_the_backbone():
    host = make_plugin_host(load_entry_points=False)
    host.register(nlpplat_transformer.plugin, "transformer")
    assert build_registry(host).backbone("transformer") is TransformerBackbone


def test_installed_entry_point_registers_the_backbone(monkeypatch):
    monkeypatch.delenv("NLPPLAT_LOAD_PLUGINS", raising=False)
    registry = build_registry(make_plugin_host())
    assert registry.backbone("transformer") is TransformerBackbone
    status = next(status for status in registry.plugins if status.name == "transformer")
    assert status.ok and status.distribution == "nlpplat-transformer"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("position", ["sinusoidal", "learned", "relative"])
def test_conformance_on_cuda(position):
    testing.check_backbone(TransformerBackbone, small(position=position), device="cuda")


def test_checkpoints_from_before_positions_was_a_module_still_load():
    encoder = TransformerBackbone.build_encoder(small(position="learned"), input_dim=8)
    state = encoder.state_dict()
    state["position_embedding.weight"] = state.pop("positions.embedding.weight")
    again = TransformerBackbone.build_encoder(small(position="learned"), input_dim=8)
    again.load_state_dict(state)  # strict
    assert torch.equal(again.positions.embedding.weight, encoder.positions.embedding.weight)


def test_generation_never_runs_past_the_learned_positions():
    from nlpplat.generation import GenerationSettings, TargetDecoder, generate

    decoder = TransformerBackbone.build_decoder(small(position="learned", max_length=6), memory_dim=8)
    head = TargetDecoder(decoder, 12).eval()
    memory, mask = torch.randn(2, 9, 8), torch.ones(2, 9, dtype=torch.bool)
    original = head.step

    def never_stop(*args):  # EOS is never likely: outputs run to their limit
        log_probs, cache = original(*args)
        log_probs[:, 3] = -1e4
        return log_probs, cache

    head.step = never_stop
    for decoding in ("greedy", "beam"):
        outputs = generate(head, memory, mask, GenerationSettings(decoding=decoding), bos=2, eos=3)
        # 9 source tokens allow 1.5 * 9 + 10 positions, but the decoder has 6 (the last for EOS)
        assert [len(output) for output in outputs] == [5, 5], decoding
