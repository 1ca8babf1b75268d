"""The output layers of the ``srl`` task: three heads on one encoder.

- ``identify``: a logit per word, "is this word a predicate?", read from the states of an
  identification instance (no predicate marked);
- ``sense``: a score per roleset, read from the marked predicate's state;
- ``argument``: tag scores per word from ``[word state; predicate state]`` (the predicate's
  state is concatenated to every word's, as in Marcheggiani et al., 2017), through one
  hidden layer so that the two can interact, then a linear-chain :class:`CRF`;
- ``arc`` (optional): the auxiliary dependency parser, a biaffine score for every
  (dependent, head) pair of a row (Dozat & Manning, 2017); with ``tree_features`` the
  argument scorer also reads how each word relates to the predicate in the parser's tree
  (:meth:`SRLHead.tree_relations`), so the parser is used at prediction time too.

Shapes: ``B`` rows, ``T`` words, ``D`` state width, ``N`` rows with a marked predicate,
``R`` rolesets, ``K`` argument tags, ``A`` the width of the arc scorer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nlpplat.dropout import Dropout
from nlpplat_srl.crf import CRF

# How a word w may stand to the predicate p in a dependency tree, the relations that hold
# most argument heads: on UP English-EWT dev 72 % of them are p's dependents, 15 % its
# siblings and 10 % its parent (docs/tasks/srl.md). ``tree_relations`` gives the parser's
# probability of each, in this order.
TREE_RELATIONS = ("child", "parent", "sibling", "grandchild", "grandparent", "aunt")


class SRLHead(nn.Module):
    def __init__(
        self,
        dim: int,
        num_tags: int,
        num_rolesets: int,
        hidden: int = 300,
        dropout: float = 0.3,
        arc_width: int = 0,
        tree_features: bool = False,
        num_labels: int = 0,
    ):
        super().__init__()
        self.dropout = Dropout(dropout)
        self.identify = nn.Linear(dim, 1)
        self.sense = nn.Linear(dim, max(num_rolesets, 1))
        if tree_features and not arc_width:
            raise ValueError("tree features are read from the parser: they need arc_width > 0")
        if num_labels and not arc_width:
            raise ValueError("dependency labels are the parser's: they need arc_width > 0")
        self.tree_features = tree_features
        self.num_labels = num_labels
        # six relation probabilities, and a label distribution for each of the two arcs between
        # word and predicate
        relations = len(TREE_RELATIONS) + 2 * num_labels if tree_features else 0
        self.argument = nn.Sequential(
            nn.Linear(2 * dim + relations, hidden), nn.ReLU(), Dropout(dropout), nn.Linear(hidden, num_tags)
        )
        self.crf = CRF(num_tags)
        self.arc_width = arc_width
        if arc_width:  # a word's state seen as a dependent and as a head, then a biaffine score
            self.arc_dependent = nn.Sequential(nn.Linear(dim, arc_width), nn.ReLU())
            self.arc_head = nn.Sequential(nn.Linear(dim, arc_width), nn.ReLU())
            self.arc_weight = nn.Parameter(torch.zeros(arc_width, arc_width))  # zero: no preference at first
            self.arc_prior = nn.Linear(arc_width, 1, bias=False)  # how likely a word is to head anything
        if num_labels:  # the label of an arc, from its dependent and its head (Dozat & Manning, 2017)
            self.label_dependent = nn.Sequential(nn.Linear(dim, arc_width), nn.ReLU())
            self.label_head = nn.Sequential(nn.Linear(dim, arc_width), nn.ReLU())
            self.label_out = nn.Linear(3 * arc_width, num_labels)  # reads [d; h; d * h]

    def predicate_logits(self, states: Tensor) -> Tensor:
        """(B, T, D) states of identification instances -> (B, T) predicate logits."""
        return self.identify(self.dropout(states)).squeeze(-1)

    def predicate_states(self, states: Tensor, positions: Tensor) -> Tensor:
        """(N, T, D) states, (N,) predicate positions -> (N, D) the predicates' states."""
        return states[torch.arange(states.shape[0], device=states.device), positions]

    def sense_scores(self, states: Tensor, positions: Tensor) -> Tensor:
        """(N, T, D) states, (N,) positions -> (N, R) roleset scores (before candidate masking)."""
        return self.sense(self.dropout(self.predicate_states(states, positions)))

    def emissions(self, states: Tensor, positions: Tensor, mask: Tensor) -> Tensor:
        """(N, T, D) states, (N,) positions, (N, T) real words -> (N, T, K) argument tag scores."""
        predicate = self.predicate_states(states, positions).unsqueeze(1).expand_as(states)  # (N, T, D)
        parts = [self.dropout(torch.cat([states, predicate], dim=-1))]  # (N, T, 2D)
        if self.tree_features:
            parts.append(self.tree_relations(states, positions, mask))
        return self.argument(torch.cat(parts, dim=-1))

    def label_logits(self, states: Tensor, heads: Tensor) -> Tensor:
        """(B, T, D) states, (B, T) a head for every word -> (B, T, L) scores of the label of
        the arc from ``heads[b, i]`` to word ``i`` (``heads[b, i] == i``: the root's arc)."""
        states = self.dropout(states)
        dependents = self.label_dependent(states)  # (B, T, A)
        heads = self.label_head(states).gather(1, heads.unsqueeze(-1).expand_as(dependents))  # (B, T, A)
        return self._label_scores(dependents, heads)

    def _label_scores(self, dependents: Tensor, heads: Tensor) -> Tensor:
        """(..., A) dependent and head vectors of arcs -> (..., L) label scores."""
        return self.label_out(torch.cat([dependents, heads, dependents * heads], dim=-1))

    def tree_relations(self, states: Tensor, positions: Tensor, mask: Tensor) -> Tensor:
        """(N, T, D) states, (N,) predicate positions, (N, T) real words -> (N, T, 6 + 2L) features.

        With ``H[i, j]`` the parser's probability that word ``j`` heads word ``i`` (a softmax of
        :meth:`arc_scores` over the real words; the diagonal, which stands for the root, set to
        0) and ``p`` the predicate, word ``w`` gets, as in :data:`TREE_RELATIONS`:
        child ``H[w, p]``, parent ``H[p, w]``, sibling ``sum_j H[w, j] H[p, j]``, grandchild
        ``sum_j H[w, j] H[j, p]``, grandparent ``sum_j H[p, j] H[j, w]`` and aunt
        ``sum_j H[w, j] (H H)[p, j]`` (w's head is p's grandparent). Each treats the heads of
        different words as independent, which a tree is not; they are soft features, not a
        parse, and gradients reach the parser through them. With dependency labels (``L > 0``),
        two label distributions follow, each times its arc's probability: of the arc ``p -> w``
        (``child`` times the label probabilities, so an ``nsubj`` child stands out from an
        ``obj`` one) and of the arc ``w -> p`` (``parent`` times them).
        """
        length = states.shape[1]
        scores = self.arc_scores(states).float().masked_fill(~mask.unsqueeze(1), -torch.inf)  # (N, T, T)
        heads = scores.softmax(dim=-1) * (1 - torch.eye(scores.shape[-1], device=scores.device))
        heads = heads.masked_fill(~mask.unsqueeze(-1), 0.0)  # padding rows hold nothing
        rows = torch.arange(len(positions), device=states.device)
        of_predicate = heads[rows, positions]  # (N, T): the predicate's head
        to_predicate = heads[rows, :, positions]  # (N, T): who has the predicate as head
        grand = of_predicate.unsqueeze(1) @ heads  # (N, 1, T): the predicate's grandparent
        relations = [
            to_predicate,
            of_predicate,
            (heads @ of_predicate.unsqueeze(-1)).squeeze(-1),
            (heads @ to_predicate.unsqueeze(-1)).squeeze(-1),
            grand.squeeze(1),
            (heads @ grand.transpose(1, 2)).squeeze(-1),
        ]
        features = torch.stack(relations, dim=-1)  # (N, T, 6)
        if not self.num_labels:
            return features.to(states.dtype)
        # The label of p -> w, weighted by the probability of that arc, and of w -> p likewise.
        predicate_as_head = positions.unsqueeze(1).expand(-1, length)  # (N, T)
        child = self.label_logits(states, predicate_as_head).float().softmax(dim=-1)  # (N, T, L)
        parent = self._labels_of_predicate(states, positions).float().softmax(dim=-1)  # (N, T, L)
        labelled = [features, child * to_predicate.unsqueeze(-1), parent * of_predicate.unsqueeze(-1)]
        return torch.cat(labelled, dim=-1).to(states.dtype)  # (N, T, 6 + 2L)

    def _labels_of_predicate(self, states: Tensor, positions: Tensor) -> Tensor:
        """(N, T, D) states, (N,) positions -> (N, T, L): ``[n, w]`` scores the label of the arc
        from word ``w`` to the predicate (:meth:`label_logits` with the roles swapped)."""
        states = self.dropout(states)
        rows = torch.arange(len(positions), device=states.device)
        dependent = self.label_dependent(states[rows, positions]).unsqueeze(1)  # (N, 1, A)
        heads = self.label_head(states)  # (N, T, A)
        return self._label_scores(dependent.expand_as(heads), heads)

    def arc_scores(self, states: Tensor) -> Tensor:
        """(B, T, D) states of identification instances -> (B, T, T) arc scores.

        ``[b, i, j]`` scores word ``j`` as the syntactic head of word ``i``; ``j == i`` stands for
        the root (a word is never its own head), so that every word has a row to choose from:
        ``d_i^T W h_j + w^T h_j`` with ``d = MLP_dep(state)``, ``h = MLP_head(state)``.
        """
        states = self.dropout(states)
        dependents, heads = self.arc_dependent(states), self.arc_head(states)  # (B, T, A) each
        return dependents @ self.arc_weight @ heads.transpose(1, 2) + self.arc_prior(heads).transpose(1, 2)
