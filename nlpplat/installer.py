"""Installing plugins with pip, into the interpreter nlpplat runs in, and remembering them.

``nlpplat install`` runs ``python -m pip install`` with nlpplat's own ``sys.executable``,
so a plugin always lands where nlpplat will look for it, whichever ``pip`` is first on
``PATH``. Every successful install is recorded in a manifest, a JSON file outside any
virtual environment (``$NLPPLAT_PLUGIN_MANIFEST``, else
``$XDG_DATA_HOME/nlpplat/plugins.json``, else ``~/.local/share/nlpplat/plugins.json``),
so that after an upgrade of nlpplat or a new environment ``nlpplat plugins --restore``
installs them all again::

    {
      "format": 1,
      "plugins": [
        {"distribution": "nlpplat-cnn", "version": "0.1.0",
         "requirement": "/home/me/wheels/nlpplat_cnn-0.1.0-py3-none-any.whl",
         "editable": false, "pip_args": [], "installed": "2026-11-28T12:00:00Z"}
      ]
    }

``requirement`` is what pip is given again on restore: the name, URL or path as typed,
with local paths made absolute. One entry per distribution; installing it again
replaces its entry, ``nlpplat uninstall`` removes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nlpplat.errors import NlpplatError
from nlpplat.io import write_json
from nlpplat.plugins import ENTRY_POINT_GROUP

MANIFEST_VARIABLE = "NLPPLAT_PLUGIN_MANIFEST"
MANIFEST_FORMAT = 1


class InstallError(NlpplatError):
    """pip failed, or what to install or uninstall is not valid."""


def manifest_path() -> Path:
    """Where the manifest lives; outside every virtual environment, so it survives them."""
    if os.environ.get(MANIFEST_VARIABLE):
        return Path(os.environ[MANIFEST_VARIABLE])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "nlpplat" / "plugins.json"


def canonical(name: str) -> str:
    """PEP 503 normalisation: ``Nlpplat_CNN`` and ``nlpplat-cnn`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class ManifestEntry:
    """One installed plugin, as recorded in the manifest."""

    requirement: str  # what pip is given on restore; local paths absolute
    distribution: str = ""  # the distribution it installed; "" when pip's report did not say
    version: str = ""  # the version installed then (restore installs what the requirement gives now)
    editable: bool = False  # installed with -e
    pip_args: list[str] = field(default_factory=list)  # extra pip options it was installed with
    installed: str = ""  # UTC time of the install

    @property
    def key(self) -> str:
        return canonical(self.distribution) if self.distribution else self.requirement


class Manifest:
    """The manifest file: load, change, save (atomically)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or manifest_path()
        self.entries: list[ManifestEntry] = []
        if self.path.is_file():
            self.entries = self._read()

    def _read(self) -> list[ManifestEntry]:
        fields = {f.name for f in dataclasses.fields(ManifestEntry)}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format", MANIFEST_FORMAT) > MANIFEST_FORMAT:
                raise InstallError(
                    f"{self.path} was written by a newer nlpplat (manifest format {data['format']}); "
                    "upgrade nlpplat to use it"
                )
            return [
                ManifestEntry(**{key: value for key, value in item.items() if key in fields})
                for item in data["plugins"]
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InstallError(
                f"{self.path}: not a plugin manifest ({type(error).__name__}: {error}); fix it or delete "
                f"it (it only lists plugins to reinstall), or point {MANIFEST_VARIABLE} elsewhere"
            ) from None

    def save(self) -> None:
        write_json(
            self.path,
            {"format": MANIFEST_FORMAT, "plugins": [dataclasses.asdict(entry) for entry in self.entries]},
        )

    def add(self, entry: ManifestEntry) -> None:
        """Record ``entry``, replacing an older entry for the same distribution."""
        self.entries = [old for old in self.entries if old.key != entry.key] + [entry]

    def remove(self, name: str) -> bool:
        """Forget distribution ``name``; whether it was recorded."""
        before = len(self.entries)
        self.entries = [
            entry
            for entry in self.entries
            if canonical(entry.distribution or "") != canonical(name) and entry.requirement != name
        ]
        return len(self.entries) != before


# -- pip ---------------------------------------------------------------------------------
def run_pip(args: Sequence[str]) -> None:
    """``sys.executable -m pip ARGS``, its output shown as it comes; an error if it fails."""
    command = [sys.executable, "-m", "pip", *args]
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise InstallError(
            f"pip {args[0]} failed (exit status {result.returncode}; its messages are above): "
            f"{' '.join(command)}"
        )


def _looks_local(requirement: str) -> bool:
    """A path rather than a name, by pip's own rule: a separator, or an archive's suffix."""
    return (
        requirement.startswith(("~", "."))
        or os.sep in requirement
        or (os.altsep is not None and os.altsep in requirement)
        or requirement.endswith((".whl", ".tar.gz", ".zip"))
    )


def protected() -> set[str]:
    """nlpplat, pip and nlpplat's own dependencies: uninstalling them breaks nlpplat."""
    names = {"nlpplat", "pip"}
    for requirement in importlib.metadata.requires("nlpplat") or []:
        if "extra ==" not in requirement:
            names.add(canonical(re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0]))
    return names


def absolute(requirement: str) -> str:
    """Local paths made absolute (the manifest is read from anywhere); the rest as typed."""
    if "://" in requirement or requirement.startswith("git+") or not _looks_local(requirement):
        return requirement
    path = Path(requirement).expanduser()
    if not path.exists():
        raise InstallError(f"{requirement}: no such file or directory")
    return str(path.resolve())


def guess_distribution(requirement: str) -> str:
    """The distribution a requirement names, when that can be read off it ("" otherwise)."""
    direct = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*@", requirement)
    if direct:  # PEP 508 direct reference: "name @ url"
        return canonical(direct.group(1))
    if requirement.endswith(".whl"):  # name-version-python-abi-platform.whl
        return canonical(Path(requirement).name.split("-")[0])
    if "#egg=" in requirement:
        return canonical(requirement.split("#egg=", 1)[1].split("&")[0])
    path = Path(requirement)
    if "://" not in requirement and (path / "pyproject.toml").is_file():
        with contextlib.suppress(OSError, tomllib.TOMLDecodeError):
            name = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
            return canonical(name)
        return ""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[.*\])?\s*(?:[<>=!~;]|$)", requirement)
    if match and not _looks_local(requirement) and "://" not in requirement:
        return canonical(match.group(1))
    return ""


def read_requirements_file(path: str) -> list[tuple[str, bool]]:
    """``(requirement, editable)`` for each requirement line of a pip requirements file.

    Comments, blank lines and option lines (``--index-url …``) are skipped; pip itself
    reads the file with its options.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InstallError(f"-r {path}: {error.strerror or error}") from None
    found = []
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-e ", "--editable ")):
            found.append((line.split(None, 1)[1].strip(), True))
        elif not line.startswith("-"):
            found.append((line, False))
    return found


def _installed_version(distribution: str) -> str:
    importlib.invalidate_caches()  # pip has just written new dist-info folders
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


def is_plugin(distribution: str) -> bool:
    """Whether the installed ``distribution`` has an ``nlpplat`` entry point."""
    try:
        entry_points = importlib.metadata.distribution(distribution).entry_points
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(entry_point.group == ENTRY_POINT_GROUP for entry_point in entry_points)


def _requested_in_report(report: Path) -> list[tuple[str, str]]:
    """``(distribution, version)`` of what pip's ``--report`` says was asked for and installed."""
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [
        (canonical(item["metadata"]["name"]), item["metadata"]["version"])
        for item in data.get("install", [])
        if item.get("requested")
    ]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the commands ------------------------------------------------------------------------
def install(
    requirements: Iterable[str] = (),
    *,
    upgrade: bool = False,
    editable: bool = False,
    requirement_files: Iterable[str] = (),
    pip_args: Iterable[str] = (),
    manifest: Manifest | None = None,
) -> list[ManifestEntry]:
    """Install requirements with pip and record them in the manifest; return the new entries.

    ``editable`` applies to every requirement given directly; lines of requirement files
    keep their own ``-e``. Nothing is recorded when pip fails.
    """
    direct = [(absolute(requirement), editable) for requirement in requirements]
    from_files = [
        (absolute(requirement), is_editable)
        for path in requirement_files
        for requirement, is_editable in read_requirements_file(path)
    ]
    if not direct and not from_files:
        raise InstallError("nothing to install: give a name, path, wheel or git URL, or -r requirements.txt")
    extra = list(pip_args)
    args = ["install", *(["--upgrade"] if upgrade else []), *extra]
    for path in requirement_files:
        args += ["-r", path]  # pip reads the file itself, options and all
    for requirement, is_editable in direct:
        args += ["-e", requirement] if is_editable else [requirement]
    manifest = manifest or Manifest()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        run_pip([*args, "--report", str(report)])
        requested = _requested_in_report(report)
    entries = _entries(direct + from_files, requested, extra)
    for entry in entries:
        manifest.add(entry)
    manifest.save()
    return entries


def _entries(
    wanted: list[tuple[str, bool]], requested: list[tuple[str, str]], pip_args: list[str]
) -> list[ManifestEntry]:
    """Manifest entries for what was installed, naming each distribution where possible."""
    entries = [
        ManifestEntry(requirement, guess_distribution(requirement), "", is_editable, pip_args, _now())
        for requirement, is_editable in wanted
    ]
    named = {entry.distribution for entry in entries}
    unclaimed = [name for name, _ in requested if name not in named]
    unnamed = [entry for entry in entries if not entry.distribution]
    if len(unnamed) == 1 and len(unclaimed) == 1:  # e.g. one git URL without #egg=
        unnamed[0].distribution = unclaimed[0]
    for entry in entries:
        if entry.distribution:
            entry.version = _installed_version(entry.distribution)
    return entries


def uninstall(name: str, *, yes: bool = False, manifest: Manifest | None = None) -> str:
    """Uninstall distribution ``name`` with pip and forget it; return its version."""
    if canonical(name) in protected():
        raise InstallError(
            f"{name} is nlpplat itself or something it needs, not a plugin; "
            "uninstall it with pip if you really mean to"
        )
    version = _installed_version(name)
    if not version:
        plugins = sorted(
            {ep.dist.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.dist}
        )
        raise InstallError(
            f"No distribution named {name!r} is installed. Installed plugin distributions: "
            f"{', '.join(plugins) or '(none)'}."
        )
    run_pip(["uninstall", *(["--yes"] if yes else []), name])
    manifest = manifest or Manifest()
    if manifest.remove(name):
        manifest.save()
    return version


def restore(manifest: Manifest | None = None) -> list[ManifestEntry]:
    """Install again every plugin the manifest lists (after an upgrade or in a new environment).

    Entries whose local path has disappeared are left out and reported in one error after
    the others are installed; the manifest keeps them.
    """
    manifest = manifest or Manifest()
    missing = [
        entry.requirement
        for entry in manifest.entries
        if entry.requirement.startswith("/") and not Path(entry.requirement).exists()
    ]
    present = [entry for entry in manifest.entries if entry.requirement not in missing]
    groups: dict[tuple[str, ...], list[ManifestEntry]] = {}
    for entry in present:  # one pip call per set of extra options
        groups.setdefault(tuple(entry.pip_args), []).append(entry)
    for pip_args, entries in groups.items():
        args = ["install", *pip_args]
        for entry in entries:
            args += ["-e", entry.requirement] if entry.editable else [entry.requirement]
        run_pip(args)
    for entry in present:
        if entry.distribution:
            entry.version = _installed_version(entry.distribution) or entry.version
    manifest.save()
    if missing:
        raise InstallError(
            f"restored {len(present)} plugin(s), but these paths no longer exist: {', '.join(missing)}; "
            f"install them again with `nlpplat install`, or remove them from {manifest.path}"
        )
    return present


def describe(entries: Sequence[ManifestEntry]) -> list[str]:
    """One line per entry for the CLI, with a warning for distributions that are not plugins."""
    lines = []
    for entry in entries:
        what = f"{entry.distribution} {entry.version}".strip() or entry.requirement
        if entry.distribution and not is_plugin(entry.distribution):
            lines.append(
                f"{what}: installed, but it has no '{ENTRY_POINT_GROUP}' entry point, so it is not a plugin"
            )
        else:
            lines.append(f"{what}: installed{' (editable)' if entry.editable else ''}")
    return lines
