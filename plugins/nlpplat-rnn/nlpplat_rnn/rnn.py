"""The Elman recurrent network (backbone ``rnn``), and the encoder all recurrent backbones share.

An Elman network (Elman, 1990) keeps one hidden vector and updates it token by token,

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

(docs/theory.md, "Elman RNN"). :class:`RecurrentEncoder` runs any PyTorch recurrent module
(``nn.RNN``, ``nn.LSTM``, ``nn.GRU``) over packed sequences, so the ``lstm`` backbone is the
same encoder around a different cell.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlpplat import Backbone, Encoder

if TYPE_CHECKING:
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


class RecurrentEncoder(Encoder):
    """A PyTorch recurrent module run over packed sequences, with dropout on its output.

    ``forward(inputs (B, T, E) float, mask (B, T) bool) -> states (B, T, D)`` where
    ``D = hidden * (2 if bidirectional else 1)``: the forward and backward states of the top
    layer, concatenated. Real tokens come first in each row. Packing starts the backward
    direction at each row's last real token, not at the end of the padding, so states at real
    positions do not depend on padding; states at padding positions are zeros (before dropout).
    """

    def __init__(self, rnn: nn.RNNBase, dropout: float):
        super().__init__()
        assert rnn.batch_first, "RecurrentEncoder reads (B, T, E) inputs"
        self.rnn = rnn
        self.dropout = nn.Dropout(dropout)
        self.output_dim = rnn.hidden_size * (2 if rnn.bidirectional else 1)

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        T = inputs.size(1)
        # pack_padded_sequence wants the lengths on the CPU (one host sync, as in any packed RNN).
        # A row of length 0 cannot be packed; it never occurs, but reading one padding token is
        # harmless (its states are unspecified) and better than a crash.
        lengths = mask.sum(dim=1).cpu().clamp(min=1)  # (B,)
        if bool((lengths == T).all()):
            # No padding at all: skip the sort and the gathers that packing costs.
            states, _ = self.rnn(inputs)  # (B, T, D)
        else:
            packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
            states, _ = self.rnn(packed)
            states, _ = pad_packed_sequence(states, batch_first=True, total_length=T)  # (B, T, D)
        return self.dropout(states)


def stacked(cell: type[nn.RNNBase], config: "RNNConfig | LSTMConfig", input_dim: int, **kwargs) -> nn.RNNBase:
    """A multi-layer, batch-first ``cell`` module sized by ``config``, with dropout between layers."""
    return cell(
        input_dim,
        config.hidden,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        # PyTorch drops out the outputs of every layer but the last (and warns if there is one layer).
        dropout=config.dropout if config.layers > 1 else 0.0,
        batch_first=True,
        **kwargs,
    )


class RNNBackbone(Backbone):
    name = "rnn"
    Config = RNNConfig
    description = "Elman RNN (tanh), bidirectional and stacked, over packed sequences"

    @classmethod
    def build_encoder(cls, config: RNNConfig, input_dim: int) -> RecurrentEncoder:
        # nn.RNN runs all layers and directions in one fused ATen (or cuDNN) call; a hand-written
        # loop over time steps would be several times slower. tanh is Elman's squashing function.
        rnn = stacked(nn.RNN, config, input_dim, nonlinearity="tanh")
        return RecurrentEncoder(rnn, config.dropout)
