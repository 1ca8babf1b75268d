"""A test-only plugin: a tiny tagging task and a tiny backbone.

It lets the host be tested without any first-party plugin: the task tags each token
``UP`` or ``low`` by its first letter, which a model learns in a few steps.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nlpplat import Backbone, Batch, DataError, DatasetSpec, Encoder, Task, hookimpl
from nlpplat.io import atomic_writer, numbered_lines

LABELS = ["low", "UP"]


@dataclass
class ToyEncoderConfig:
    width: int = 16  # output width


class ToyEncoder(Encoder):
    def __init__(self, config: ToyEncoderConfig, input_dim: int):
        super().__init__()
        self.linear = nn.Linear(input_dim, config.width)
        self.output_dim = config.width

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        return torch.tanh(self.linear(inputs))


class ToyBackbone(Backbone):
    name = "toy"
    Config = ToyEncoderConfig
    description = "a linear layer (tests only)"

    @classmethod
    def build_encoder(cls, config: ToyEncoderConfig, input_dim: int) -> Encoder:
        return ToyEncoder(config, input_dim)


@dataclass
class ToyTaskConfig:
    smoothing: float = 0.0  # label smoothing, only here to have a setting


@dataclass
class ToyExample:
    tokens: list[str]
    labels: list[str]


class ToyTask(Task):
    """Each line: space-separated ``token/label`` pairs."""

    name = "toy"
    Config = ToyTaskConfig
    primary_metric = "accuracy"
    prediction_suffix = ".txt"
    default_datasets = ("toy-real", "toy-demo")
    description = "tag tokens by case (tests only)"

    def read(self, path: Path) -> list[ToyExample]:
        examples = []
        for number, line in numbered_lines(path):
            if not line.strip():
                continue
            pairs = [item.rsplit("/", 1) for item in line.split()]
            if any(len(pair) != 2 or pair[1] not in LABELS for pair in pairs):
                raise DataError(path, number, "expected token/label pairs with labels low or UP")
            examples.append(ToyExample([p[0] for p in pairs], [p[1] for p in pairs]))
        return examples

    def tokens(self, example: ToyExample) -> list[str]:
        return example.tokens

    def fit(self, examples: Sequence[ToyExample]) -> None:
        self.labels = list(LABELS)

    def state_dict(self) -> dict[str, Any]:
        return {"labels": self.labels}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.labels = list(state["labels"])

    def targets(self, examples: Sequence[ToyExample], length: int) -> dict[str, Tensor]:
        gold = torch.zeros(len(examples), length, dtype=torch.long)
        for row, example in enumerate(examples):
            gold[row, : len(example.labels)] = torch.tensor([LABELS.index(x) for x in example.labels])
        return {"labels": gold}

    def build_head(self, input_dim: int) -> nn.Module:
        return nn.Linear(input_dim, len(LABELS))

    def loss(self, head: nn.Module, states: Tensor, batch: Batch) -> Tensor:
        logits = head(states)[batch.mask]
        return nn.functional.cross_entropy(logits, batch.targets["labels"][batch.mask])

    def decode(self, head: nn.Module, states: Tensor, batch: Batch) -> list[list[str]]:
        best = head(states).argmax(-1)
        return [
            [LABELS[i] for i in best[row, :length].tolist()]
            for row, length in enumerate(batch.lengths.tolist())
        ]

    def metrics(self, predictions: Sequence[list[str]], examples: Sequence[ToyExample]) -> dict[str, Any]:
        pairs = [
            (p, g)
            for pred, ex in zip(predictions, examples, strict=True)
            for p, g in zip(pred, ex.labels, strict=True)
        ]
        return {"accuracy": 100.0 * sum(p == g for p, g in pairs) / max(len(pairs), 1)}

    def example_statistics(
        self, predictions: Sequence[list[str]], examples: Sequence[ToyExample]
    ) -> list[list[float]]:
        """Per sentence ``[correct tokens, tokens]``: accuracy is a ratio of their sums."""
        return [
            [sum(p == g for p, g in zip(pred, ex.labels, strict=True)), len(ex.labels)]
            for pred, ex in zip(predictions, examples, strict=True)
        ]

    def metric_from_statistics(self, totals: Sequence[float]) -> float:
        correct, tokens = totals
        return 100.0 * correct / max(tokens, 1)

    def decoding_parameters(self) -> dict[str, Any]:
        return {"decoder": "argmax"}

    def write_predictions(
        self, examples: Sequence[ToyExample], predictions: Sequence[list[str]], path: Path
    ) -> None:
        with atomic_writer(path) as handle:
            for example, labels in zip(examples, predictions, strict=True):
                handle.write(" ".join(f"{t}/{x}" for t, x in zip(example.tokens, labels, strict=True)) + "\n")

    def predict_text(self, text: str, predict: Callable[[list[Any]], list[Any]]) -> list[dict[str, Any]]:
        example = ToyExample(text.split(), ["low"] * len(text.split()))
        return [{"tokens": example.tokens, "labels": predict([example])[0]}]


WORDS = ["Alpha", "beta", "Gamma", "delta", "Echo", "fox", "Golf", "hotel", "India", "juliet"]


def write_toy(folder: Path) -> None:
    rng = random.Random(0)
    for split, count in {"train": 200, "dev": 40, "test": 40}.items():
        lines = []
        for _ in range(count):
            words = rng.choices(WORDS, k=rng.randint(2, 9))
            lines.append(" ".join(f"{w}/{'UP' if w[0].isupper() else 'low'}" for w in words))
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


TOY_FILES = {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"}


@hookimpl
def register_backbones() -> list[type[Backbone]]:
    return [ToyBackbone]


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [ToyTask]


@hookimpl
def register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(name="toy-real", task="toy", files=TOY_FILES, manual="Tests never have it."),
        DatasetSpec(
            name="toy-demo", task="toy", files=TOY_FILES, generate=write_toy, description="generated"
        ),
    ]
