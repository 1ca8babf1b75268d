"""The long short-term memory network (backbone ``lstm``).

An LSTM (Hochreiter & Schmidhuber, 1997; with the forget gate of Gers et al., 2000) carries a
cell vector c_t beside the hidden vector h_t; gates decide what to forget, what to write and
what to show:

    i_t = σ(W_ii x_t + W_hi h_{t-1} + b_i)        input gate
    f_t = σ(W_if x_t + W_hf h_{t-1} + b_f)        forget gate
    g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)     candidate cell
    o_t = σ(W_io x_t + W_ho h_{t-1} + b_o)        output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

(docs/theory.md, "LSTM"). The encoder is the recurrent encoder of :mod:`nlpplat_rnn.rnn`
around ``nn.LSTM``.
"""

from dataclasses import dataclass

import torch
from torch import nn

from nlpplat import Backbone
from nlpplat_rnn.decoder import AttentionalDecoder
from nlpplat_rnn.rnn import RecurrentEncoder


@dataclass
class LSTMConfig:
    # A BiLSTM tagger in the style of Lample et al. (2016) and Ma & Hovy (2016), sized for a CPU:
    # 2 x 200 units per layer is what Ma & Hovy use (Lample et al. use 2 x 100 and one layer);
    # Reimers & Gurevych (2017) found two stacked BiLSTM layers a reliable choice for NER.
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
    # The forget gate's initial bias. 1 keeps the cell open at the start of training, so gradients
    # reach far-away tokens before the gates have learnt anything (Gers et al., 2000; Jozefowicz et
    # al., 2015). PyTorch's default would be about 0.
    forget_bias: float = 1.0


class LSTMBackbone(Backbone):
    name = "lstm"
    Config = LSTMConfig
    description = "LSTM, bidirectional and stacked; Luong-attention decoder"

    @classmethod
    def build_encoder(cls, config: LSTMConfig, input_dim: int) -> RecurrentEncoder:
        encoder = RecurrentEncoder(nn.LSTM, config, input_dim)
        for module in encoder.modules():
            if isinstance(module, nn.LSTM):
                init_forget_bias(module, config.forget_bias)
        return encoder

    @classmethod
    def build_decoder(cls, config: LSTMConfig, memory_dim: int) -> AttentionalDecoder:
        decoder = AttentionalDecoder(nn.LSTMCell, config, memory_dim)
        for cell in decoder.cells:
            init_forget_bias(cell, config.forget_bias)
        return decoder


@torch.no_grad()
def init_forget_bias(lstm: nn.LSTM | nn.LSTMCell, value: float) -> None:
    """Set the forget gate's total bias to ``value`` in every layer and direction.

    PyTorch keeps two biases per gate (b_ih + b_hh) and stacks the gates as (i, f, g, o), so the
    forget gate is the second quarter of each bias vector.
    """
    H = lstm.hidden_size
    for name, parameter in lstm.named_parameters():
        if name.startswith("bias_ih"):
            parameter[H : 2 * H] = value
        elif name.startswith("bias_hh"):
            parameter[H : 2 * H] = 0.0
