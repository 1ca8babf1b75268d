"""Which C memory allocator the process runs with, and relaunching it with a faster one.

A training step on a CPU allocates and frees thousands of tensors and scratch buffers
whose sizes change with every batch shape; oneDNN adds a kernel and its buffers for each
new shape. glibc's ``malloc`` (even as :mod:`nlpplat.memory` tunes it) fragments under
that load: over the first 300 bf16 steps of a DailyDialog ``transformer`` epoch, with
tcmalloc (Google's thread-caching allocator) the process made 1.41 times as many response
pieces per second as with glibc's, in 2.2 GiB against 5.5 (``benchmarks/allocator.py``,
benchmarks/README.md). The allocator cannot be swapped inside a running process:
it has to be loaded first, through ``LD_PRELOAD``. :func:`relaunch` therefore replaces the
process, before it has done any work, by the same command with the library preloaded,
when the library is installed (Debian/Ubuntu: ``apt-get install libtcmalloc-minimal4``).

``NLPPLAT_ALLOCATOR`` chooses: ``auto`` (the default: tcmalloc when installed, else the
system's), ``tcmalloc``, ``jemalloc`` or ``system`` (never relaunch). Every run records the
allocator it ran with (:func:`loaded`, in ``results.json``'s machine), since speeds depend on it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

VARIABLE = "NLPPLAT_ALLOCATOR"
CHOICES = ("auto", "tcmalloc", "jemalloc", "system")
# Shared-library names, in order of preference; the minimal tcmalloc has no heap profiler,
# which training does not need.
LIBRARIES = {
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4"),
    "jemalloc": ("libjemalloc.so.2",),
}
# Where distributions install them (Debian/Ubuntu multiarch, Red Hat, source builds, conda).
SEARCH_PATH = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    os.path.join(sys.prefix, "lib"),
)
_RELAUNCHED = "_NLPPLAT_RELAUNCHED"  # set in the relaunched process: never relaunch twice


def loaded() -> str:
    """The allocator this process runs with: ``tcmalloc``, ``jemalloc`` or ``system``."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: whatever the platform provides
        return "system"
    for name in LIBRARIES:
        if f"lib{name}" in maps:
            return name
    return "system"


def find(name: str) -> Path | None:
    """The installed shared library of allocator ``name``, or None."""
    for library in LIBRARIES[name]:
        for folder in SEARCH_PATH:
            path = Path(folder) / library
            if path.is_file():
                return path
    return None


def wanted() -> tuple[str, Path] | None:
    """The allocator to relaunch with and its library, or None to keep this process as it is."""
    choice = os.environ.get(VARIABLE, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise SystemExit(f"error: {VARIABLE}={choice!r}: use one of {', '.join(CHOICES)}")
    if choice == "system" or not sys.platform.startswith("linux") or os.environ.get(_RELAUNCHED):
        return None
    name, current = ("tcmalloc" if choice == "auto" else choice), loaded()
    if current == name or (choice == "auto" and current != "system"):
        return None  # already there, or another that the user preloaded on purpose
    path = find(name)
    if path is None:
        if choice != "auto":  # asked for by name: say why it is not used, once
            print(
                f"warning: {VARIABLE}={choice}: lib{name} is not installed; using the system allocator",
                file=sys.stderr,
            )
        return None
    return name, path


def relaunch() -> None:
    """Replace this process by the same command line with the wanted allocator preloaded.

    Returns only when nothing is to be done (see :func:`wanted`). Call it first thing, before
    any work: the new process starts over from the command line, as given to the interpreter
    (``sys.orig_argv``: its flags and any wrapper such as ``coverage run`` are kept, and no
    ``-m`` puts the working directory ahead of the installed package).
    """
    choice = wanted()
    if choice is None:
        return
    _, path = choice
    preload = " ".join(part for part in (str(path), os.environ.get("LD_PRELOAD", "")) if part)
    env = dict(os.environ, LD_PRELOAD=preload, **{_RELAUNCHED: "1"})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)
