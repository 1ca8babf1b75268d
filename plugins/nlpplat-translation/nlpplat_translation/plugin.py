"""The ``nlpplat`` entry point of this distribution: the ``translation`` task, its datasets and ``export``."""

from __future__ import annotations

import click

from nlpplat import DatasetSpec, Task, hookimpl
from nlpplat_translation.datasets import DATASETS
from nlpplat_translation.task import TranslationTask


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [TranslationTask]


@hookimpl
def register_datasets() -> list[DatasetSpec]:
    return list(DATASETS)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from nlpplat_translation.commands import export

    cli.add_command(export)
