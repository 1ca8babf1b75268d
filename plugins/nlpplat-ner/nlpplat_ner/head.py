"""The output layers of the ``ner`` task: dropout, a linear map to tag scores, maybe a CRF."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlpplat.dropout import Dropout
from nlpplat_ner.crf import CRF
from nlpplat_ner.schemes import bioes_constraints


class TaggerHead(nn.Module):
    """Encoder states (B, T, D) -> tag scores (B, T, K), and the loss and decoding on them.

    ``crf=True`` adds a :class:`CRF` constrained to valid BIOES sequences over
    ``labels``; otherwise each token is classified on its own (softmax).
    """

    def __init__(self, input_dim: int, labels: list[str], crf: bool = True, dropout: float = 0.0):
        super().__init__()
        self.dropout = Dropout(dropout)
        self.scores = nn.Linear(input_dim, len(labels))
        self.crf: CRF | None = None
        if crf:
            allowed, start, end = (torch.tensor(table) for table in bioes_constraints(labels))
            self.crf = CRF(len(labels), allowed, start, end)

    def forward(self, states: Tensor) -> Tensor:
        """(B, T, D) -> emissions (B, T, K)."""
        return self.scores(self.dropout(states))

    def loss(self, states: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean loss per real token: CRF negative log-likelihood, or cross-entropy.

        Both heads average over tokens rather than sentences, so their losses are on the
        same scale (nats per token) and one learning rate suits both.
        """
        emissions = self(states)
        if self.crf is None:
            return F.cross_entropy(emissions[mask].float(), tags[mask])
        return -self.crf.log_likelihood(emissions, tags, mask).sum() / mask.sum()

    def predict(self, states: Tensor, mask: Tensor) -> list[list[int]]:
        """Tag ids per sentence, of its real length: Viterbi path or per-token argmax."""
        emissions = self(states)
        if self.crf is not None:
            return self.crf.viterbi(emissions, mask)
        best = emissions.argmax(dim=2)
        return [row[:length].tolist() for row, length in zip(best, mask.sum(dim=1).tolist(), strict=True)]
