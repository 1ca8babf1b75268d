"""Dataset specs, the demo generator, plugin registration, and the real corpora when present."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import pytest

from nlpplat import DatasetSpec
from nlpplat.plugins import make_plugin_host
from nlpplat.registry import build_registry
from nlpplat_ner import plugin
from nlpplat_ner.datasets import CONLL2003, DATASETS, DEMO, UNER_EN_EWT
from nlpplat_ner.demo import SIZES, write_demo
from nlpplat_ner.schemes import to_spans
from nlpplat_ner.task import NERConfig, NERTask

DEMO_TEST_SHA256 = "46cf8469af020ce0842da8f9115b32da24a871d40b29e41ffb1da451935f2c7d"


def data_dir() -> Path:
    """``$NLPPLAT_DATA_DIR``, else ``<repo>/../shared/data``."""
    configured = os.environ.get("NLPPLAT_DATA_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def entity_counts(sentences) -> Counter:
    return Counter(span.type for sentence in sentences for span in to_spans(sentence.tags))


# -- registration --------------------------------------------------------------------
def test_plugin_registers_the_task_and_datasets():
    host = make_plugin_host(load_entry_points=False)
    host.register(plugin, "ner")
    try:
        registry = build_registry(host)
        assert host.statuses["ner"].errors == []
        assert registry.task("ner") is NERTask
        assert [spec.name for spec in registry.datasets_for("ner")] == ["conll2003", "demo", "uner-en-ewt"]
    finally:
        host.unregister("ner")


def test_specs():
    assert all(isinstance(spec, DatasetSpec) and spec.task == "ner" for spec in DATASETS)
    assert CONLL2003.folder == "conll2003-en"
    assert CONLL2003.files == {"train": "train.conll.gz", "dev": "dev.conll", "test": "test.conll"}
    assert not CONLL2003.urls  # licence-gated: never downloaded
    for original in ("eng.train", "eng.testa", "eng.testb", "NLPPLAT_DATA_DIR", "~/.cache/nlpplat/datasets/"):
        assert original in CONLL2003.manual
    assert "Tjong Kim Sang" in CONLL2003.citation
    assert set(UNER_EN_EWT.files) == set(UNER_EN_EWT.urls) == set(UNER_EN_EWT.sha256) == {"dev", "test"}
    assert DEMO.generate is write_demo and not DEMO.urls


# -- the demo corpus -----------------------------------------------------------------
def test_demo_is_deterministic_and_reads_as_iob1(tmp_path):
    write_demo(tmp_path / "a")
    write_demo(tmp_path / "b")
    task = NERTask()
    for split, size in SIZES.items():
        first = (tmp_path / "a" / f"{split}.conll").read_bytes()
        assert first == (tmp_path / "b" / f"{split}.conll").read_bytes()
        assert first.startswith(b"-DOCSTART- -X- -X- O\n\n")
        sentences = task.read(tmp_path / "a" / f"{split}.conll")
        assert len(sentences) == size
        assert {sentence.scheme for sentence in sentences} == {"IOB1"}
        assert set(entity_counts(sentences)) == {"PER", "ORG", "LOC", "MISC"}
        assert {len(sentence.rows[0]) for sentence in sentences} == {4}
    train = task.read(tmp_path / "a" / "train.conll")
    tags = [tag for sentence in train for tag in sentence.tags]
    assert "B-PER" in tags and "B-LOC" in tags  # touching same-type entities exercise IOB1's B-
    assert any(span.end - span.start > 1 for sentence in train for span in to_spans(sentence.tags))


def test_demo_fingerprint(tmp_path):
    """The demo's bytes are public: a change must be deliberate (then add a new dataset name)."""
    write_demo(tmp_path)
    digest = hashlib.sha256((tmp_path / "test.conll").read_bytes()).hexdigest()
    assert digest == DEMO_TEST_SHA256


# -- the real corpora, where a copy is around -----------------------------------------
CONLL_SIZES = {  # split: (sentences, tokens, PER, LOC, ORG, MISC, B- tags), from its README
    "train": (14_041, 203_621, 6_600, 7_140, 6_321, 3_438, 70),
    "dev": (3_250, 51_362, 1_842, 1_837, 1_341, 922, 4),
    "test": (3_453, 46_435, 1_617, 1_668, 1_661, 702, 20),
}


@pytest.mark.slow
@pytest.mark.parametrize("split", list(CONLL_SIZES))
def test_conll2003_counts_match_its_readme(split):
    folder = data_dir() / CONLL2003.folder
    if not folder.is_dir():
        pytest.skip(f"no CoNLL-2003 copy at {folder}")
    sentences = NERTask().read(folder / CONLL2003.files[split])
    counts = entity_counts(sentences)
    b_tags = sum(tag.startswith("B-") for sentence in sentences for tag in sentence.tags)
    found = (len(sentences), sum(len(s.tokens) for s in sentences), counts["PER"], counts["LOC"])
    found += (counts["ORG"], counts["MISC"], b_tags)
    assert found == CONLL_SIZES[split]
    assert {sentence.scheme for sentence in sentences} == {"IOB1"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("split", "sizes"), [("dev", (2_001, 25_149, 343, 224, 399)), ("test", (2_077, 25_097, 449, 322, 317))]
)
def test_universal_ner_counts_match_its_readme(split, sizes):
    folder = data_dir() / UNER_EN_EWT.folder
    if not folder.is_dir():
        pytest.skip(f"no Universal NER copy at {folder}")
    sentences = NERTask(NERConfig(token_column=1, tag_column=2)).read(folder / UNER_EN_EWT.files[split])
    counts = entity_counts(sentences)
    found = (
        len(sentences),
        sum(len(s.tokens) for s in sentences),
        counts["PER"],
        counts["ORG"],
        counts["LOC"],
    )
    assert found == sizes
    assert {sentence.scheme for sentence in sentences} == {"IOB2"}
