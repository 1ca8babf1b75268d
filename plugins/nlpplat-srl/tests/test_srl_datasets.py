"""Dataset specifications and the demo generator."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nlpplat.data import resolve_files
from nlpplat.errors import MissingDataError
from nlpplat.plugins import make_plugin_host
from nlpplat.registry import build_registry
from nlpplat_srl import plugin
from nlpplat_srl.conllu import read_sentences
from nlpplat_srl.datasets import DEMO, UP_EN_EWT
from nlpplat_srl.demo import SIZES, write_demo
from nlpplat_srl.task import SRLTask

DEMO_TEST_SHA256 = "ff11380713b1c894a887d543d961bd9706c93a595aeb5de066886d32468e2532"


def test_registration_and_default_datasets() -> None:
    host = make_plugin_host(load_entry_points=False)
    host.register(plugin, "srl")
    try:
        registry = build_registry(host)
        assert registry.task("srl") is SRLTask
        assert sorted(spec.name for spec in registry.datasets_for("srl")) == ["demo", "up-en-ewt"]
    finally:
        host.unregister("srl")
    assert SRLTask.default_datasets == ("up-en-ewt", "demo")  # the real benchmark first


def test_up_spec_downloads_dev_and_test_only_and_explains_train() -> None:
    assert set(UP_EN_EWT.urls) == set(UP_EN_EWT.sha256) == {"dev", "test"}
    assert all("b955f2aa8295834fcd0256c131de641116a8443a" in url for url in UP_EN_EWT.urls.values())
    assert "train" not in UP_EN_EWT.urls  # a reconstruction: no source to download it from
    for fact in ("no download source", "reconstruction", "NLPPLAT_DATA_DIR", "train.conllu"):
        assert fact in UP_EN_EWT.manual
    assert "Akbik" in UP_EN_EWT.citation and "Palmer" in UP_EN_EWT.citation
    assert DEMO.folder != "demo"  # the ner task's demo lives in datasets/demo/


def test_demo_is_deterministic_and_has_every_kind_of_sentence(tmp_path: Path) -> None:
    write_demo(tmp_path / "a")
    write_demo(tmp_path / "b")
    for split, size in SIZES.items():
        first = (tmp_path / "a" / f"{split}.conllu").read_bytes()
        assert first == (tmp_path / "b" / f"{split}.conllu").read_bytes()
        sentences = list(read_sentences(tmp_path / "a" / f"{split}.conllu"))
        assert len(sentences) == size
        assert sum(not s.annotated for s in sentences) == 1
        assert {len(s.predicates) for s in sentences} == {0, 1, 2}
        assert any(len(s.rows) > len(s.words) for s in sentences)  # ranges and empty nodes
    text = (tmp_path / "a" / "train.conllu").read_text()
    assert "\tdidn't\t" in text and "\tCopyOf=" in text
    rolesets = {r for s in read_sentences(tmp_path / "a" / "train.conllu") for r in s.rolesets}
    assert {"run.01", "run.02", "leave.01", "leave.02"} <= rolesets  # senses decided by context


def test_demo_fingerprint(tmp_path: Path) -> None:
    """The demo's bytes are public: a change must be deliberate (then register a new name)."""
    write_demo(tmp_path)
    assert hashlib.sha256((tmp_path / "test.conllu").read_bytes()).hexdigest() == DEMO_TEST_SHA256


def test_a_missing_train_file_is_explained_not_downloaded(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mirror" / "up-en-ewt").mkdir(parents=True)
    for split in ("dev", "test"):
        (tmp_path / "mirror" / "up-en-ewt" / f"{split}.conllu.gz").write_bytes(b"")
    monkeypatch.setenv("NLPPLAT_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(MissingDataError) as caught:
        resolve_files(UP_EN_EWT)  # download allowed, but train has no URL: nothing is fetched
    assert "train.conllu" in str(caught.value) and "no download source" in str(caught.value)
