"""Finding and loading plugins.

:func:`make_plugin_host` is the only way the host gets a plugin manager: there is no
global one, so tests build their own and register toy plugins on it. Loading a plugin
never raises: a plugin that fails to import, implements a hook that does not exist or
declares a plugin API range (:mod:`nlpplat.api`) that excludes this host is recorded in
:class:`PluginStatus` and left out, and everything else keeps working.

``NLPPLAT_LOAD_PLUGINS=a,b`` loads only the distributions (or entry points) named; the
others are still listed, as skipped, by ``nlpplat plugins --all``.
``NLPPLAT_TRACE_PLUGINS=1`` writes every hook call, with its result and duration, to
stderr.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from nlpplat import api, hookspecs

ENTRY_POINT_GROUP = "nlpplat"
ALLOW_LIST_VARIABLE = "NLPPLAT_LOAD_PLUGINS"
TRACE_VARIABLE = "NLPPLAT_TRACE_PLUGINS"


@dataclass
class PluginStatus:
    """What the host knows about one plugin, for ``nlpplat plugins``."""

    name: str  # the name it is registered under in the plugin manager (its entry-point name)
    distribution: str = ""  # the pip distribution that provides it ("" for in-process plugins)
    version: str = ""
    api: str = ""  # the plugin API range it declares (NLPPLAT_API), "" when it declares none
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)  # kind -> names
    errors: list[str] = field(default_factory=list)
    skipped: str = ""  # why it was deliberately not loaded (allow-list, plugin API mismatch)
    disabled: bool = False  # skipped because NLPPLAT_LOAD_PLUGINS leaves it out: a user's choice

    @property
    def ok(self) -> bool:
        """Loaded, and everything it offered was accepted."""
        return not self.errors and not self.skipped


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


def api_mismatch(plugin: object, version: int = api.PLUGIN_API) -> tuple[str, str]:
    """``(declared range, reason to skip)`` for ``plugin``; the reason is "" when it may load.

    Raises :class:`nlpplat.api.InvalidRangeError` for a malformed ``NLPPLAT_API``.
    """
    if not hasattr(plugin, api.ATTRIBUTE):
        return "", ""
    declared = getattr(plugin, api.ATTRIBUTE)
    if api.supports(declared, version):
        return str(declared), ""
    return str(declared), (
        f"supports plugin API {declared} but this nlpplat provides API {version}: "
        "install a release of the plugin made for it, or an nlpplat in its range"
    )


def _short(value: Any, limit: int = 200) -> str:
    """A one-line ``repr`` for traces: classes and functions by name, long text cut."""

    def show(item: Any) -> str:
        if isinstance(item, list):
            return "[" + ", ".join(show(element) for element in item) + "]"
        return getattr(item, "__name__", None) or repr(item)

    text = show(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PluginHost:
    """A plugin manager plus what happened to every plugin it was offered.

    With ``trace`` set (a function taking a line of text), every hook call made through
    :meth:`call` or ``pm.hook`` is written to it with its result and duration.
    """

    def __init__(self, trace: Callable[[str], Any] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.statuses: dict[str, PluginStatus] = {}
        self.trace = trace
        if trace is not None:
            self._monitor_hook_calls(trace)

    def register(
        self, plugin: ModuleType | object, name: str, status: PluginStatus | None = None
    ) -> PluginStatus:
        """Register ``plugin`` unless it implements unknown hooks or excludes this plugin API."""
        status = status or PluginStatus(name=name)
        try:
            status.api, status.skipped = api_mismatch(plugin)
        except api.InvalidRangeError as error:
            status.errors.append(str(error))
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
            status = PluginStatus(
                name=entry_point.name,
                distribution=distribution,
                version=entry_point.dist.version if entry_point.dist else "",
            )
            known = self.statuses.get(entry_point.name)
            if known is not None:
                if _normalise(known.distribution) == _normalise(distribution):
                    continue  # the same distribution seen twice on sys.path
                status.name = f"{entry_point.name} ({distribution})"
                status.errors.append(
                    f"its entry-point name {entry_point.name!r} is already used by "
                    f"{known.distribution or 'another plugin'}; one of them must rename it"
                )
                self.statuses[status.name] = status
                continue
            if allowed is not None and not {_normalise(distribution), _normalise(entry_point.name)} & allowed:
                status.skipped = f"not named in {ALLOW_LIST_VARIABLE}={os.environ[ALLOW_LIST_VARIABLE]!r}"
                status.disabled = True
                self.statuses[entry_point.name] = status
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:  # a broken plugin must not take the host down
                status.errors.append(
                    f"failed to import {entry_point.value!r}: {type(error).__name__}: {error}"
                )
                self.statuses[entry_point.name] = status
                continue
            self.register(plugin, entry_point.name, status)

    # -- calling hooks ------------------------------------------------------------------
    def call(self, impl: pluggy.HookImpl, hook_name: str, **kwargs: Any) -> Any:
        """Call one plugin's implementation of ``hook_name``, tracing it when asked.

        The registry calls hooks plugin by plugin, so that every result and every
        exception can be blamed on the plugin that produced it.
        """
        if self.trace is None:
            return impl.function(**kwargs)
        start = time.perf_counter()
        who = self._describe(impl.plugin_name)
        try:
            result = impl.function(**kwargs)
        except Exception as error:
            self.trace(f"{hook_name} → {who} raised {type(error).__name__}: {error}")
            raise
        milliseconds = 1000 * (time.perf_counter() - start)
        self.trace(f"{hook_name} → {who} returned {_short(result)} in {milliseconds:.1f} ms")
        return result

    def _describe(self, plugin_name: str) -> str:
        status = self.statuses.get(plugin_name)
        if status and status.distribution:
            return f"{plugin_name} ({status.distribution} {status.version})"
        return plugin_name

    def _monitor_hook_calls(self, trace: Callable[[str], Any]) -> None:
        """Also trace calls made through ``pm.hook.<name>(...)`` (all plugins at once)."""
        starts: list[float] = []

        def before(hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
            starts.append(time.perf_counter())
            names = ", ".join(impl.plugin_name for impl in impls) or "no plugin"
            trace(f"{hook_name}({', '.join(kwargs)}) → {names}")

        def after(
            outcome: Any, hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
        ) -> None:
            milliseconds = 1000 * (time.perf_counter() - starts.pop())
            if outcome.exception is not None:
                trace(f"{hook_name} raised {type(outcome.exception).__name__}: {outcome.exception}")
            else:
                trace(f"{hook_name} returned {_short(outcome.get_result())} in {milliseconds:.1f} ms")

        self.pm.add_hookcall_monitoring(before, after)


def stderr_trace(line: str) -> None:
    print(f"[nlpplat trace] {line}", file=sys.stderr, flush=True)


def make_plugin_host(load_entry_points: bool = True) -> PluginHost:
    """A fresh :class:`PluginHost` with the nlpplat hookspecs and, by default, installed plugins.

    ``NLPPLAT_LOAD_PLUGINS=a,b`` loads only the distributions (or entry points) named;
    set to the empty string it loads none. ``NLPPLAT_TRACE_PLUGINS=1`` traces hook calls
    to stderr.
    """
    tracing = os.environ.get(TRACE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")
    host = PluginHost(trace=stderr_trace if tracing else None)
    if load_entry_points:
        host.load_entry_points()
    return host
