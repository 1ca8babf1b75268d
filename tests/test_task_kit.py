"""The task, dataset and plugin checks of nlpplat.testing pass a good task and catch bad ones."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from nlpplat import Batch, testing
from nlpplat.io import atomic_writer
from tests import toy_plugin
from tests.toy_plugin import ToyTask, write_toy

GOLD = {"gold": lambda example: example.labels}


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    write_toy(tmp_path)
    return tmp_path / "dev.txt"


def test_a_conforming_task_passes(sample: Path) -> None:
    testing.check_task(ToyTask, sample, **GOLD)


class SummedLoss(ToyTask):
    def loss(self, head: nn.Module, states: Tensor, batch: Batch) -> Tensor:
        logits = head(states)[batch.mask]
        return nn.functional.cross_entropy(logits, batch.targets["labels"][batch.mask], reduction="sum")


class PaddingDecoder(ToyTask):
    """Predicts for every position of the padded batch, not only the example's tokens."""

    def decode(self, head: nn.Module, states: Tensor, batch: Batch) -> list[list[str]]:
        return [[toy_plugin.LABELS[i] for i in row] for row in head(states).argmax(-1).tolist()]

    def metrics(self, predictions, examples):
        return super().metrics(
            [p[: len(e.labels)] for p, e in zip(predictions, examples, strict=True)], examples
        )


class DroppingPostprocess(ToyTask):
    def postprocess(self, predictions, examples):
        return predictions[1:]


class HalfMetric(ToyTask):
    def metrics(self, predictions, examples):
        return {"accuracy": super().metrics(predictions, examples)["accuracy"] / 2}


class PlainOpen(ToyTask):
    def read(self, path: Path):
        with open(path, encoding="utf-8") as handle:  # no .gz, FileNotFoundError for a missing file
            handle.read()
        return super().read(path)


class LossyWriter(ToyTask):
    def write_predictions(self, examples, predictions, path: Path) -> None:
        with atomic_writer(path) as handle:
            for example in examples:
                handle.write(" ".join(f"{token}/low" for token in example.tokens) + "\n")


class SetState(ToyTask):
    def state_dict(self):
        return {"labels": set(self.labels)}


class PaddingTargets(ToyTask):
    """Marks the last column, wherever the padding ends: targets move with the padding."""

    def targets(self, examples, length: int):
        gold = super().targets(examples, length)
        gold["labels"][:, -1] = 1
        return gold


class DetachedLoss(ToyTask):
    def loss(self, head: nn.Module, states: Tensor, batch: Batch) -> Tensor:
        return super().loss(head, states.detach(), batch)


class HalfPrecisionLoss(ToyTask):
    """Reduces the head's scores in their own dtype, which under bf16 autocast is bf16."""

    def loss(self, head: nn.Module, states: Tensor, batch: Batch) -> Tensor:
        logits, gold = head(states)[batch.mask], batch.targets["labels"][batch.mask]
        return (logits.logsumexp(-1) - logits.gather(1, gold.unsqueeze(1)).squeeze(1)).mean()


class ObjectPredictions(ToyTask):
    def predict_text(self, text, predict):
        return [{"tokens": text.split(), "model": object()}]


@pytest.mark.parametrize(
    ("task_cls", "check", "message"),
    [
        (SummedLoss, testing.check_training_step, "does not grow with batch size"),
        (DetachedLoss, testing.check_training_step, "no gradient reaches the encoder"),
        (HalfPrecisionLoss, testing.check_training_step, "under bf16 autocast the loss is"),
        (PaddingDecoder, testing.check_decode, "decoding must ignore padding"),
        (DroppingPostprocess, testing.check_decode, "postprocess returned"),
        (HalfMetric, testing.check_gold_metrics, "expected the best possible, 100.0"),
        (PlainOpen, testing.check_reader, "cannot be read"),
        (LossyWriter, testing.check_prediction_round_trip, "written and read back"),
        (SetState, testing.check_task_state, "not JSON-serialisable"),
        (PaddingTargets, testing.check_collate, "changes at real positions"),
        (ObjectPredictions, testing.check_predict_text, "not JSON-serialisable"),
    ],
)
def test_a_broken_task_is_caught(sample: Path, task_cls, check, message: str) -> None:
    needs_gold = check in (testing.check_gold_metrics, testing.check_prediction_round_trip)
    with pytest.raises(AssertionError, match=message):
        check(task_cls, sample, **(GOLD if needs_gold else {}))


