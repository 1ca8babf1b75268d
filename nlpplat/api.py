"""The plugin API version, and the ranges of it that plugins declare.

The host has one integer, :data:`PLUGIN_API`, raised whenever a change to the hooks or
the contracts (:mod:`nlpplat.hookspecs`, :mod:`nlpplat.contracts`) could break a
plugin written for the previous value. Adding something optional does not raise it.

A plugin states the versions it supports with a module attribute ``NLPPLAT_API`` on
the module its entry point names:

``NLPPLAT_API = 1``
    exactly version 1;
``NLPPLAT_API = ">=1,<3"``
    a comma-separated list of comparisons (``==``, ``!=``, ``>=``, ``>``, ``<=``,
    ``<``) of whole numbers, all of which must hold; a bare number means ``==``.

A plugin without ``NLPPLAT_API`` is assumed to support every version (it takes its
chances). A plugin whose range excludes :data:`PLUGIN_API` is not registered, and
``nlpplat plugins`` says why; a malformed ``NLPPLAT_API`` is a load error.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

PLUGIN_API = 1
ATTRIBUTE = "NLPPLAT_API"

_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_CLAUSE = re.compile(r"\s*(==|!=|>=|<=|>|<)?\s*(\d+)\s*")


class InvalidRangeError(ValueError):
    """An ``NLPPLAT_API`` value that is neither a whole number nor a range of them."""


def parse_range(declared: object) -> list[tuple[str, int]]:
    """``NLPPLAT_API`` as a list of ``(operator, version)`` clauses that must all hold.

    Raises :class:`InvalidRangeError` saying what a valid value looks like.
    """
    if isinstance(declared, int) and not isinstance(declared, bool):
        return [("==", declared)]
    if isinstance(declared, str) and declared.strip():
        clauses = []
        for part in declared.split(","):
            match = _CLAUSE.fullmatch(part)
            if not match:
                break
            clauses.append((match.group(1) or "==", int(match.group(2))))
        else:
            return clauses
    raise InvalidRangeError(
        f"{ATTRIBUTE} = {declared!r} is not a plugin API range; write a whole number "
        "(NLPPLAT_API = 1) or comparisons joined by commas (NLPPLAT_API = '>=1,<2')"
    )


def supports(declared: object, version: int = PLUGIN_API) -> bool:
    """Whether a plugin that declares ``declared`` works with host API ``version``."""
    return all(_OPERATORS[op](version, bound) for op, bound in parse_range(declared))
