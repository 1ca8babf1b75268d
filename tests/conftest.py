"""Shared fixtures: an isolated environment and a plugin host with the toy plugin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlpplat.plugins import PluginHost, make_plugin_host
from nlpplat.registry import Registry, build_registry

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NLPPLAT_DATA_DIR") or REPO.parent / "shared" / "data")
HAS_REAL_DATA = (SHARED_DATA / "conll2003-en").is_dir()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache, leaderboard and working directory."""
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NLPPLAT_DB", str(tmp_path / "leaderboard.sqlite"))
    monkeypatch.delenv("NLPPLAT_DATA_DIR", raising=False)
    monkeypatch.delenv("NLPPLAT_LOAD_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def real_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared data mirror, or a skip when this checkout has none."""
    if not HAS_REAL_DATA:
        pytest.skip("../shared/data is not available")
    monkeypatch.setenv("NLPPLAT_DATA_DIR", str(SHARED_DATA))
    return SHARED_DATA


@pytest.fixture
def toy_host() -> Iterator[PluginHost]:
    """A host with only the toy plugin, registered here and unregistered in ``finally``."""
    from tests import toy_plugin

    host = make_plugin_host(load_entry_points=False)
    host.register(toy_plugin, "toy")
    try:
        yield host
    finally:
        host.unregister("toy")


@pytest.fixture
def toy_registry(toy_host: PluginHost) -> Registry:
    return build_registry(toy_host)
