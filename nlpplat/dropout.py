"""Dropout whose masks are cheap to draw on a CPU; every backbone and head uses it.

Dropout (Srivastava et al., 2014) zeroes each element with probability ``p`` in training
and scales the survivors by ``1 / (1 - p)``, so that the expected output is the input and
evaluation needs no rescaling. :class:`Dropout` computes exactly that; only the way the
random mask is drawn differs from ``nn.Dropout``.

Why: on a CPU, PyTorch draws a dropout mask with ``bernoulli_``, one call of the random
generator and one float comparison per element. A ``torch.profiler`` trace of a training
step puts those draws at 11-12 % of the step for the translation Transformer and the SRL
BiLSTM on our 2-core machine, more than any operation but the matrix products and the
recurrences. Here one 64-bit random integer gives four 16-bit draws: a draw ``u`` is uniform
over the 65,536 integers of ``int16``, and the element is kept when ``u`` is at least
``round(p * 65536) - 32768``. The drop probability is therefore ``round(p * 65536) / 65536``,
within 8e-6 of ``p``. ``python benchmarks/dropout.py`` measures what it buys on the real
models.

On CUDA, ``F.dropout`` is already one fused kernel with a counter-based generator, so it is
used as it is. Both paths draw from torch's default generator of the tensor's device, so
``torch.manual_seed`` makes a run repeatable either way.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_LEVELS = 1 << 16  # values of a 16-bit draw
_INT64 = torch.iinfo(torch.int64)


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, like: Tensor) -> Tensor:
    """A mask of ``shape`` with the dtype and device of ``like``: 0 with probability ``p``
    (to 1/65536), else ``1 / (1 - p)``. Multiplying by it is inverted dropout."""
    count = math.prod(shape)
    words = torch.randint(_INT64.min, _INT64.max, ((count + 3) // 4,), dtype=torch.int64, device=like.device)
    draws = words.view(torch.int16)[:count].view(shape)  # four uniform 16-bit draws per word
    keep = draws >= round(p * _LEVELS) - _LEVELS // 2  # never true for p = 1
    return keep.to(like.dtype).mul_(1.0 / (1.0 - p) if p < 1 else 0.0)


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout of ``x`` (any shape) with drop probability ``p`` in [0, 1]."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], not {p!r}")
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    return x * keep_mask(x.shape, p, x)


class Dropout(nn.Module):
    """``nn.Dropout`` with cheaper masks on CPU: ``x (any shape) -> x * mask`` in training, ``x`` in eval."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], not {p!r}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
