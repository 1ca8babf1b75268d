"""The memory allocator: which one a process runs with, and the relaunch under a faster one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlpplat import allocator


@pytest.fixture
def fake_tcmalloc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed 'tcmalloc' in a search path of its own; no relaunch has happened yet."""
    library = tmp_path / "libtcmalloc_minimal.so.4"
    library.write_bytes(b"")
    monkeypatch.setattr(allocator, "SEARCH_PATH", (str(tmp_path),))
    monkeypatch.setattr(allocator, "loaded", lambda: "system")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv(allocator.VARIABLE, raising=False)
    monkeypatch.delenv("_NLPPLAT_RELAUNCHED", raising=False)
    return library


def test_relaunch_preloads_the_library_and_runs_the_same_command(
    fake_tcmalloc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setenv("LD_PRELOAD", "/opt/other.so")
    command = ["/venv/bin/python", "-X", "dev", "/venv/bin/nlpplat", "run", "--task", "ner"]
    monkeypatch.setattr(sys, "orig_argv", command)
    monkeypatch.setattr(os, "execve", lambda path, argv, env: calls.append((path, argv, env)))
    allocator.relaunch()
    [(path, argv, env)] = calls
    assert (path, argv) == (sys.executable, command)  # the interpreter's flags and script kept
    assert env["LD_PRELOAD"] == f"{fake_tcmalloc} /opt/other.so"
    assert env["_NLPPLAT_RELAUNCHED"] == "1"  # the new process does not relaunch again


@pytest.mark.parametrize(
    ("variable", "value"),
    [("NLPPLAT_ALLOCATOR", "system"), ("_NLPPLAT_RELAUNCHED", "1")],
)
def test_no_relaunch_when_asked_not_to_or_already_done(
    fake_tcmalloc: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert allocator.wanted() is None


def test_auto_keeps_an_allocator_the_user_preloaded(
    fake_tcmalloc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(allocator, "loaded", lambda: "jemalloc")
    assert allocator.wanted() is None
    monkeypatch.setenv(allocator.VARIABLE, "tcmalloc")  # named: that one it is
    assert allocator.wanted() == ("tcmalloc", fake_tcmalloc)


def test_no_relaunch_without_the_library_and_a_warning_when_it_was_named(
    fake_tcmalloc: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert allocator.wanted() == ("tcmalloc", fake_tcmalloc)
    fake_tcmalloc.unlink()
    assert allocator.wanted() is None
    assert capsys.readouterr().err == ""  # auto: silently the system's
    monkeypatch.setenv(allocator.VARIABLE, "jemalloc")
    assert allocator.wanted() is None
    assert "NLPPLAT_ALLOCATOR=jemalloc: libjemalloc is not installed" in capsys.readouterr().err


def test_an_unknown_allocator_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(allocator.VARIABLE, "mimalloc")
    with pytest.raises(SystemExit, match=r"NLPPLAT_ALLOCATOR='mimalloc': use one of auto, tcmalloc"):
        allocator.wanted()


@pytest.mark.skipif(allocator.find("tcmalloc") is None, reason="tcmalloc is not installed")
def test_a_preloaded_library_is_recognised_in_the_process() -> None:
    """The real thing: a process started with tcmalloc preloaded reports it (results record it)."""
    script = "from nlpplat import allocator; print(allocator.loaded())"
    env = dict(os.environ, LD_PRELOAD=str(allocator.find("tcmalloc")))
    preloaded = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    env.pop("LD_PRELOAD")
    plain = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert (preloaded.stdout.strip(), plain.stdout.strip()) == ("tcmalloc", "system")