def test_a_missing_file_must_be_a_user_error(sample: Path) -> None:
    class Silent(ToyTask):
        def read(self, path: Path):
            return super().read(path) if path.exists() else []

    with pytest.raises(AssertionError, match="reading a missing file raised nothing"):
        testing.check_reader(Silent, sample)


def test_task_config_checks() -> None:
    class NoMetric(ToyTask):
        primary_metric = ""

    class BadSuffix(ToyTask):
        prediction_suffix = "txt"

    with pytest.raises(AssertionError, match="primary_metric is not set"):
        testing.check_task_config(NoMetric)
    with pytest.raises(AssertionError, match="prediction_suffix should be a file extension"):
        testing.check_task_config(BadSuffix)


# -- datasets ---------------------------------------------------------------------------------
# The toy plugin's specs say no more than its tests need; the kit asks for a licence too.
TOY_REAL, TOY_DEMO = (
    dataclasses.replace(spec, license="CC0 1.0", description="toy sentences")
    for spec in toy_plugin.register_datasets()
)


def test_conforming_datasets_pass(tmp_path: Path) -> None:
    testing.check_dataset(TOY_DEMO, task_cls=ToyTask)  # generated: deterministic, readable
    (tmp_path / "toy-real").mkdir()
    write_toy(tmp_path / "toy-real")
    testing.check_dataset(TOY_REAL, mirror=tmp_path, task_cls=ToyTask)


def test_files_missing_from_the_mirror_are_reported(tmp_path: Path) -> None:
    from nlpplat.errors import MissingDataError

    with pytest.raises(MissingDataError, match=r"missing train\.txt, dev\.txt, test\.txt"):
        testing.check_dataset_files(TOY_REAL, mirror=tmp_path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"urls": {"train": "https://example.org/train.txt"}}, "has no sha256"),
        ({"files": {"train": "../train.txt"}}, "expected a plain file or folder name"),
        ({"files": {"training": "train.txt"}}, "files should map some of train, dev, test"),
        ({"license": ""}, "no license"),
        ({"manual": ""}, "users cannot get the files"),
        ({"task_defaults": {"smoothing": "lots"}}, r"task_defaults do not fit ToyTask\.Config"),
    ],
)
def test_a_broken_dataset_spec_is_caught(changes: dict, message: str) -> None:
    spec = dataclasses.replace(TOY_REAL, **changes)
    with pytest.raises(AssertionError, match=message):
        testing.check_dataset_spec(spec, ToyTask)


def test_a_nondeterministic_generator_is_caught() -> None:
    def shuffled(folder: Path) -> None:
        for name in toy_plugin.TOY_FILES.values():
            (folder / name).write_text(f"Alpha/UP beta/low {random.random()}/low\n")

    spec = dataclasses.replace(TOY_DEMO, generate=shuffled)
    with pytest.raises(AssertionError, match="generating it twice gives different"):
        testing.check_dataset_files(spec)


# -- plugins ----------------------------------------------------------------------------------
def test_check_plugin() -> None:
    registry = testing.check_plugin(
        toy_plugin, backbones=["toy"], tasks=["toy"], datasets=["toy-real", "toy-demo"]
    )
    assert registry.task("toy") is ToyTask
    with pytest.raises(AssertionError, match=r"registers backbones \['toy'\], expected \['gru'\]"):
        testing.check_plugin(toy_plugin, backbones=["gru"], tasks=["toy"], datasets=["toy-real", "toy-demo"])


def test_linear_backbone_conforms() -> None:
    testing.check_backbone(testing.LinearBackbone)


def test_task_checks_leave_the_global_generator_alone(sample: Path) -> None:
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    testing.check_training_step(ToyTask, sample)
    assert torch.equal(torch.rand(2), expected)
