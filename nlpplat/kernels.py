"""Keep the CPU's compiled matrix-product kernels for every batch shape that comes back.

On a CPU, torch runs bf16 matrix products through oneDNN, which compiles (JIT) a kernel
for each new combination of shapes and keeps it in a primitive cache of 1,024 entries by
default. Compiling can cost many times the product (an order of magnitude for the
backward pass of a dialogue model's projection to 8,000 subwords). A batch's shapes follow
its sentence count and lengths, each product of a step needs a kernel per shape, and an
epoch of DailyDialog has hundreds of batch shapes on each side: the default cache evicts
each kernel before its shape comes back, and every step compiles anew.

:func:`keep_compiled_kernels` raises the cache's capacity so that an epoch's kernels stay,
and from the second epoch on a step only computes. ``python benchmarks/kernel_cache.py``
measures the effect on real training steps. CUDA is unaffected.
"""

from __future__ import annotations

import os

# Enough for the shapes of an epoch of the task with the most (dialogue: both sides vary).
CAPACITY = 16384
VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"


def keep_compiled_kernels(capacity: int = CAPACITY) -> None:
    """Raise oneDNN's primitive cache to ``capacity`` kernels, unless the user set it.

    oneDNN reads the variable when it compiles its first kernel, so this must run before
    the process's first bf16 (or other oneDNN) product; later calls change nothing.
    """
    os.environ.setdefault(VARIABLE, str(capacity))
