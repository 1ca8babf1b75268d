"""Documentation that is checked: every hook documented and tested, generated pages fresh."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from nlpplat import docgen, hookspecs

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", docgen.hook_names())
def test_hook_is_documented(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert ":returns:" in doc, f"{name}: its docstring does not say what it returns"
    assert "Example::" in doc, f"{name}: its docstring has no example"
    assert f"`{name}(" in (REPO / "docs" / "plugin-hooks.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", docgen.hook_names())
def test_hook_has_a_test(name: str) -> None:
    tree = ast.parse((REPO / "tests" / "test_hooks.py").read_text(encoding="utf-8"))
    tests = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert f"test_{name}" in tests, f"tests/test_hooks.py has no test_{name}"


@pytest.mark.parametrize("page", sorted(docgen.PAGES))
def test_generated_page_is_up_to_date(page: str) -> None:
    committed = (REPO / "docs" / page).read_text(encoding="utf-8")
    assert committed == docgen.PAGES[page](), f"docs/{page} is stale: run `python -m nlpplat.docgen`"
