"""Training steps in bf16 autocast against fp32, on the real models.

``--set train.precision=bf16`` runs each training step's forward pass, head and loss
under ``torch.autocast(dtype=torch.bfloat16)``: matrix products take bf16 inputs and
accumulate in fp32, while the weights, the optimizer and the loss itself stay fp32. Where oneDNN has bf16
kernels (AVX512 or AVX-NE-CONVERT; ``nlpplat.provenance.fast_bf16``) a bf16 product can
reach several times fp32's peak; how much of that a whole step keeps depends on the model.
This script measures it: for each task and backbone it builds the model exactly as ``nlpplat run``
does and times full training steps (``Trainer._step``: collate, forward, loss, backward,
clipping, AdamW) on the epoch's first batches, in four phases on the same batches: fp32,
bf16, fp32, bf16, each after two untimed steps. Reported: the median seconds per step of
each precision and their ratio. On a CPU without bf16 kernels it says so and stops, as
``nlpplat run`` refuses bf16 there.

    NLPPLAT_DATA_DIR=../shared/data python benchmarks/precision.py
    python benchmarks/precision.py --run translation:transformer --run srl:lstm --steps 6
"""

from __future__ import annotations

from collections.abc import Sequence

from training_steps import compare_modes

from nlpplat.provenance import fast_bf16
from nlpplat.training import Trainer

DEFAULT_RUNS = ("translation:transformer", "translation:lstm", "srl:lstm", "dialogue:transformer", "ner:lstm")


def switch(trainer: Trainer, precision: str) -> None:
    trainer.config.train.precision = precision  # _step reads it on every call


def main(argv: Sequence[str] | None = None) -> None:
    if not fast_bf16():
        raise SystemExit(
            "oneDNN has no bf16 kernels for this CPU (it needs AVX512 or AVX-NE-CONVERT): nothing to compare"
        )
    compare_modes(
        __doc__.split("\n\n")[0], "bf16 autocast against fp32", ("fp32", "bf16"), switch, DEFAULT_RUNS, argv
    )


if __name__ == "__main__":
    main()
