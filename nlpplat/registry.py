"""The names users type, resolved to the classes plugins registered.

:func:`build_registry` calls each ``register_*`` hook one plugin at a time, so that a
result can be blamed on the plugin that returned it, and validates everything here, in
one place: a wrong type or a failing hook is recorded against that plugin; a name
registered twice is recorded against both and neither is used. Commands from
``register_commands`` are collected the same way, each plugin on a group of its own, so
that ``nlpplat plugins`` can say which plugin adds which command.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import click

from nlpplat.contracts import Backbone, DatasetSpec, Task
from nlpplat.errors import ConfigError, UnknownNameError
from nlpplat.plugins import PluginHost, PluginStatus


def _is_subclass(expected: type) -> Callable[[Any], str]:
    def check(item: Any) -> str:
        if not (inspect.isclass(item) and issubclass(item, expected)):
            return f"returned {item!r}, which is not a {expected.__name__} subclass"
        if not isinstance(getattr(item, "name", None), str):
            return f"{item.__name__} has no 'name'"
        config = getattr(item, "Config", None)
        if not dataclasses.is_dataclass(config):
            return f"{item.__name__}.Config is not a dataclass"
        if expected is Task and not isinstance(getattr(item, "primary_metric", None), str):
            return f"{item.__name__} has no 'primary_metric'"
        return ""

    return check


def _is_dataset(item: Any) -> str:
    return "" if isinstance(item, DatasetSpec) else f"returned {item!r}, which is not a DatasetSpec"


# hook -> (kind shown to users, validator, key of a valid item)
_KINDS: dict[str, tuple[str, Callable[[Any], str], Callable[[Any], Any]]] = {
    "register_backbones": ("backbone", _is_subclass(Backbone), lambda item: item.name),
    "register_tasks": ("task", _is_subclass(Task), lambda item: item.name),
    "register_datasets": ("dataset", _is_dataset, lambda item: (item.task, item.name)),
}


@dataclass
class Registry:
    """Everything the loaded plugins provide, by name."""

    backbones: dict[str, type[Backbone]] = field(default_factory=dict)
    tasks: dict[str, type[Task]] = field(default_factory=dict)
    datasets: dict[tuple[str, str], DatasetSpec] = field(default_factory=dict)
    commands: dict[str, click.Command] = field(default_factory=dict)
    plugins: list[PluginStatus] = field(default_factory=list)
    # name -> providers, for names that were registered more than once
    conflicts: dict[tuple[str, Any], list[str]] = field(default_factory=dict)

    def backbone(self, name: str) -> type[Backbone]:
        return self._get("backbone", name, self.backbones)

    def task(self, name: str) -> type[Task]:
        return self._get("task", name, self.tasks)

    def dataset(self, task: str, name: str) -> DatasetSpec:
        by_name = {spec.name: spec for (spec_task, _), spec in self.datasets.items() if spec_task == task}
        return self._get(f"dataset for task {task!r}", name, by_name, key=(task, name))

    def datasets_for(self, task: str) -> list[DatasetSpec]:
        return sorted((spec for spec in self.datasets.values() if spec.task == task), key=lambda s: s.name)

    def check_pair(self, task: type[Task], backbone: type[Backbone]) -> None:
        """Refuse a backbone that lacks a capability the task needs (one clear error).

        Today the one capability is a decoder, which generating tasks
        (``Task.requires_decoder``) need and a backbone has when it overrides
        :meth:`~nlpplat.contracts.Backbone.build_decoder`.
        """
        if task.requires_decoder and not backbone.has_decoder():
            able = sorted(name for name, cls in self.backbones.items() if cls.has_decoder())
            raise ConfigError(
                f"Backbone {backbone.name!r} has no decoder, and task {task.name!r} generates text, "
                f"which needs one. Backbones with a decoder: {', '.join(able) or '(none installed)'}; "
                "choose one with --backbone."
            )

    def _get(self, kind: str, name: str, table: dict[str, Any], key: Any = None) -> Any:
        if name in table:
            return table[name]
        hint = ""
        clash = self.conflicts.get((kind.split()[0], key if key is not None else name))
        if clash:
            hint = f"It is registered by more than one plugin ({', '.join(clash)}), so none is used."
        broken = [status.name for status in self.plugins if status.errors]
        if broken and not hint:
            hint = f"Plugins that failed to load: {', '.join(broken)} (see `nlpplat plugins`)."
        skipped = [status.name for status in self.plugins if status.skipped]
        if skipped:
            hint += f" Plugins skipped: {', '.join(skipped)} (see `nlpplat plugins --all`)."
        raise UnknownNameError(kind, name, table, hint.strip())


def build_registry(host: PluginHost, reserved_commands: Iterable[str] = ()) -> Registry:
    """Call every ``register_*`` hook, validate the results and index them by name.

    ``reserved_commands`` are the CLI's built-in commands, which a plugin may not replace.
    """
    registry = Registry()
    # Copies, so that building a registry twice from one host reports everything once.
    statuses = {
        name: dataclasses.replace(status, errors=list(status.errors), registered={})
        for name, status in host.statuses.items()
    }
    for hook_name, (kind, validate, key_of) in _KINDS.items():
        providers: dict[Any, list[tuple[str, Any]]] = {}
        for plugin_name, result in _call_each(host, hook_name, statuses):
            status = statuses[plugin_name]
            for item in result:
                problem = validate(item)
                if problem:
                    status.errors.append(f"{hook_name} {problem}")
                    continue
                providers.setdefault(key_of(item), []).append((plugin_name, item))
        table: dict[Any, Any] = {"backbone": registry.backbones, "task": registry.tasks}.get(
            kind, registry.datasets
        )
        for key, offers in providers.items():
            shown = key if isinstance(key, str) else f"{key[1]} (task {key[0]})"
            if len(offers) > 1:
                names = sorted(plugin for plugin, _ in offers)
                registry.conflicts[(kind, key)] = names
                for plugin in names:
                    others = ", ".join(name for name in names if name != plugin)
                    statuses[plugin].errors.append(f"{kind} {shown!r} is also registered by {others}")
                continue
            plugin, item = offers[0]
            table[key] = item
            statuses[plugin].registered.setdefault(kind, []).append(shown)
    registry.commands = _collect_commands(host, statuses, set(reserved_commands), registry.conflicts)
    registry.plugins = sorted(statuses.values(), key=lambda status: status.name)
    return registry


def _call_each(
    host: PluginHost, hook_name: str, statuses: dict[str, PluginStatus]
) -> Iterable[tuple[str, list[Any]]]:
    """Call one hook plugin by plugin; a plugin whose hook raises is blamed, not fatal."""
    caller = getattr(host.pm.hook, hook_name)
    for impl in caller.get_hookimpls():
        status = statuses.setdefault(impl.plugin_name, PluginStatus(name=impl.plugin_name))
        try:
            result = host.call(impl, hook_name)
        except Exception as error:
            status.errors.append(f"{hook_name} raised {type(error).__name__}: {error}")
            continue
        if result is None:
            continue
        if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
            status.errors.append(f"{hook_name} returned {type(result).__name__}, expected a list")
            continue
        yield impl.plugin_name, list(result)


def _collect_commands(
    host: PluginHost,
    statuses: dict[str, PluginStatus],
    reserved: set[str],
    conflicts: dict[tuple[str, Any], list[str]],
) -> dict[str, click.Command]:
    """Commands from ``register_commands``, each plugin adding to a scratch group of its own.

    Plugins never see the real CLI group, so a plugin cannot replace a built-in command
    or another plugin's; a name offered twice is refused for both, like any other name.
    """
    offers: dict[str, list[tuple[str, click.Command]]] = {}
    for impl in host.pm.hook.register_commands.get_hookimpls():
        status = statuses.setdefault(impl.plugin_name, PluginStatus(name=impl.plugin_name))
        scratch = click.Group()
        try:
            host.call(impl, "register_commands", cli=scratch)
        except Exception as error:  # a broken plugin command must not break the CLI
            status.errors.append(f"register_commands raised {type(error).__name__}: {error}")
            continue
        for name, command in scratch.commands.items():
            if name in reserved:
                status.errors.append(
                    f"register_commands: {name!r} is a built-in command and was not replaced"
                )
                continue
            offers.setdefault(name, []).append((impl.plugin_name, command))
    commands = {}
    for name, offered in sorted(offers.items()):
        if len(offered) > 1:
            names = sorted(plugin for plugin, _ in offered)
            conflicts[("command", name)] = names
            for plugin in names:
                others = ", ".join(other for other in names if other != plugin)
                statuses[plugin].errors.append(f"command {name!r} is also registered by {others}")
            continue
        plugin, command = offered[0]
        commands[name] = command
        statuses[plugin].registered.setdefault("command", []).append(name)
    return commands
