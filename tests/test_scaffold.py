"""`nlpplat new-plugin`: names, files, and code that is clean from the start.

That the generated distributions install and pass their own tests is checked in
tests/test_third_party.py, in a fresh virtual environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlpplat import scaffold
from nlpplat.cli import cli

REPO = Path(__file__).resolve().parents[1]


def test_names() -> None:
    assert (
        scaffold.names("nlpplat-my-tagger")
        == scaffold.names("my-tagger")
        == {
            "name": "my-tagger",
            "distribution": "nlpplat-my-tagger",
            "package": "nlpplat_my_tagger",
            "Class": "MyTagger",
            "api_range": ">=1,<2",
        }
    )


@pytest.mark.parametrize("bad", ["GRU", "my_tagger", "2gru", "gru-", "a--b", ""])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(scaffold.ScaffoldError, match="lower-case letters, digits and single hyphens"):
        scaffold.names(bad)


@pytest.mark.parametrize(
    ("kind", "files"),
    [
        ("backbone", ["nlpplat_gru/backbone.py", "nlpplat_gru/plugin.py", "tests/test_nlpplat_gru.py"]),
        ("task", ["nlpplat_gru/task.py", "nlpplat_gru/datasets.py", "nlpplat_gru/plugin.py"]),
    ],
)
def test_cli_writes_a_distribution(tmp_path: Path, kind: str, files: list[str]) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", "gru", "--kind", kind, "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "nlpplat-gru"
    assert f"wrote {folder}" in result.stderr
    for name in ["pyproject.toml", "README.md", "nlpplat_gru/__init__.py", *files]:
        assert (folder / name).is_file(), name
    pyproject = (folder / "pyproject.toml").read_text()
    assert '[project.entry-points.nlpplat]\ngru = "nlpplat_gru.plugin"' in pyproject
    assert 'NLPPLAT_API = ">=1,<2"' in (folder / "nlpplat_gru" / "plugin.py").read_text()
    for path in folder.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # no template placeholder left in the code
    assert "$" not in "".join(path.read_text() for path in folder.rglob("*") if path.is_file())


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    scaffold.new_plugin("gru", "backbone", tmp_path)
    with pytest.raises(scaffold.ScaffoldError, match="already exists"):
        scaffold.new_plugin("nlpplat-gru", "task", tmp_path)


@pytest.mark.skipif(
    not (shutil.which("ruff") or (Path(sys.executable).parent / "ruff").exists()), reason="no ruff"
)
def test_generated_code_passes_the_projects_linter(tmp_path: Path) -> None:
    for kind, name in (("backbone", "gru"), ("task", "my-tagger")):
        scaffold.new_plugin(name, kind, tmp_path)
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    config = ["--no-cache", "--config", str(REPO / "pyproject.toml")]
    for command in (["check", *config], ["format", "--check", *config]):
        result = subprocess.run([ruff, *command, str(tmp_path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
