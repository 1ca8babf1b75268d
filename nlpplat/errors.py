"""User-facing errors and warnings.

Everything a user can cause (a misspelt name, a malformed file, missing data) raises a
subclass of :class:`NlpplatError`. The CLI prints ``str(error)`` as one line on stderr
and exits with status 1; any other exception is a bug and keeps its traceback. Input
that is kept, but not all of it as given, is a :class:`DataWarning`, also one line.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Sequence
from os import PathLike
from typing import Any, TextIO


class NlpplatError(Exception):
    """An error the user can fix; its message says what is wrong and how to fix it."""


class UnknownNameError(NlpplatError, KeyError):
    """A name that is not registered; the message lists the names that are."""

    def __init__(self, kind: str, name: str, available: Iterable[str], hint: str = ""):
        names = ", ".join(sorted(available)) or "(none)"
        message = f"No {kind} named {name!r}. Available: {names}."
        if hint:
            message += f" {hint}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(NlpplatError):
    """Malformed input data, located as ``file:line: what is wrong``."""

    def __init__(self, path: str | PathLike[str], line: int | None, message: str):
        self.path, self.line = str(path), line
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}")


class ConfigError(NlpplatError):
    """An invalid setting (unknown key, wrong type, bad value)."""


class MissingDataError(NlpplatError):
    """A dataset that is not available locally and cannot be downloaded."""


class DataWarning(UserWarning):
    """Input data that is used, but not all of it as given; the message locates it (``file:line``)."""


def warn_about_data(message: str, places: Sequence[str], stacklevel: int = 1) -> None:
    """A :class:`DataWarning`: ``message``, then the first five of ``places`` (``file:line``).

    ``stacklevel`` counts from the caller, as for :func:`warnings.warn`.
    """
    shown = ", ".join(places[:5]) + (" …" if len(places) > 5 else "")
    warnings.warn(f"{message}: {shown}", DataWarning, stacklevel=stacklevel + 1)


_python_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> Any:
    if issubclass(category, DataWarning):  # about the user's file, not about our code line
        print(f"warning: {message}", file=sys.stderr if file is None else file)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def show_data_warnings_in_one_line() -> None:
    """Print every :class:`DataWarning` as ``warning: message`` on stderr, without the source
    line Python adds (which would point into our reader, not at the user's data)."""
    warnings.showwarning = _show_warning
