"""The hooks a plugin can implement.

A plugin is a module (found through the ``nlpplat`` entry-point group) with functions
decorated by :data:`hookimpl` and named after the hooks below. Every hook is
collect-all: pluggy calls each implementation and the host receives a list of
their return values, which it validates in one place (:mod:`nlpplat.registry`).

Example plugin module::

    from nlpplat import hookimpl

    @hookimpl
    def register_backbones():
        return [MyBackbone]

and in its ``pyproject.toml``::

    [project.entry-points.nlpplat]
    my_backbone = "my_package.plugin"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import pluggy

if TYPE_CHECKING:
    from nlpplat.contracts import Backbone, DatasetSpec, Task

PROJECT = "nlpplat"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_backbones() -> list[type[Backbone]]:
    """Return backbone classes to make available by their ``name``.

    :returns: a list of :class:`~nlpplat.contracts.Backbone` subclasses, each with a
        unique ``name`` and a ``Config`` dataclass.

    A name registered by two plugins is an error that names both; neither is used.

    Example::

        @hookimpl
        def register_backbones():
            return [GRUBackbone]
    """


@hookspec
def register_tasks() -> list[type[Task]]:
    """Return task classes to make available by their ``name``.

    :returns: a list of :class:`~nlpplat.contracts.Task` subclasses, each with a
        unique ``name``, a ``Config`` dataclass and a ``primary_metric``.

    Example::

        @hookimpl
        def register_tasks():
            return [NERTask]
    """


@hookspec
def register_datasets() -> list[DatasetSpec]:
    """Return dataset specifications.

    :returns: a list of :class:`~nlpplat.contracts.DatasetSpec`; the pair
        ``(spec.task, spec.name)`` must be unique. The task need not come from the
        same plugin.

    Example::

        @hookimpl
        def register_datasets():
            return [DatasetSpec(name="wnut17", task="ner",
                                files={"train": "train.conll", "dev": "dev.conll",
                                       "test": "test.conll"},
                                urls={...}, sha256={...}, license="CC BY 4.0")]
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``nlpplat`` command line.

    :param cli: the root :class:`click.Group`; call ``cli.add_command(...)`` or use
        ``@cli.command()`` on it. Called once, when the CLI starts, never at import.
    :returns: nothing; a return value is ignored.

    Example::

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def hello():
                click.echo("hello")
    """
