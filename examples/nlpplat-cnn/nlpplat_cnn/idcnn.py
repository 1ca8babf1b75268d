"""The ``cnn`` backbone: an iterated dilated convolutional network (ID-CNN).

Strubell et al. (2017) tag sequences with a *block* of dilated convolutions whose
dilation doubles from layer to layer, applied several times with the same weights. A
convolution of width 3 and dilation ``d`` reads a token and the tokens ``d`` positions
to either side::

    h[t] = W[-1] x[t - d] + W[0] x[t] + W[+1] x[t + d] + b

so a block with dilations 1, 2, 4 sees 1 + 2 (1 + 2 + 4) = 15 tokens with three layers,
and every further application of the block adds 14 more, without adding parameters.
All positions are computed at once, so the encoder is as parallel as a Transformer and
as local as a CNN.

Padding invariance (the nlpplat encoder contract): a convolution pads each row with
zeros beyond its ends, so the first token of a sentence sees zeros on its left. We make
the padded positions of a batch zeros too, *before every convolution*: then the last
real token sees zeros on its right whether the batch pads it by 0 or by 50 positions,
exactly like the start of the sentence, and its state cannot depend on the padding.
Zeroing once at the input is not enough: the bias, the ReLU and the residual
connections make padded positions non-zero after the first layer, and the next layer
would read them.
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nlpplat import Backbone, Encoder
from nlpplat.errors import ConfigError


@dataclass
class IDCNNConfig:
    filters: int = 256  # channels of every convolution, and the width D of the output states
    width: int = 3  # tokens per filter; odd, so that each filter is centred on its token
    dilations: tuple[int, int, int] = (1, 2, 4)  # one convolution per entry: one block
    iterations: int = 4  # applications of the block, all with the same weights
    dropout: float = 0.3  # on the input and between iterations, in training only

    def __post_init__(self) -> None:
        if self.width < 1 or self.width % 2 == 0:
            raise ConfigError(f"backbone.width must be odd and positive (1, 3, 5, ...), not {self.width}")
        if not self.dilations or any(not isinstance(d, int) or d < 1 for d in self.dilations):
            raise ConfigError(f"backbone.dilations must be positive whole numbers, not {self.dilations!r}")
        if self.filters < 1 or self.iterations < 1:
            raise ConfigError("backbone.filters and backbone.iterations must be at least 1")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"backbone.dropout must be in [0, 1), not {self.dropout}")


def receptive_field(config: IDCNNConfig) -> int:
    """How many tokens one output state can see: its own and ``(field - 1) / 2`` on each side."""
    reach = 1 + config.iterations * sum(config.dilations)  # the first layer has dilation 1
    return 1 + (config.width - 1) * reach


class IDCNNEncoder(Encoder):
    """``forward(inputs (B, T, E), mask (B, T)) -> states (B, T, filters)``."""

    def __init__(self, config: IDCNNConfig, input_dim: int):
        super().__init__()
        F, w = config.filters, config.width

        def conv(channels_in: int, dilation: int) -> nn.Conv1d:
            # padding = d (w - 1) / 2 zeros on each side keeps the length T ("same" padding).
            return nn.Conv1d(channels_in, F, w, dilation=dilation, padding=dilation * (w - 1) // 2)

        self.first = conv(input_dim, 1)  # token vectors -> F channels
        self.block = nn.ModuleList(conv(F, d) for d in config.dilations)  # shared by every iteration
        self.iterations = config.iterations
        self.dropout = nn.Dropout(config.dropout)
        self.output_dim = F

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        keep = mask.unsqueeze(1).to(inputs.dtype)  # (B, 1, T): 1 at real tokens, 0 at padding
        x = self.dropout(inputs).transpose(1, 2)  # (B, E, T): Conv1d wants channels first
        x = torch.relu(self.first(x * keep))  # (B, F, T)
        for iteration in range(self.iterations):
            if iteration:
                x = self.dropout(x)
            for layer in self.block:
                # Zero the padding before every convolution. The residual connection is ours,
                # not the paper's: without it, 13 stacked ReLU convolutions barely learn in
                # the first epochs (Strubell et al. instead supervise every iteration).
                x = x + torch.relu(layer(x * keep))
        return x.transpose(1, 2)  # (B, T, F)


class CNNBackbone(Backbone):
    name = "cnn"
    Config = IDCNNConfig
    description = "Iterated dilated CNN (Strubell et al. 2017): wide context, fully parallel"

    @classmethod
    def build_encoder(cls, config: IDCNNConfig, input_dim: int) -> Encoder:
        return IDCNNEncoder(config, input_dim)
