"""The attentional decoder of the recurrent backbones (``rnn``, ``lstm``).

Luong et al. (2015)'s global attention with input feeding, over a stack of recurrent cells:

    h_t   = Cell([y_{t-1} ; h̃_{t-1}], h_{t-1})          the previous output is fed back in
    a_t   = softmax_s(h_t^T W_a m_s)                     "general" score over the source states m_s
    c_t   = Σ_s a_t,s m_s                                 context vector
    h̃_t   = tanh(W_c [c_t ; h_t])                        attentional state, projected to the vocabulary

and the initial state bridged from the encoder's final states (Bahdanau et al. 2015 do the
same with the backward encoder's first state): ``h_0 = tanh(W_b [→m_n ; ←m_1])``. Feeding
``h̃_{t-1}`` back makes the decoder aware of what it attended to before, which Luong et al.
found worth about one BLEU point; it also makes the recurrence step-by-step, so training
runs the same :meth:`AttentionalDecoder.step` as generation (docs/theory.md, "Attention
over the source"). Shapes: ``N`` rows, ``T`` source tokens, ``M`` memory width, ``H``
decoder width, ``L`` layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from nlpplat import Decoder
from nlpplat.dropout import Dropout

if TYPE_CHECKING:
    from nlpplat_rnn.lstm import LSTMConfig
    from nlpplat_rnn.rnn import RNNConfig


class AttentionalDecoder(Decoder):
    """``forward(inputs (N, S, H), memory (N, T, M), memory_mask (N, T)) -> states (N, S, H)``.

    ``H = hidden × directions`` of the backbone config: the decoder is as wide as the
    encoder's states, and ``input_dim = output_dim = H`` so that embeddings can be tied. The
    cache holds the cells' states ``h`` (and ``c`` for an LSTM), each (L, N, H), the fed-back
    attentional state ``feed`` (N, H) and the projected source ``keys`` = W_a m (N, T, H).
    """

    def __init__(
        self, cell: type[nn.RNNCellBase], config: RNNConfig | LSTMConfig, memory_dim: int, **kwargs: Any
    ):
        super().__init__()
        width = config.hidden * (2 if config.bidirectional else 1)
        self.input_dim = self.output_dim = width
        self.layers = config.layers
        self.bidirectional = config.bidirectional  # how the encoder's final states lie in memory
        self.is_lstm = cell is nn.LSTMCell
        self.cells = nn.ModuleList(
            cell(2 * width if depth == 0 else width, width, **kwargs) for depth in range(config.layers)
        )
        states = 2 if self.is_lstm else 1  # an LSTM also starts its cells, not just its outputs
        self.bridge = nn.Linear(memory_dim, states * config.layers * width)
        self.score = nn.Linear(memory_dim, width, bias=False)  # W_a
        self.combine = nn.Linear(memory_dim + width, width)  # W_c
        self.dropout = Dropout(config.dropout)

    def final_states(self, memory: Tensor, memory_mask: Tensor) -> Tensor:
        """(N, M): the forward direction's state at the last real token, beside the backward
        direction's at the first (its own last), when the encoder is bidirectional."""
        last = (memory_mask.sum(dim=1) - 1).clamp(min=0)  # (N,)
        rows = torch.arange(memory.size(0), device=memory.device)
        forward = memory[rows, last]  # (N, M)
        if not self.bidirectional:
            return forward
        half = memory.size(2) // 2
        return torch.cat([forward[:, :half], memory[:, 0, half:]], dim=1)

    def start(self, memory: Tensor, memory_mask: Tensor) -> dict[str, Any]:
        N, width = memory.size(0), self.output_dim
        bridged = torch.tanh(self.bridge(self.final_states(memory, memory_mask)))  # (N, states * L * H)
        bridged = bridged.view(N, -1, self.layers, width).permute(1, 2, 0, 3)  # (states, L, N, H)
        allowed = memory_mask.clone()
        allowed[:, 0] = True  # an all-padding row still gets a distribution (and no NaN)
        cache = {
            "h": bridged[0].contiguous(),
            "feed": memory.new_zeros(N, width),
            "keys": self.score(memory),
            "allowed": allowed,
        }
        if self.is_lstm:
            cache["c"] = bridged[1].contiguous()
        return cache

    def step(
        self, inputs: Tensor, memory: Tensor, memory_mask: Tensor, cache: dict[str, Any]
    ) -> tuple[Tensor, dict[str, Any]]:
        x = torch.cat([inputs, cache["feed"]], dim=1)  # (N, 2H): input feeding
        hidden, cells = [], []
        for depth, cell in enumerate(self.cells):
            if depth > 0:
                x = self.dropout(x)
            if self.is_lstm:
                h, c = cell(x, (cache["h"][depth], cache["c"][depth]))
                cells.append(c)
            else:
                h = cell(x, cache["h"][depth])
            hidden.append(h)
            x = h
        scores = torch.bmm(cache["keys"], x.unsqueeze(2)).squeeze(2)  # (N, T): h_t^T W_a m_s
        weights = scores.masked_fill(~cache["allowed"], float("-inf")).softmax(dim=1)
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)  # (N, M)
        attended = self.dropout(torch.tanh(self.combine(torch.cat([context, x], dim=1))))  # (N, H)
        new = {**cache, "h": torch.stack(hidden), "feed": attended}
        if self.is_lstm:
            new["c"] = torch.stack(cells)
        return attended, new

    def forward(self, inputs: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        cache = self.start(memory, memory_mask)
        states = []
        # unbind, not inputs[:, position]: each indexing would send back a full-size (N, S, H)
        # gradient, mostly zeros, to be summed S times; unbind's backward stacks the S slices once.
        for position_inputs in inputs.unbind(1):  # input feeding: each position needs the one before
            state, cache = self.step(position_inputs, memory, memory_mask, cache)
            states.append(state)
        return torch.stack(states, dim=1)

    def reorder_cache(self, cache: dict[str, Any], indices: Tensor) -> dict[str, Any]:
        reordered = {
            "h": cache["h"].index_select(1, indices),
            "feed": cache["feed"].index_select(0, indices),
            "keys": cache["keys"].index_select(0, indices),
            "allowed": cache["allowed"].index_select(0, indices),
        }
        if self.is_lstm:
            reordered["c"] = cache["c"].index_select(1, indices)
        return reordered
