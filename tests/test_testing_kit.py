"""The backbone conformance kit (nlpplat.testing) passes a good backbone and catches bad ones."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

from nlpplat import Backbone, Decoder, Encoder, testing


@dataclass
class TinyConfig:
    hidden: int = 8  # units per direction


class GoodEncoder(Encoder):
    """A packed bidirectional GRU: what the kit should accept."""

    def __init__(self, config: TinyConfig, input_dim: int):
        super().__init__()
        self.rnn = nn.GRU(input_dim, config.hidden, batch_first=True, bidirectional=True)
        self.output_dim = 2 * config.hidden

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        lengths = mask.sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        states, _ = self.rnn(packed)
        return nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=inputs.size(1))[0]


class UnpackedEncoder(GoodEncoder):
    """The backward direction starts at the end of the padding."""

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        return self.rnn(inputs)[0]


class BatchMixingEncoder(GoodEncoder):
    """Adds the mean over every real token of the batch: padding-invariant, but rows interact."""

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        states = super().forward(inputs, mask)
        return states + states[mask].mean(0)


class NaNPaddingEncoder(GoodEncoder):
    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        return super().forward(inputs, mask).masked_fill(~mask[..., None], float("nan"))


class UnusedParameterEncoder(GoodEncoder):
    def __init__(self, config: TinyConfig, input_dim: int):
        super().__init__(config, input_dim)
        self.forgotten = nn.Linear(4, 4)


class ConstantInitEncoder(GoodEncoder):
    def __init__(self, config: TinyConfig, input_dim: int):
        super().__init__(config, input_dim)
        for parameter in self.parameters():
            nn.init.constant_(parameter, 0.1)


class UnsavedStateEncoder(GoodEncoder):
    """A random buffer that changes the output but is not in the state_dict."""

    def __init__(self, config: TinyConfig, input_dim: int):
        super().__init__(config, input_dim)
        self.register_buffer("offset", torch.randn(self.output_dim), persistent=False)

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        return super().forward(inputs, mask) + self.offset


def backbone(encoder_cls: type[Encoder]) -> type[Backbone]:
    class TinyBackbone(Backbone):
        name = "tiny"
        Config = TinyConfig
        description = "a tiny GRU for testing the kit"

        @classmethod
        def build_encoder(cls, config: TinyConfig, input_dim: int) -> Encoder:
            return encoder_cls(config, input_dim)

    return TinyBackbone


def test_a_conforming_backbone_passes():
    testing.check_backbone(backbone(GoodEncoder))


@pytest.mark.parametrize(
    ("encoder_cls", "check", "message"),
    [
        (UnpackedEncoder, testing.check_padding_invariance, "must not depend on padding"),
        (UnpackedEncoder, testing.check_gradient_flow, "padded input positions"),
        (BatchMixingEncoder, testing.check_padding_invariance, "rows must not influence each other"),
        (NaNPaddingEncoder, testing.check_encoder_shapes, "non-finite states at padding positions"),
        (UnusedParameterEncoder, testing.check_gradient_flow, "forgotten.weight"),
        (ConstantInitEncoder, testing.check_determinism, "identical weights"),
        (
            UnsavedStateEncoder,
            testing.check_state_dict_round_trip,
            "neither a parameter nor a persistent buffer",
        ),
    ],
)
def test_a_broken_backbone_is_caught(encoder_cls, check, message):
    with pytest.raises(AssertionError, match=message):
        check(backbone(encoder_cls))


def test_config_without_defaults_is_caught():
    @dataclass
    class NoDefaults:
        hidden: int

    class Broken(backbone(GoodEncoder)):
        Config = NoDefaults

    with pytest.raises(AssertionError, match="without a default: hidden"):
        testing.check_config(Broken)


def test_checks_leave_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    testing.check_determinism(backbone(GoodEncoder))
    assert torch.equal(torch.rand(3), expected)


def test_make_inputs_pads_the_same_rows_differently():
    inputs, mask = testing.make_inputs([3, 1], 4)
    padded, padded_mask = testing.make_inputs([3, 1], 4, total_length=6, garbage=1)
    assert mask.tolist() == [[True, True, True], [True, False, False]]
    assert torch.equal(padded[padded_mask], inputs[mask])
    assert padded[~padded_mask].abs().sum() > 0


# -- decoders ---------------------------------------------------------------------------------
class GoodDecoder(Decoder):
    """A GRU cell over [input; mean of the real memory]: causal, with its state as the cache."""

    def __init__(self, config: TinyConfig, memory_dim: int):
        super().__init__()
        self.input_dim = self.output_dim = config.hidden
        self.cell = nn.GRUCell(config.hidden + memory_dim, config.hidden)

    def context(self, memory: Tensor, mask: Tensor) -> Tensor:
        weights = mask.float() / mask.sum(1, keepdim=True).clamp(min=1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1)

    def start(self, memory, memory_mask):
        return {
            "h": memory.new_zeros(memory.size(0), self.output_dim),
            "context": self.context(memory, memory_mask),
        }

    def step(self, inputs, memory, memory_mask, cache):
        h = self.cell(torch.cat([inputs, cache["context"]], dim=1), cache["h"])
        return h, {**cache, "h": h}

    def forward(self, inputs, memory, memory_mask):
        cache, states = self.start(memory, memory_mask), []
        for position in range(inputs.size(1)):
            state, cache = self.step(inputs[:, position], memory, memory_mask, cache)
            states.append(state)
        return torch.stack(states, dim=1)

    def reorder_cache(self, cache, indices):
        return {key: value.index_select(0, indices) for key, value in cache.items()}


class PeekingDecoder(GoodDecoder):
    """Teacher forcing lets each position read the next input: forward differs from step."""

    def forward(self, inputs, memory, memory_mask):
        return super().forward(inputs.roll(-1, dims=1), memory, memory_mask)


class StaleCacheDecoder(GoodDecoder):
    """Forgets to reorder its hidden state."""

    def reorder_cache(self, cache, indices):
        return {"h": cache["h"][: len(indices)], "context": cache["context"].index_select(0, indices)}


class PaddingReadingDecoder(GoodDecoder):
    """Averages the padded memory positions too."""

    def context(self, memory: Tensor, mask: Tensor) -> Tensor:
        return memory.mean(dim=1)


class DetachedMemoryDecoder(GoodDecoder):
    def context(self, memory: Tensor, mask: Tensor) -> Tensor:
        return super().context(memory.detach(), mask)


def backbone_with(decoder_cls: type[Decoder]) -> type[Backbone]:
    class TinyGenerator(backbone(GoodEncoder)):
        @classmethod
        def build_decoder(cls, config: TinyConfig, memory_dim: int) -> Decoder:
            return decoder_cls(config, memory_dim)

    return TinyGenerator


def test_a_conforming_decoder_passes():
    testing.check_backbone(backbone_with(GoodDecoder))


@pytest.mark.parametrize(
    ("decoder_cls", "check", "message"),
    [
        (PeekingDecoder, testing.check_decoder_cache, "differs from the teacher-forced forward pass"),
        (StaleCacheDecoder, testing.check_reorder_cache, "reorder every batch-indexed tensor"),
        (PaddingReadingDecoder, testing.check_decoder_memory_padding, "attend only to real memory positions"),
        (DetachedMemoryDecoder, testing.check_decoder_gradients, "no gradient reaches the memory"),
    ],
)
def test_a_broken_decoder_is_caught(decoder_cls, check, message):
    with pytest.raises(AssertionError, match=message):
        check(backbone_with(decoder_cls))
