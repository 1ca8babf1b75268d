"""Plugin API ranges: the forms a plugin may declare, and what they admit."""

from __future__ import annotations

import pytest

import nlpplat
from nlpplat.api import PLUGIN_API, InvalidRangeError, parse_range, supports


def test_the_host_declares_its_api_version() -> None:
    assert nlpplat.PLUGIN_API == PLUGIN_API == 1


@pytest.mark.parametrize(
    ("declared", "version", "expected"),
    [
        (1, 1, True),
        (1, 2, False),
        ("1", 1, True),
        ("==1", 2, False),
        (">=1,<2", 1, True),
        (">=1,<2", 2, False),
        (" >= 1 , < 3 ", 2, True),
        (">1", 1, False),
        ("<=2", 2, True),
        ("!=2", 2, False),
        (">=2", 1, False),
    ],
)
def test_supports(declared: object, version: int, expected: bool) -> None:
    assert supports(declared, version) is expected


@pytest.mark.parametrize("declared", ["", "1.0", ">=1,", "~=1", "latest", True, 1.0, (1, 2), None])
def test_malformed_ranges_say_what_is_valid(declared: object) -> None:
    with pytest.raises(InvalidRangeError, match=r"write a whole number \(NLPPLAT_API = 1\)"):
        parse_range(declared)
