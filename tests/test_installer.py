"""`nlpplat install` / `uninstall` / `plugins --restore`, with pip replaced by a recorder.

The real pip runs in tests/test_third_party.py; here we check what pip is asked to do
and what the manifest remembers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlpplat import installer
from nlpplat.cli import cli
from nlpplat.installer import InstallError, Manifest, ManifestEntry


class FakePip:
    """Records pip's arguments; writes a ``--report`` naming ``installs`` as pip would."""

    def __init__(self, installs: list[tuple[str, str]] = (), fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.installs, self.fail = list(installs), fail

    def __call__(self, args: list[str]) -> None:
        self.calls.append(list(args))
        if self.fail:
            raise InstallError("pip install failed (exit status 1; its messages are above)")
        if "--report" in args:
            report = {
                "install": [
                    {"requested": True, "metadata": {"name": name, "version": version}}
                    for name, version in self.installs
                ]
            }
            Path(args[args.index("--report") + 1]).write_text(json.dumps(report))


@pytest.fixture
def manifest_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "plugins.json"
    monkeypatch.setenv("NLPPLAT_PLUGIN_MANIFEST", str(path))
    return path


@pytest.fixture
def pip(monkeypatch: pytest.MonkeyPatch, manifest_file: Path) -> FakePip:
    fake = FakePip(installs=[("nlpplat-gru", "1.0")])
    monkeypatch.setattr(installer, "run_pip", fake)
    monkeypatch.setattr(installer, "_installed_version", lambda name: "1.0")
    return fake


def without_report(args: list[str]) -> list[str]:
    return args[: args.index("--report")] if "--report" in args else args


def entries(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    assert data["format"] == 1
    return data["plugins"]


def test_pip_runs_in_nlpplats_own_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda command, check: seen.append(command) or subprocess.CompletedProcess(command, 0),
    )
    installer.run_pip(["install", "nlpplat-gru"])
    assert seen == [[sys.executable, "-m", "pip", "install", "nlpplat-gru"]]
    monkeypatch.setattr(subprocess, "run", lambda command, check: subprocess.CompletedProcess(command, 3))
    with pytest.raises(InstallError, match=r"pip install failed \(exit status 3"):
        installer.run_pip(["install", "nlpplat-gru"])


def test_manifest_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NLPPLAT_PLUGIN_MANIFEST", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert installer.manifest_path() == tmp_path / "nlpplat" / "plugins.json"
    monkeypatch.setenv("NLPPLAT_PLUGIN_MANIFEST", str(tmp_path / "m.json"))
    assert installer.manifest_path() == tmp_path / "m.json"


def test_install_by_name_records_it(pip: FakePip, manifest_file: Path) -> None:
    [entry] = installer.install(["nlpplat-gru"], upgrade=True, pip_args=["--no-index"])
    assert without_report(pip.calls[0]) == ["install", "--upgrade", "--no-index", "nlpplat-gru"]
    assert (entry.distribution, entry.version, entry.editable) == ("nlpplat-gru", "1.0", False)
    [saved] = entries(manifest_file)
    assert saved["requirement"] == "nlpplat-gru" and saved["pip_args"] == ["--no-index"]


def test_local_paths_are_recorded_absolute(pip: FakePip, manifest_file: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "nlpplat_gru-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "Nlpplat_Tagger"\n')
    installer.install(["nlpplat_gru-1.0-py3-none-any.whl"])  # relative to the working directory
    installer.install(["./src"], editable=True)
    assert without_report(pip.calls[1]) == ["install", "-e", str(folder)]
    saved = {entry["distribution"]: entry for entry in entries(manifest_file)}
    assert saved["nlpplat-gru"]["requirement"] == str(wheel)
    assert saved["nlpplat-tagger"]["requirement"] == str(folder) and saved["nlpplat-tagger"]["editable"]


def test_a_git_url_is_named_from_pips_report(pip: FakePip, manifest_file: Path) -> None:
    url = "git+https://example.org/someone/gru.git@v1"
    [entry] = installer.install([url])
    assert (entry.requirement, entry.distribution) == (url, "nlpplat-gru")


def test_installing_again_replaces_the_entry(pip: FakePip, manifest_file: Path) -> None:
    installer.install(["nlpplat-gru"])
    installer.install(["nlpplat-gru>=1.0"])
    assert [entry["requirement"] for entry in entries(manifest_file)] == ["nlpplat-gru>=1.0"]


def test_requirements_file(pip: FakePip, manifest_file: Path, tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    requirements = tmp_path / "plugins.txt"
    requirements.write_text(
        "# plugins\n--index-url https://example.org/simple\nnlpplat-gru==1.0  # pinned\n-e ./local\n"
    )
    installer.install(requirement_files=[str(requirements)])
    assert without_report(pip.calls[0]) == ["install", "-r", str(requirements)]
    saved = entries(manifest_file)
    assert [(e["requirement"], e["editable"]) for e in saved] == [
        ("nlpplat-gru==1.0", False),
        (str(tmp_path / "local"), True),
    ]


def test_nothing_is_recorded_when_pip_fails(monkeypatch: pytest.MonkeyPatch, manifest_file: Path) -> None:
    monkeypatch.setattr(installer, "run_pip", FakePip(fail=True))
    with pytest.raises(InstallError):
        installer.install(["nlpplat-gru"])
    assert not manifest_file.exists()


def test_bad_requests_are_one_line_errors(pip: FakePip) -> None:
    with pytest.raises(InstallError, match="nothing to install"):
        installer.install([])
    with pytest.raises(InstallError, match=r"\./missing\.whl: no such file or directory"):
        installer.install(["./missing.whl"])


def test_a_corrupt_manifest_says_how_to_recover(manifest_file: Path) -> None:
    manifest_file.parent.mkdir(parents=True)
    manifest_file.write_text("{not json")
    with pytest.raises(InstallError, match=r"not a plugin manifest .* delete it"):
        Manifest()


def test_uninstall_forgets_the_plugin(
    pip: FakePip, manifest_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installer.install(["nlpplat-gru"])
    installer.uninstall("nlpplat_gru", yes=True)
    assert pip.calls[-1] == ["uninstall", "--yes", "nlpplat_gru"]
    assert entries(manifest_file) == []


def test_uninstall_refuses_nlpplat_itself_and_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(installer, "run_pip", FakePip())
    for core in ("nlpplat", "Torch", "pluggy"):
        with pytest.raises(InstallError, match="nlpplat itself or something it needs, not a plugin"):
            installer.uninstall(core)
    with pytest.raises(
        InstallError,
        match=r"No distribution named 'nlpplat-nothing' is installed\. Installed plugin distributions: .*nlpplat-rnn",
    ):
        installer.uninstall("nlpplat-nothing")


def test_restore_reinstalls_everything_listed(pip: FakePip, manifest_file: Path, tmp_path: Path) -> None:
    manifest = Manifest()
    manifest.add(ManifestEntry("nlpplat-gru", "nlpplat-gru", "0.9"))
    manifest.add(ManifestEntry(str(tmp_path), "nlpplat-local", "0.1", editable=True))
    manifest.add(ManifestEntry("nlpplat-offline", "nlpplat-offline", "1", pip_args=["--no-index"]))
    manifest.save()
    restored = installer.restore()
    assert pip.calls == [
        ["install", "nlpplat-gru", "-e", str(tmp_path)],
        ["install", "--no-index", "nlpplat-offline"],
    ]
    assert [entry.version for entry in restored] == ["1.0", "1.0", "1.0"]


def test_restore_reports_vanished_paths_after_installing_the_rest(
    pip: FakePip, manifest_file: Path, tmp_path: Path
) -> None:
    manifest = Manifest()
    manifest.add(ManifestEntry("nlpplat-gru", "nlpplat-gru"))
    manifest.add(ManifestEntry(str(tmp_path / "gone.whl"), "nlpplat-gone"))
    manifest.save()
    with pytest.raises(
        InstallError, match=r"restored 1 plugin\(s\), but these paths no longer exist: .*gone.whl"
    ):
        installer.restore()
    assert pip.calls == [["install", "nlpplat-gru"]]
    assert len(entries(manifest_file)) == 2  # kept, for the user to decide


def test_cli_install_uninstall_and_restore(pip: FakePip, manifest_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["install", "-U", "nlpplat-gru", "--pip-arg=--no-index"])
    assert result.exit_code == 0, result.output
    assert without_report(pip.calls[-1]) == ["install", "--upgrade", "--no-index", "nlpplat-gru"]
    result = runner.invoke(cli, ["plugins", "--restore", "--json"])
    assert result.exit_code == 0, result.output
    assert pip.calls[-1] == ["install", "--no-index", "nlpplat-gru"]
    assert "rnn" in {status["name"] for status in json.loads(result.stdout)}
    result = runner.invoke(cli, ["uninstall", "nlpplat-gru", "-y"])
    assert (result.exit_code, result.stderr) == (0, "nlpplat-gru 1.0: uninstalled\n")
    assert pip.calls[-1] == ["uninstall", "--yes", "nlpplat-gru"] and entries(manifest_file) == []


def test_guess_distribution() -> None:
    guess = installer.guess_distribution
    assert guess("Nlpplat_GRU[cuda]>=1.0") == "nlpplat-gru"
    assert guess("nlpplat-gru @ https://example.org/x.whl") == "nlpplat-gru"
    assert guess("/tmp/wheels/nlpplat_cnn-0.1.0-py3-none-any.whl") == "nlpplat-cnn"
    assert guess("git+https://example.org/x.git#egg=nlpplat-x") == "nlpplat-x"
    assert guess("git+https://example.org/x.git") == ""
