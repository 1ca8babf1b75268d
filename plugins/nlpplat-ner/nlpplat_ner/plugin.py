"""The ``nlpplat`` entry point of this distribution: the ``ner`` task and its datasets."""

from __future__ import annotations

from nlpplat import DatasetSpec, Task, hookimpl
from nlpplat_ner.datasets import DATASETS
from nlpplat_ner.task import NERTask


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [NERTask]


@hookimpl
def register_datasets() -> list[DatasetSpec]:
    return list(DATASETS)
