"""The ``nlpplat`` entry point of this distribution: the dialogue tasks, their datasets and ``chat``."""

from __future__ import annotations

import click

from nlpplat import DatasetSpec, Task, hookimpl
from nlpplat_dialogue.datasets import DATASETS
from nlpplat_dialogue.task import DialogueActTask, DialogueTask


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [DialogueTask, DialogueActTask]


@hookimpl
def register_datasets() -> list[DatasetSpec]:
    return list(DATASETS)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from nlpplat_dialogue.commands import chat

    cli.add_command(chat)
