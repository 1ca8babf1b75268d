"""Third-party plugins end to end, with the real pip, in fresh virtual environments.

A wheel of ``examples/nlpplat-cnn`` is built, installed with ``nlpplat install`` into a
new environment, used for a run, restored into a second environment from the manifest
(as after an upgrade of nlpplat) and uninstalled; ``nlpplat new-plugin`` distributions
install with ``nlpplat install -e`` and pass their own tests unchanged.

How the environments see nlpplat: ``python -m venv --without-pip`` plus a ``.pth`` file
that runs ``site.addsitedir`` on the test interpreter's site-packages, so nlpplat (with
its editable first-party plugins), torch, pip and pytest are importable there without
copying or downloading anything, while whatever pip installs lands in the new
environment's own site-packages, which comes first on ``sys.path``. (``venv
--system-site-packages`` would expose the *base* interpreter's packages, not those of
the virtual environment running these tests.) pip runs with ``PIP_NO_INDEX=1``: the
tests never touch the network. Together they take about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from nlpplat import scaffold

pytestmark = pytest.mark.venv

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "nlpplat-cnn"


class Environment:
    """A fresh virtual environment that sees this interpreter's packages."""

    def __init__(self, root: Path, data: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
        self.python = root / "bin" / "python"
        own = Path(self._ask("import sysconfig; print(sysconfig.get_paths()['purelib'])"))
        parents = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
        (own / "_parent_site.pth").write_text(
            "".join(f"import site; site.addsitedir({path!r})\n" for path in parents), encoding="utf-8"
        )
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("NLPPLAT_DATA_DIR", "NLPPLAT_LOAD_PLUGINS", "PYTHONPATH", "VIRTUAL_ENV")
        }
        self.env.update(
            NLPPLAT_CACHE=str(data / "cache"),
            NLPPLAT_DB=str(data / "leaderboard.sqlite"),
            NLPPLAT_PLUGIN_MANIFEST=str(data / "plugins.json"),
            PIP_NO_INDEX="1",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            COLUMNS="250",  # rich tables: no wrapped names
        )
        self.cwd = data

    def _ask(self, code: str) -> str:
        return subprocess.run(
            [str(self.python), "-c", code], check=True, capture_output=True, text=True
        ).stdout.strip()

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.python), *map(str, args)], cwd=self.cwd, env=self.env, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def nlpplat(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "nlpplat", *args)


def build_wheel(source: Path, out: Path) -> Path:
    """``pip wheel`` with this interpreter's setuptools (no isolation: nothing is downloaded)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        env={**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    [wheel] = out.glob("nlpplat_cnn-*.whl")
    return wheel


def test_a_third_party_wheel_installs_trains_survives_an_upgrade_and_uninstalls(tmp_path: Path) -> None:
    source = tmp_path / "nlpplat-cnn"  # a copy: building writes build/ and *.egg-info/
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    wheel = build_wheel(source, tmp_path / "wheels")
    env = Environment(tmp_path / "env", tmp_path)

    assert "nlpplat-cnn 0.1.0: installed" in env.nlpplat("install", wheel).stderr
    assert "dilations=(1, 2, 4)" in env.nlpplat("backbones").stdout
    statuses = {status["name"]: status for status in json.loads(env.nlpplat("plugins", "--json").stdout)}
    cnn = statuses["cnn"]
    assert (cnn["distribution"], cnn["version"], cnn["api"]) == ("nlpplat-cnn", "0.1.0", ">=1,<2")
    assert cnn["registered"] == {"backbone": ["cnn"]} and cnn["errors"] == [] and not cnn["skipped"]

    env.nlpplat(
        "run", "--task", "ner", "--backbone", "cnn", "--dataset", "demo", "--epochs", "2",
        "--output", tmp_path / "run", "--set", "train.threads=1",
    )  # fmt: skip
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["backbone"], results["dataset"]) == ("cnn", "demo")
    assert results["test"]["f1"] > 50, results["test"]  # a broken model scores near 0
    assert results["versions"]["plugins"]["nlpplat-cnn"] == "0.1.0"

    # The author's own tests, run against the installed wheel (the source is not on sys.path).
    tests = env.run("-m", "pytest", source / "tests", "-q", "-p", "no:cacheprovider")
    assert " passed" in tests.stdout and "failed" not in tests.stdout

    # An upgrade of nlpplat, or a new environment: the manifest brings the plugin back.
    upgraded = Environment(tmp_path / "env2", tmp_path)
    assert "cnn" not in upgraded.nlpplat("backbones").stdout
    upgraded.nlpplat("plugins", "--restore")
    assert "dilations=(1, 2, 4)" in upgraded.nlpplat("backbones").stdout

    env.nlpplat("uninstall", "nlpplat-cnn", "-y")
    assert "cnn" not in env.nlpplat("backbones").stdout
    assert json.loads((tmp_path / "plugins.json").read_text())["plugins"] == []


def test_new_plugin_distributions_install_and_pass_their_own_tests(tmp_path: Path) -> None:
    backbone = scaffold.new_plugin("gru", "backbone", tmp_path)
    task = scaffold.new_plugin("my-tagger", "task", tmp_path)
    env = Environment(tmp_path / "env", tmp_path)
    env.nlpplat("install", "-e", backbone, task, "--pip-arg=--no-build-isolation")

    tests = env.run("-m", "pytest", backbone, task, "-q", "-p", "no:cacheprovider")
    assert "7 passed" in tests.stdout, tests.stdout

    env.nlpplat(
        "run", "--task", "my-tagger", "--backbone", "gru", "--dataset", "my-tagger-demo", "--epochs", "2",
        "--output", tmp_path / "run", "--set", "train.threads=1",
    )  # fmt: skip
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["test"]["accuracy"] > 80, results["test"]
