"""User-facing errors.

Everything a user can cause (a misspelt name, a malformed file, missing data) raises a
subclass of :class:`NlpplatError`. The CLI prints ``str(error)`` as one line on stderr
and exits with status 1; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike


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
