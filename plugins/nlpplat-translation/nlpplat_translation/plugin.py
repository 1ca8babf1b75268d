"""The ``nlpplat`` entry point of this distribution: the ``translation`` task and its datasets."""

from __future__ import annotations

from nlpplat import DatasetSpec, Task, hookimpl
from nlpplat_translation.datasets import DATASETS
from nlpplat_translation.task import TranslationTask


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [TranslationTask]


@hookimpl
def register_datasets() -> list[DatasetSpec]:
    return list(DATASETS)
