"""Training steps with freed memory kept in the process against glibc's default.

``nlpplat.memory.keep_freed_memory`` (called by every training and evaluation process) stops
glibc from handing large freed blocks back to the kernel, so a step's big tensors (logits,
their gradients, activations) land on pages the previous step already touched instead of
faulting in new ones. This script shows what that buys on the real models: for each task
and backbone it builds the model exactly as ``nlpplat run`` does and times full training
steps (``Trainer._step``: collate, forward, loss, backward, clipping, AdamW) on the epoch's
first batches, in four phases on the same batches: glibc's default, kept, default, kept.
Before a default phase the heap's free pages go back to the kernel (``malloc_trim``) and
glibc's thresholds are restored; every phase starts with two untimed steps, so that glibc's
own adjustment of its thresholds has settled. Reported: the median seconds per step of each
mode and their ratio.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/memory.py
    python benchmarks/memory.py --run ner:lstm --run translation:transformer --steps 6
"""

from __future__ import annotations

from collections.abc import Sequence

from training_steps import compare_modes

from nlpplat.memory import keep_freed_memory, return_freed_memory
from nlpplat.training import Trainer

DEFAULT_RUNS = ("ner:lstm", "ner:transformer", "srl:lstm", "translation:transformer", "translation:lstm")


def switch(trainer: Trainer, mode: str) -> None:
    """glibc's thresholds for ``default`` (the heap's free pages handed back first), ours for ``kept``."""
    if mode == "default":
        return_freed_memory()
    else:
        keep_freed_memory()  # the last phase's mode, so the process ends as every run does


def main(argv: Sequence[str] | None = None) -> None:
    compare_modes(
        __doc__.split("\n\n")[0],
        "freed memory kept against glibc's default",
        ("default", "kept"),
        switch,
        DEFAULT_RUNS,
        argv,
    )


if __name__ == "__main__":
    main()
