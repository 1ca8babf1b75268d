"""The ``nlpplat`` entry point of this distribution: the ``srl`` task, its datasets and command."""

from __future__ import annotations

import click

from nlpplat import DatasetSpec, Task, hookimpl
from nlpplat_srl.datasets import DATASETS
from nlpplat_srl.task import SRLTask


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [SRLTask]


@hookimpl
def register_datasets() -> list[DatasetSpec]:
    return list(DATASETS)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from nlpplat_srl.commands import srl_pipeline

    cli.add_command(srl_pipeline)
