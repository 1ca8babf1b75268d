"""The Elman recurrent network (backbone ``rnn``), and the encoder all recurrent backbones share.

An Elman network (Elman, 1990) keeps one hidden vector and updates it token by token,

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

(docs/theory.md, "Elman RNN"). :class:`RecurrentEncoder` runs any PyTorch recurrent module
(``nn.RNN``, ``nn.LSTM``, ``nn.GRU``) layer by layer and direction by direction, so the
``lstm`` backbone is the same encoder around a different cell.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from nlpplat import Backbone, Encoder
from nlpplat.dropout import Dropout, keep_mask

if TYPE_CHECKING:
    from nlpplat_rnn.decoder import AttentionalDecoder
    from nlpplat_rnn.lstm import LSTMConfig


@dataclass
class RNNConfig:
    # The same sizes as the lstm defaults, so that `nlpplat bench --backbone rnn,lstm` compares the
    # cells and not the widths. 200 units per direction is what Ma & Hovy (2016) use for NER.
    hidden: int = 200  # units per direction
    layers: int = 2  # stacked layers; each reads both directions of the layer below
    bidirectional: bool = True  # a tag depends on the words after it as much as on those before
    # Dropout between layers and on the output states; the host has already dropped out the input
    # embeddings. 0.33 is Dozat & Manning's (2017) value for BiLSTM taggers, between the 0.25 and 0.5
    # that Reimers & Gurevych (2017) found best for sequence labelling.
    dropout: float = 0.33
    # True: each sequence keeps one dropout mask for all its time steps ("variational" dropout,
    # Gal & Ghahramani, 2016), which Reimers & Gurevych (2017) found best for BiLSTM taggers.
    locked_dropout: bool = False


class RecurrentEncoder(Encoder):
    """Stacked, optionally bidirectional recurrent layers, with dropout between them.

    ``forward(inputs (B, T, E) float, mask (B, T) bool) -> states (B, T, D)`` where
    ``D = hidden * (2 if bidirectional else 1)``: the forward and backward states of the top
    layer, concatenated. Real tokens come first in each row.

    A forward recurrence never looks ahead, so trailing padding cannot reach a real state. The
    backward direction would start at the end of the padding; instead each row's real tokens are
    reversed in place (:func:`reverse_real_tokens`) and read by a forward module, so it starts at
    the row's last real token. This keeps states at real positions independent of padding, as
    packing would, but runs PyTorch's fused kernels on plain dense tensors: on a 2-core CPU a
    training step of the default BiLSTM is about 1.9x faster than with ``pack_padded_sequence``
    (``python benchmarks/packing.py``).
    """

    def __init__(self, cell: type[nn.RNNBase], config: "RNNConfig | LSTMConfig", input_dim: int, **kwargs):
        super().__init__()
        directions = 2 if config.bidirectional else 1
        widths = [input_dim] + [config.hidden * directions] * (config.layers - 1)
        # layers[i][0] reads left to right, layers[i][1] (if bidirectional) right to left.
        self.layers = nn.ModuleList(
            nn.ModuleList(cell(width, config.hidden, batch_first=True, **kwargs) for _ in range(directions))
            for width in widths
        )
        self.dropout = LockedDropout(config.dropout) if config.locked_dropout else Dropout(config.dropout)
        self.output_dim = config.hidden * directions

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        reverse = reversal_index(mask)  # (B, T)
        x = inputs  # (B, T, E)
        for depth, directions in enumerate(self.layers):
            if depth > 0:
                x = self.dropout(x)
            states = [directions[0](x)[0]]  # (B, T, H)
            if len(directions) == 2:
                backward, _ = directions[1](reverse_real_tokens(x, reverse))  # (B, T, H), reversed
                states.append(reverse_real_tokens(backward, reverse))
            x = torch.cat(states, dim=-1)  # (B, T, H * directions)
        return self.dropout(x)


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence: x (B, T, F) -> x * mask (B, 1, F) / (1 - p) in training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        return x * keep_mask((x.size(0), 1, x.size(2)), self.p, x)  # one (B, 1, F) mask for all steps


def reversal_index(mask: Tensor) -> Tensor:
    """(B, T) long: position ``t`` of a row of length ``n`` maps to ``n - 1 - t`` if ``t < n``, else ``t``.

    Gathering with it reverses each row's real tokens and leaves its padding where it is; doing
    it twice restores the original order.
    """
    T = mask.size(1)
    positions = torch.arange(T, device=mask.device)  # (T,)
    lengths = mask.sum(dim=1, keepdim=True)  # (B, 1)
    mirrored = lengths - 1 - positions  # (B, T)
    return torch.where(positions < lengths, mirrored, positions)


def reverse_real_tokens(x: Tensor, index: Tensor) -> Tensor:
    """x (B, T, F) with each row's real tokens reversed, by :func:`reversal_index`.

    Whole F-wide rows are selected from the flattened batch (``index_select``), which is
    several times cheaper on CPU than an element-wise ``gather`` with an expanded index.
    """
    B, T, F = x.shape
    rows = index + torch.arange(B, device=x.device).unsqueeze(1) * T  # (B, T) rows of the (B*T, F) view
    return x.reshape(B * T, F).index_select(0, rows.reshape(-1)).view(B, T, F)


class RNNBackbone(Backbone):
    name = "rnn"
    Config = RNNConfig
    description = "Elman RNN (tanh), bidirectional and stacked; Luong-attention decoder"

    @classmethod
    def build_encoder(cls, config: RNNConfig, input_dim: int) -> RecurrentEncoder:
        # nn.RNN runs the recurrence of a whole batch in one fused ATen (or cuDNN) call; a
        # hand-written loop over time steps would be several times slower. tanh is Elman's
        # squashing function.
        return RecurrentEncoder(nn.RNN, config, input_dim, nonlinearity="tanh")

    @classmethod
    def build_decoder(cls, config: RNNConfig, memory_dim: int) -> "AttentionalDecoder":
        from nlpplat_rnn.decoder import AttentionalDecoder

        return AttentionalDecoder(nn.RNNCell, config, memory_dim, nonlinearity="tanh")
