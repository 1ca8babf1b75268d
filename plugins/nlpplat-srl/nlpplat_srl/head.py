"""The output layers of the ``srl`` task: three heads on one encoder.

- ``identify``: a logit per word, "is this word a predicate?", read from the states of an
  identification instance (no predicate marked);
- ``sense``: a score per roleset, read from the marked predicate's state;
- ``argument``: tag scores per word from ``[word state; predicate state]`` (the predicate's
  state is concatenated to every word's, as in Marcheggiani et al., 2017), and with
  ``prior_width`` the predicate's role prior (:mod:`nlpplat_srl.role_priors`), through one
  hidden layer so that they can interact, then a linear-chain :class:`CRF`;
- ``parse`` (optional): the auxiliary dependency parser, a biaffine score for every
  (dependent, head) pair of a row and a score for each label of an arc (Dozat & Manning,
  2017), computed once per batch as a :class:`Parse`; with ``tree_features`` the argument
  scorer also reads how each word relates to the predicate in the parser's tree
  (:meth:`SRLHead.tree_relations`), so the parser is used at prediction time too.

Shapes: ``B`` rows, ``T`` words, ``D`` state width, ``N`` rows with a marked predicate,
``R`` rolesets, ``K`` argument tags, ``A`` the width of the arc scorer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nlpplat.dropout import Dropout
from nlpplat_srl.crf import BLOCKED, CRF

# How a word w may stand to the predicate p in a dependency tree, the relations that hold
# most argument heads: on UP English-EWT dev 72 % of them are p's dependents, 15 % its
# siblings and 10 % its parent (docs/tasks/srl.md). ``tree_relations`` gives the parser's
# probability of each, in this order.
TREE_RELATIONS = ("child", "parent", "sibling", "grandchild", "grandparent", "aunt")


@dataclass(frozen=True)
class Parse:
    """The auxiliary parser's reading of B rows (:meth:`SRLHead.parse`), computed once per batch
    and shared by the parser's loss, the tree features and decoding.

    ``arcs`` (B, T, T): ``[b, i, j]`` scores word ``j`` as the head of word ``i`` (``j == i``: the
    root). ``label_dependents``, ``label_heads`` (B, T, A): each word's vectors as the dependent
    and as the head of a labelled arc; None when the parser does not label.
    """

    arcs: Tensor
    label_dependents: Tensor | None = None
    label_heads: Tensor | None = None

    def __getitem__(self, rows: Tensor) -> Parse:
        """The parse of some rows: ``rows`` indexes the batch dimension, as for a tensor."""
        labels = (self.label_dependents, self.label_heads)
        return Parse(self.arcs[rows], *(None if part is None else part[rows] for part in labels))

    def head_log_probs(self, mask: Tensor) -> Tensor:
        """(B, T) real words -> (B, T, T) ``log P(word j heads word i)``, a distribution over
        the real words ``j`` for every ``i`` (the parser's loss, its features and its tree)."""
        return self.arcs.float().masked_fill(~mask.unsqueeze(1), BLOCKED).log_softmax(dim=-1)


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
        prior_width: int = 0,
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
        self.prior_width = prior_width  # the width of a predicate's role prior, 0 without one
        self.argument = nn.Sequential(
            nn.Linear(2 * dim + relations + prior_width, hidden),
            nn.ReLU(),
            Dropout(dropout),
            nn.Linear(hidden, num_tags),
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

    def emissions(
        self,
        states: Tensor,
        positions: Tensor,
        mask: Tensor,
        parse: Parse | None = None,
        prior: Tensor | None = None,
    ) -> Tensor:
        """(N, T, D) states, (N,) positions, (N, T) real words -> (N, T, K) argument tag scores.

        With ``tree_features`` the scorer reads the parser's tree: ``parse``, the
        :meth:`parse` of these rows, when the caller has it already, else it is computed here.
        With ``prior_width`` it reads ``prior`` (N, prior_width), each predicate's role prior
        (:mod:`nlpplat_srl.role_priors`), at every word.
        """
        predicate = self.predicate_states(states, positions).unsqueeze(1).expand_as(states)  # (N, T, D)
        parts = [self.dropout(torch.cat([states, predicate], dim=-1))]  # (N, T, 2D)
        if self.tree_features:
            parts.append(
                self.tree_relations(parse if parse is not None else self.parse(states), positions, mask)
            )
        if self.prior_width:
            if prior is None:
                raise ValueError("this head reads each predicate's role prior: pass prior (N, prior_width)")
            parts.append(prior.to(states.dtype).unsqueeze(1).expand(-1, states.shape[1], -1))
        return self.argument(torch.cat(parts, dim=-1))

    def parse(self, states: Tensor) -> Parse:
        """(B, T, D) states -> the parser's :class:`Parse` of every row.

        Arc scores ``d_i^T W h_j + w^T h_j`` with ``d = MLP_dep(state)``, ``h = MLP_head(state)``
        (``[b, i, j]`` scores word ``j`` as the head of word ``i``; ``j == i`` stands for the root,
        as a word is never its own head, so every word has a row to choose from), and with
        dependency labels each word's vectors as the dependent and as the head of a labelled
        arc. One dropout mask serves all of them.
        """
        states = self.dropout(states)
        dependents, heads = self.arc_dependent(states), self.arc_head(states)  # (B, T, A) each
        arcs = dependents @ self.arc_weight @ heads.transpose(1, 2) + self.arc_prior(heads).transpose(1, 2)
        if not self.num_labels:
            return Parse(arcs)
        return Parse(arcs, self.label_dependent(states), self.label_head(states))

    def label_logits(self, parse: Parse, heads: Tensor) -> Tensor:
        """A :meth:`parse` of B rows, (B, T) a head for every word -> (B, T, L) scores of the
        label of the arc from ``heads[b, i]`` to word ``i`` (``heads[b, i] == i``: the root's arc)."""
        dependents, candidates = parse.label_dependents, parse.label_heads  # (B, T, A) each
        return self._label_scores(dependents, candidates.gather(1, heads.unsqueeze(-1).expand_as(candidates)))

    def _label_scores(self, dependents: Tensor, heads: Tensor) -> Tensor:
        """(..., A) dependent and head vectors of arcs -> (..., L) label scores."""
        return self.label_out(torch.cat([dependents, heads, dependents * heads], dim=-1))

    def tree_relations(self, parse: Parse, positions: Tensor, mask: Tensor) -> Tensor:
        """A :meth:`parse` of N rows, (N,) predicate positions, (N, T) real words -> (N, T, 6 + 2L)
        features.

        With ``H[i, j]`` the parser's probability that word ``j`` heads word ``i`` (a softmax of
        :attr:`Parse.arcs` over the real words; the diagonal, which stands for the root, set to
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
        length = mask.shape[1]
        heads = parse.head_log_probs(mask).exp() * (1 - torch.eye(length, device=mask.device))  # (N, T, T)
        heads = heads.masked_fill(~mask.unsqueeze(-1), 0.0)  # padding rows hold nothing
        rows = torch.arange(len(positions), device=mask.device)
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
        dtype = parse.arcs.dtype
        if not self.num_labels:
            return features.to(dtype)
        # The label of p -> w, weighted by the probability of that arc, and of w -> p likewise:
        # the same label scorer, with the predicate as head and then as dependent.
        dependents, candidates = parse.label_dependents, parse.label_heads  # (N, T, A) each
        predicate_as_head = candidates[rows, positions].unsqueeze(1).expand_as(dependents)
        predicate_as_dependent = dependents[rows, positions].unsqueeze(1).expand_as(candidates)
        child = self._label_scores(dependents, predicate_as_head).float().softmax(dim=-1)  # (N, T, L)
        parent = self._label_scores(predicate_as_dependent, candidates).float().softmax(dim=-1)  # (N, T, L)
        labelled = [features, child * to_predicate.unsqueeze(-1), parent * of_predicate.unsqueeze(-1)]
        return torch.cat(labelled, dim=-1).to(dtype)  # (N, T, 6 + 2L)
