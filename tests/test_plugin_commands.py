"""`nlpplat plugins`: what each plugin registers, commands included, and what was skipped."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from nlpplat import hookimpl
from nlpplat.cli import Context, cli
from nlpplat.plugins import PluginHost, PluginStatus


def command_plugin(*names: str) -> object:
    class Plugin:
        @hookimpl
        def register_commands(self, cli: click.Group) -> None:
            for name in names:
                cli.add_command(click.Command(name, callback=lambda: click.echo("hi")))

    return Plugin()


def invoke(host: PluginHost, *args: str) -> tuple[int, str, str]:
    context = Context()
    context._host = host
    result = CliRunner().invoke(cli, list(args), obj=context, env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def host(toy_host: PluginHost) -> PluginHost:
    """The toy plugin, one plugin adding a command, one disabled and one for another API."""
    toy_host.register(command_plugin("hello"), "hello")
    toy_host.statuses["off"] = PluginStatus(
        name="off", distribution="nlpplat-off", skipped="not named in NLPPLAT_LOAD_PLUGINS=''", disabled=True
    )
    toy_host.statuses["future"] = PluginStatus(
        name="future", distribution="nlpplat-future", api=">=2", skipped="supports plugin API >=2 but …"
    )
    return toy_host


def test_json_lists_registered_names_with_commands(host: PluginHost) -> None:
    code, out, err = invoke(host, "plugins", "--json")
    assert code == 0, err
    statuses = {status["name"]: status for status in json.loads(out)}
    assert statuses["toy"]["registered"] == {
        "backbone": ["toy"],
        "task": ["toy"],
        "dataset": ["toy-real (task toy)", "toy-demo (task toy)"],
    }
    assert statuses["hello"]["registered"] == {"command": ["hello"]}
    assert statuses["hello"]["hooks"] == ["register_commands"]


def test_skipped_plugins_say_why_and_disabled_ones_need_all(host: PluginHost) -> None:
    _, out, _ = invoke(host, "plugins")
    assert "future" in out and "skipped: supports plugin API >=2" in out
    assert "nlpplat-off" not in out
    _, out, _ = invoke(host, "plugins", "--all")
    assert "nlpplat-off" in out and "not named in NLPPLAT_LOAD_PLUGINS" in out
    _, out, _ = invoke(host, "plugins", "--all", "--json")
    assert {status["name"] for status in json.loads(out)} == {"toy", "hello", "off", "future"}


def test_a_plugin_cannot_replace_a_built_in_command(host: PluginHost) -> None:
    host.register(command_plugin("run", "extra"), "hijack")
    _, out, _ = invoke(host, "plugins", "--json")
    hijack = next(status for status in json.loads(out) if status["name"] == "hijack")
    assert hijack["errors"] == ["register_commands: 'run' is a built-in command and was not replaced"]
    assert hijack["registered"] == {"command": ["extra"]}
    code, out, _ = invoke(host, "extra")
    assert (code, out) == (0, "hi\n")


def test_a_command_offered_by_two_plugins_is_used_from_neither(host: PluginHost) -> None:
    host.register(command_plugin("hello"), "copycat")
    _, out, _ = invoke(host, "plugins", "--json")
    errors = {status["name"]: status["errors"] for status in json.loads(out)}
    assert errors["hello"] == ["command 'hello' is also registered by copycat"]
    assert errors["copycat"] == ["command 'hello' is also registered by hello"]
    code, _, _ = invoke(host, "hello")
    assert code == 2  # click: no such command
