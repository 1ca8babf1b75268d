"""Treat subnormal floats as zero on the CPU, so that a long run does not slow down.

A float32 below 1.2e-38 is *subnormal*: x86 CPUs compute with it in microcode, tens of
times slower than with a normal number. Training makes many of them. AdamW's moments of a
parameter that gets no gradient decay by ``beta1`` and ``beta2`` at every step: the rows of
a word embedding whose words are absent from the batches, for thousands of steps on end.
After the 33,000 updates of a 45-minute SRL run, 4.75 % of the optimizer's moment entries
were subnormal, and a training step took 1.22 times as long as with them flushed, which is
as long as a freshly built model's step (``python benchmarks/subnormals.py RUN_DIR``): the
run had slowed down over its first few thousand steps.

:func:`flush_subnormals` sets the CPU to flush subnormal results to zero and read subnormal
inputs as zero (``torch.set_flush_denormal``). A value that small is far below anything
the model could resolve, so training learns the same, only without the slowdown.

The setting belongs to a thread, and a new thread copies it from the thread that starts
it. Torch starts its pool of worker threads at its first parallel operation, so the call
must come before any: :class:`nlpplat.training.Trainer` makes it first thing. In a process
that has already run parallel work only the calling thread changes (the function then
still returns True; it cannot see the pool). CUDA is unaffected: GPUs compute with
subnormals at full speed.
"""

from __future__ import annotations

import torch


def flush_subnormals() -> bool:
    """Flush subnormal floats to zero on this thread and the threads it starts; True when the
    CPU supports it (x86 with SSE3, and ARM). Idempotent."""
    return torch.set_flush_denormal(True)
