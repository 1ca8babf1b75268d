"""Running a model over examples: predictions, metrics and their speed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nlpplat.batching import evaluation_batches
from nlpplat.contracts import Task
from nlpplat.model import Collator, TaskModel


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def predict(
    model: TaskModel,
    task: Task,
    collate: Collator,
    examples: Sequence[Any],
    batch_size: int = 256,
    precision: str = "fp32",
) -> list[Any]:
    """Predictions for ``examples``, in their order (batches are sorted by length inside).

    Each batch is decoded by ``task.decode``, then all of them by ``task.postprocess``.
    """
    was_training = model.training
    model.eval()
    device = model_device(model)
    predictions: list[Any] = [None] * len(examples)
    try:
        for indices in evaluation_batches(collate.lengths(examples), batch_size):
            batch = collate([examples[index] for index in indices]).to(device)
            with autocast(device, precision):
                states = model(batch)
            for index, prediction in zip(
                indices, task.decode(model.head, states.float(), batch), strict=True
            ):
                predictions[index] = prediction
    finally:
        model.train(was_training)
    return task.postprocess(predictions, examples)


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    predictions: list[Any]
    seconds: float

    @property
    def sentences_per_second(self) -> float:
        return len(self.predictions) / self.seconds if self.seconds else 0.0


def evaluate(
    model: TaskModel,
    task: Task,
    collate: Collator,
    examples: Sequence[Any],
    batch_size: int = 256,
    precision: str = "fp32",
) -> Evaluation:
    start = time.perf_counter()
    predictions = predict(model, task, collate, examples, batch_size, precision)
    seconds = time.perf_counter() - start
    return Evaluation(task.metrics(predictions, examples), predictions, seconds)


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast when asked for (CPU and CUDA), else a disabled context."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
