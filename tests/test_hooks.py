"""One test per hook: what a plugin returns reaches the user."""

from __future__ import annotations

import click
from click.testing import CliRunner

from nlpplat import hookimpl
from nlpplat.cli import Context, cli
from nlpplat.plugins import PluginHost
from nlpplat.registry import build_registry


def test_register_backbones(toy_host: PluginHost) -> None:
    assert build_registry(toy_host).backbone("toy").description == "a linear layer (tests only)"


def test_register_tasks(toy_host: PluginHost) -> None:
    assert build_registry(toy_host).task("toy").primary_metric == "accuracy"


def test_register_datasets(toy_host: PluginHost) -> None:
    registry = build_registry(toy_host)
    assert [spec.name for spec in registry.datasets_for("toy")] == ["toy-demo", "toy-real"]


class HelloPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def hello() -> None:
            """Say hello."""
            click.echo("hello from a plugin")


def test_register_commands(toy_host: PluginHost) -> None:
    toy_host.register(HelloPlugin(), "hello")
    context = Context()
    context._host = toy_host
    try:
        result = CliRunner().invoke(cli, ["hello"], obj=context)
    finally:
        toy_host.unregister("hello")
    assert result.exit_code == 0, result.output
    assert result.output == "hello from a plugin\n"
