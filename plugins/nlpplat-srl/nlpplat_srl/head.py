"""The output layers of the ``srl`` task: three heads on one encoder.

- ``identify``: a logit per word, "is this word a predicate?", read from the states of an
  identification instance (no predicate marked);
- ``sense``: a score per roleset, read from the marked predicate's state;
- ``argument``: tag scores per word from ``[word state; predicate state]`` (the predicate's
  state is concatenated to every word's, as in Marcheggiani et al., 2017), through one
  hidden layer so that the two can interact, then a linear-chain :class:`CRF`;
- ``arc`` (optional, training only): the auxiliary dependency parser, a biaffine score for
  every (dependent, head) pair of an identification instance (Dozat & Manning, 2017).

Shapes: ``B`` rows, ``T`` words, ``D`` state width, ``N`` rows with a marked predicate,
``R`` rolesets, ``K`` argument tags, ``A`` the width of the arc scorer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nlpplat.dropout import Dropout
from nlpplat_srl.crf import CRF


class SRLHead(nn.Module):
    def __init__(
        self,
        dim: int,
        num_tags: int,
        num_rolesets: int,
        hidden: int = 300,
        dropout: float = 0.3,
        arc_width: int = 0,
    ):
        super().__init__()
        self.dropout = Dropout(dropout)
        self.identify = nn.Linear(dim, 1)
        self.sense = nn.Linear(dim, max(num_rolesets, 1))
        self.argument = nn.Sequential(
            nn.Linear(2 * dim, hidden), nn.ReLU(), Dropout(dropout), nn.Linear(hidden, num_tags)
        )
        self.crf = CRF(num_tags)
        self.arc_width = arc_width
        if arc_width:  # a word's state seen as a dependent and as a head, then a biaffine score
            self.arc_dependent = nn.Sequential(nn.Linear(dim, arc_width), nn.ReLU())
            self.arc_head = nn.Sequential(nn.Linear(dim, arc_width), nn.ReLU())
            self.arc_weight = nn.Parameter(torch.zeros(arc_width, arc_width))  # zero: no preference at first
            self.arc_prior = nn.Linear(arc_width, 1, bias=False)  # how likely a word is to head anything

    def predicate_logits(self, states: Tensor) -> Tensor:
        """(B, T, D) states of identification instances -> (B, T) predicate logits."""
        return self.identify(self.dropout(states)).squeeze(-1)

    def predicate_states(self, states: Tensor, positions: Tensor) -> Tensor:
        """(N, T, D) states, (N,) predicate positions -> (N, D) the predicates' states."""
        return states[torch.arange(states.shape[0], device=states.device), positions]

    def sense_scores(self, states: Tensor, positions: Tensor) -> Tensor:
        """(N, T, D) states, (N,) positions -> (N, R) roleset scores (before candidate masking)."""
        return self.sense(self.dropout(self.predicate_states(states, positions)))

    def emissions(self, states: Tensor, positions: Tensor) -> Tensor:
        """(N, T, D) states, (N,) positions -> (N, T, K) argument tag scores."""
        predicate = self.predicate_states(states, positions).unsqueeze(1).expand_as(states)  # (N, T, D)
        return self.argument(self.dropout(torch.cat([states, predicate], dim=-1)))

    def arc_scores(self, states: Tensor) -> Tensor:
        """(B, T, D) states of identification instances -> (B, T, T) arc scores.

        ``[b, i, j]`` scores word ``j`` as the syntactic head of word ``i``; ``j == i`` stands for
        the root (a word is never its own head), so that every word has a row to choose from:
        ``d_i^T W h_j + w^T h_j`` with ``d = MLP_dep(state)``, ``h = MLP_head(state)``.
        """
        states = self.dropout(states)
        dependents, heads = self.arc_dependent(states), self.arc_head(states)  # (B, T, A) each
        return dependents @ self.arc_weight @ heads.transpose(1, 2) + self.arc_prior(heads).transpose(1, 2)
