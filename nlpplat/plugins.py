"""Finding and loading plugins.

:func:`make_plugin_manager` is the only way the host gets a plugin manager: there is no
global one, so tests build their own and register toy plugins on it. Loading a plugin
never raises: a plugin that fails to import or implements a hook that does not exist
is recorded in :class:`PluginStatus` and left out, and everything else keeps working.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from nlpplat import hookspecs

ENTRY_POINT_GROUP = "nlpplat"
ALLOW_LIST_VARIABLE = "NLPPLAT_LOAD_PLUGINS"


@dataclass
class PluginStatus:
    """What the host knows about one plugin, for ``nlpplat plugins``."""

    name: str  # the name it is registered under in the plugin manager
    distribution: str = ""  # the pip distribution that provides it ("" for in-process plugins)
    version: str = ""
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)  # kind -> names
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _allow_list() -> set[str] | None:
    """Distribution (or entry-point) names from ``NLPPLAT_LOAD_PLUGINS``; None: load all."""
    value = os.environ.get(ALLOW_LIST_VARIABLE)
    if value is None:
        return None
    return {_normalise(name) for name in value.split(",") if name.strip()}


def unknown_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Names of functions in ``plugin`` marked as hook implementations with no such hook."""
    problems = []
    known = [name for name in dir(pm.hook) if not name.startswith("_")]
    for attribute in dir(plugin):
        if pm.parse_hookimpl_opts(plugin, attribute) is None or attribute in known:
            continue
        close = difflib.get_close_matches(attribute, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"implements unknown hook {attribute!r}{hint}")
    return problems


class PluginHost:
    """A plugin manager plus what happened to every plugin it was offered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.statuses: dict[str, PluginStatus] = {}

    def register(
        self, plugin: ModuleType | object, name: str, status: PluginStatus | None = None
    ) -> PluginStatus:
        """Register ``plugin`` unless it implements unknown hooks; return its status."""
        status = status or PluginStatus(name=name)
        status.errors.extend(unknown_hooks(self.pm, plugin))
        if status.ok:
            self.pm.register(plugin, name=name)
            status.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
        self.statuses[name] = status
        return status

    def unregister(self, name: str) -> None:
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.statuses.pop(name, None)

    def load_entry_points(self) -> None:
        """Import and register the installed plugins that the allow-list admits."""
        allowed = _allow_list()
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            distribution = entry_point.dist.name if entry_point.dist else ""
            if allowed is not None and not {_normalise(distribution), _normalise(entry_point.name)} & allowed:
                continue
            if entry_point.name in self.statuses:
                continue  # the same distribution seen twice on sys.path
            status = PluginStatus(
                name=entry_point.name,
                distribution=distribution,
                version=entry_point.dist.version if entry_point.dist else "",
            )
            try:
                plugin = entry_point.load()
            except Exception as error:  # a broken plugin must not take the host down
                status.errors.append(
                    f"failed to import {entry_point.value!r}: {type(error).__name__}: {error}"
                )
                self.statuses[entry_point.name] = status
                continue
            self.register(plugin, entry_point.name, status)


def make_plugin_host(load_entry_points: bool = True) -> PluginHost:
    """A fresh :class:`PluginHost` with the nlpplat hookspecs and, by default, installed plugins.

    ``NLPPLAT_LOAD_PLUGINS=a,b`` loads only the distributions (or entry points) named;
    set to the empty string it loads none.
    """
    host = PluginHost()
    if load_entry_points:
        host.load_entry_points()
    return host
