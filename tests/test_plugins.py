"""Plugin loading: entry points, the allow-list, and broken plugins kept in quarantine."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlpplat.errors import UnknownNameError
from nlpplat.plugins import make_plugin_host
from nlpplat.registry import build_registry


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path where tests install fake plugin distributions."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in [name for name in sys.modules if name.startswith("fake_")]:
        del sys.modules[name]


def install(site: Path, distribution: str, module: str, source: str) -> None:
    """Write a module and a dist-info with an ``nlpplat`` entry point, as pip would."""
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{distribution.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[nlpplat]\n{module} = {module}\n")


GOOD = """
    from dataclasses import dataclass
    from nlpplat import Backbone, hookimpl

    @dataclass
    class Config:
        width: int = 4  # unused

    class Good(Backbone):
        name = "good"
        Config = Config

    @hookimpl
    def register_backbones():
        return [Good]
"""


def statuses(host):
    return {status.name: status for status in build_registry(host).plugins}


def test_entry_point_plugin_is_loaded_with_its_distribution(site: Path) -> None:
    install(site, "fake-good", "fake_good", GOOD)
    host = make_plugin_host()
    registry = build_registry(host)
    assert registry.backbone("good").name == "good"
    status = statuses(host)["fake_good"]
    assert (status.distribution, status.version, status.hooks) == (
        "fake-good",
        "1.2.3",
        ["register_backbones"],
    )
    assert status.registered == {"backbone": ["good"]} and status.ok


def test_plugin_that_fails_to_import_is_reported_and_the_rest_works(site: Path) -> None:
    install(site, "fake-good", "fake_good", GOOD)
    install(site, "fake-broken", "fake_broken", "import not_a_module_anywhere\n")
    host = make_plugin_host()
    assert build_registry(host).backbone("good")
    assert "failed to import" in statuses(host)["fake_broken"].errors[0]
    assert "No module named 'not_a_module_anywhere'" in statuses(host)["fake_broken"].errors[0]


def test_misspelled_hook_is_reported_with_a_suggestion(site: Path) -> None:
    install(site, "fake-typo", "fake_typo", GOOD.replace("def register_backbones", "def register_backbone"))
    host = make_plugin_host()
    [error] = statuses(host)["fake_typo"].errors
    assert error == "implements unknown hook 'register_backbone' (did you mean 'register_backbones'?)"
    with pytest.raises(UnknownNameError):
        build_registry(host).backbone("good")


def test_wrong_return_type_is_reported(site: Path) -> None:
    install(site, "fake-wrong", "fake_wrong", GOOD.replace("return [Good]", "return [Good, 'lstm']"))
    host = make_plugin_host()
    registry = build_registry(host)
    assert registry.backbone("good")  # the valid item is kept
    assert statuses(host)["fake_wrong"].errors == [
        "register_backbones returned 'lstm', which is not a Backbone subclass"
    ]


def test_name_registered_twice_names_both_providers(site: Path) -> None:
    install(site, "fake-one", "fake_one", GOOD)
    install(site, "fake-two", "fake_two", GOOD)
    host = make_plugin_host()
    registry = build_registry(host)
    assert "backbone 'good' is also registered by fake_two" in statuses(host)["fake_one"].errors
    with pytest.raises(UnknownNameError, match=r"more than one plugin \(fake_one, fake_two\)"):
        registry.backbone("good")


def loaded(host) -> set[str]:
    return {name for name, status in statuses(host).items() if not status.skipped}


def test_allow_list_loads_only_named_distributions(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(site, "fake-good", "fake_good", GOOD)
    monkeypatch.setenv("NLPPLAT_LOAD_PLUGINS", "fake-good")
    host = make_plugin_host()
    assert loaded(host) == {"fake_good"}
    assert set(host.pm.list_name_plugin()) == {("fake_good", host.pm.get_plugin("fake_good"))}
    monkeypatch.setenv("NLPPLAT_LOAD_PLUGINS", "")
    assert loaded(make_plugin_host()) == set()


def test_plugins_left_out_by_the_allow_list_are_listed_as_disabled(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(site, "fake-good", "fake_good", GOOD)
    install(site, "fake-other", "fake_other", GOOD.replace('"good"', '"other"'))
    monkeypatch.setenv("NLPPLAT_LOAD_PLUGINS", "fake-good")
    other = statuses(make_plugin_host())["fake_other"]
    assert other.disabled and not other.ok and other.hooks == []
    assert other.skipped == "not named in NLPPLAT_LOAD_PLUGINS='fake-good'"
    assert "fake_other" not in sys.modules  # never imported


def test_plugin_for_another_api_version_is_skipped_with_one_clear_message(site: Path) -> None:
    install(site, "fake-good", "fake_good", GOOD)
    install(
        site,
        "fake-future",
        "fake_future",
        'NLPPLAT_API = ">=2,<3"\n' + textwrap.dedent(GOOD).replace('"good"', '"future"'),
    )
    host = make_plugin_host()
    registry = build_registry(host)
    assert registry.backbone("good")  # the others keep working
    future = statuses(host)["fake_future"]
    assert not future.ok and not future.disabled and future.errors == [] and future.api == ">=2,<3"
    assert future.skipped == (
        "supports plugin API >=2,<3 but this nlpplat provides API 1: install a release of the plugin "
        "made for it, or an nlpplat in its range"
    )
    with pytest.raises(
        UnknownNameError, match=r"Plugins skipped: fake_future \(see `nlpplat plugins --all`\)"
    ):
        registry.backbone("future")


def test_plugin_that_states_a_matching_api_range_loads(site: Path) -> None:
    install(site, "fake-good", "fake_good", "NLPPLAT_API = 1\n" + textwrap.dedent(GOOD))
    status = statuses(make_plugin_host())["fake_good"]
    assert status.ok and status.api == "1"


def test_malformed_api_range_is_a_load_error(site: Path) -> None:
    install(site, "fake-good", "fake_good", "NLPPLAT_API = 'one or two'\n" + textwrap.dedent(GOOD))
    [error] = statuses(make_plugin_host())["fake_good"].errors
    assert error.startswith("NLPPLAT_API = 'one or two' is not a plugin API range")


def test_two_distributions_with_one_entry_point_name(site: Path) -> None:
    install(site, "fake-good", "fake_good", GOOD)
    info = site / "fake_clone-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-clone\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nlpplat]\nfake_good = fake_good\n")
    found = statuses(make_plugin_host())
    clash = next(status for name, status in found.items() if name.startswith("fake_good ("))
    assert "entry-point name 'fake_good' is already used by" in clash.errors[0]
    assert found["fake_good"].ok


def test_trace_logs_every_hook_call_to_stderr(
    toy_host, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests import toy_plugin

    monkeypatch.setenv("NLPPLAT_TRACE_PLUGINS", "1")
    host = make_plugin_host(load_entry_points=False)
    host.register(toy_plugin, "toy")
    build_registry(host)
    host.pm.hook.register_tasks()  # a call through pluggy is traced too
    lines = capsys.readouterr().err.splitlines()
    assert any(
        line.startswith("[nlpplat trace] register_backbones → toy returned [ToyBackbone] in ")
        for line in lines
    ), lines
    assert "[nlpplat trace] register_tasks() → toy" in lines
    assert any(line.startswith("[nlpplat trace] register_tasks returned [[ToyTask]]") for line in lines)


def test_no_trace_by_default(toy_host, capsys: pytest.CaptureFixture[str]) -> None:
    build_registry(toy_host)
    assert capsys.readouterr().err == ""


def test_unknown_name_lists_what_is_available(toy_registry) -> None:
    with pytest.raises(UnknownNameError) as caught:
        toy_registry.backbone("lstmm")
    assert str(caught.value) == "No backbone named 'lstmm'. Available: toy."
