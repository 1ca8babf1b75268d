"""The translation task: kit conformance, subwords, targets, metrics, statistics, a short run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import sacrebleu
from click.testing import CliRunner
from translation_samples import SOURCES, TARGETS

import nlpplat_translation.plugin
from nlpplat import testing
from nlpplat.cli import cli
from nlpplat.errors import ConfigError
from nlpplat.subwords import BOS, EOS, PAD
from nlpplat_translation.datasets import DEMO, MULTI30K
from nlpplat_translation.reader import Pair
from nlpplat_translation.task import TranslationConfig, TranslationTask

SMALL = TranslationConfig(vocab_size=120, beam=3)


def test_task_conforms(sample: Path) -> None:
    # Predictions are plain hypothesis lines (what sacrebleu and every MT tool read), not a
    # parallel corpus, so the reader cannot read them back: no round trip.
    testing.check_task(
        TranslationTask,
        sample,
        gold=lambda pair: pair.target,
        config=SMALL,
        text="A man rides a bike.",
        round_trip=False,
    )


def test_plugin_registers_the_task_and_every_multi30k_direction() -> None:
    names = [
        f"multi30k-{s}-{t}" for s in ("en", "de", "fr", "cs") for t in ("en", "de", "fr", "cs") if s != t
    ]
    testing.check_plugin(
        nlpplat_translation.plugin, tasks=["translation"], datasets=[*names, "demo"], commands=["export"]
    )


def test_dataset_specs_are_valid() -> None:
    for spec in MULTI30K:
        testing.check_dataset_spec(spec, TranslationTask)
    en_de = next(spec for spec in MULTI30K if spec.name == "multi30k-en-de")
    assert en_de.files["test"] == "test.en.gz" and en_de.extra_files["test"] == ("test.de.gz",)
    assert en_de.urls["test.de.gz"].endswith("/raw/test_2016_flickr.de.gz")
    assert en_de.task_defaults == {"source": "en", "target": "de"} and en_de.language == "en"


def test_demo_dataset_conforms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path))
    testing.check_dataset(DEMO, task_cls=TranslationTask)


def test_multi30k_resolves_in_the_mirror(multi30k: Path) -> None:
    for spec in MULTI30K:
        testing.check_dataset_files(spec, mirror=multi30k.parent)


@pytest.mark.slow
def test_multi30k_sizes(multi30k: Path) -> None:
    task = TranslationTask(TranslationConfig(source="en", target="de"))
    sizes = {split: len(task.read(multi30k / f"{split}.en")) for split in ("train", "dev", "test")}
    assert sizes == {"train": 29000, "dev": 1014, "test": 1000}
    assert [path.name for path in task.files(multi30k / "train.en.gz")] == ["train.en.gz", "train.de.gz"]


def fitted(sample: Path, **settings) -> tuple[TranslationTask, list[Pair]]:
    task = TranslationTask(dataclasses.replace(SMALL, **settings))
    examples = task.read(sample)
    task.fit(examples)
    return task, examples


def test_subwords_are_learned_on_training_data_and_survive_the_state_dict(sample: Path) -> None:
    task, examples = fitted(sample)
    pieces = task.tokens(examples[0])
    assert "".join(pieces).replace("▁", " ").strip() == SOURCES[0]  # pieces spell the raw text
    again = TranslationTask(SMALL)
    again.load_state_dict(json.loads(json.dumps(task.state_dict())))
    assert again.subwords.source_pieces(SOURCES[3]) == task.subwords.source_pieces(SOURCES[3])
    ids = again.subwords.target_ids(TARGETS[5])
    assert again.subwords.detokenize(ids) == TARGETS[5]  # detokenization restores the raw text


def test_separate_vocabularies(sample: Path) -> None:
    task, _ = fitted(sample, joint_vocab=False)
    assert not task.subwords.joint
    assert task.subwords.source_pieces("Hunde") != task.subwords.target.encode("Hunde", out_type=str)


def test_targets_shift_the_target_by_one(sample: Path) -> None:
    task, examples = fitted(sample)
    targets = task.targets(examples[:2], length=99)
    prefix, gold = targets["prefix"], targets["gold"]
    ids = task.subwords.target_ids(TARGETS[1])
    assert prefix[1, : len(ids) + 1].tolist() == [BOS, *ids]
    assert gold[1, : len(ids) + 1].tolist() == [*ids, EOS]
    assert (gold[1, len(ids) + 1 :] == PAD).all() and prefix.shape == gold.shape


def test_dev_evaluations_during_training_decode_with_validation_decoding(sample: Path) -> None:
    task, _ = fitted(sample, decoding="beam", beam=4, validation_decoding="greedy")
    assert task.decoding.decoding == "beam"
    with task.validation():
        assert task.decoding.decoding == "greedy" and task.decoding.beam == 4
    assert task.decoding.decoding == "beam"
    with pytest.raises(ConfigError, match="validation_decoding"):
        dataclasses.replace(SMALL, validation_decoding="viterbi")


def test_metrics_are_sacrebleus(sample: Path) -> None:
    task, examples = fitted(sample)
    hypotheses = [target.replace("Mann", "Herr") for target in TARGETS]
    metrics = task.metrics(hypotheses, examples)
    assert metrics["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hypotheses, [TARGETS]).score)
    assert metrics["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hypotheses, [TARGETS]).score)
    assert metrics["ter"] == pytest.approx(sacrebleu.corpus_ter(hypotheses, [TARGETS]).score)
    assert metrics["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert "BLEU: nrefs:1" in task.metric_signature() and "TER:" in task.metric_signature()


def test_example_statistics_reproduce_corpus_bleu_on_any_subset(sample: Path) -> None:
    task, examples = fitted(sample)
    hypotheses = ["Ein Mann fährt Rad.", *TARGETS[1:4], "Ein Mann sitzt.", TARGETS[5]]
    rows = task.example_statistics(hypotheses, examples)
    for subset in ([0, 1, 2, 3, 4, 5], [0, 4], [1, 1, 5, 0]):
        totals = [sum(rows[i][k] for i in subset) for k in range(len(rows[0]))]
        expected = sacrebleu.corpus_bleu(
            [hypotheses[i] for i in subset], [[TARGETS[i] for i in subset]]
        ).score
        assert task.metric_from_statistics(totals) == pytest.approx(expected)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"task\.subword_model"):
        TranslationConfig(subword_model="wordpiece")
    with pytest.raises(ConfigError, match=r"task\.decoding"):
        TranslationConfig(decoding="nucleus")


def test_predict_text_splits_sentences_and_keeps_offsets(sample: Path) -> None:
    task, _ = fitted(sample)
    text = "A man rides a bike.  Two dogs play."
    results = task.predict_text(text, lambda examples: [pair.source.upper() for pair in examples])
    assert [(r["source"], r["translation"]) for r in results] == [
        ("A man rides a bike.", "A MAN RIDES A BIKE."),
        ("Two dogs play.", "TWO DOGS PLAY."),
    ]
    assert text[results[1]["start"] : results[1]["end"]] == "Two dogs play."
    assert task.predict_text("  ", lambda examples: []) == []


@pytest.mark.parametrize("backbone", ["lstm", "transformer"])
def test_short_demo_run_then_predict(backbone: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NLPPLAT_DB", str(tmp_path / "board.sqlite"))
    run = tmp_path / "run"
    small = {
        "lstm": ["backbone.hidden=32", "backbone.layers=1"],
        "transformer": ["backbone.d_model=32", "backbone.heads=2", "backbone.layers=1", "backbone.ff=64"],
    }[backbone]
    small += ["embeddings.word_dim=32", "train.batch_tokens=800", "train.threads=1", "train.lr=0.005"]
    small += ["task.decoding=greedy"]
    settings = [part for setting in small for part in ("--set", setting)]
    command = ["run", "--task", "translation", "--backbone", backbone, "--dataset", "demo", "--epochs", "2"]
    result = CliRunner().invoke(cli, [*command, "--output", str(run), *settings])
    assert result.exit_code == 0, result.output
    results = json.loads((run / "results.json").read_text())
    assert set(results["test"]) >= {"bleu", "chrf", "ter", "bleu_signature"}
    assert results["decoding"]["decoder"] == "greedy"
    # Averaging the 2 evaluations is kept only if it scores as well on dev as the best one.
    assert results["final_weights"] in {"best", "average of the last 2"}
    assert len((run / "predictions.test.txt").read_text(encoding="utf-8").splitlines()) == 200
    assert (run / "best.pt").is_file() and not list(run.glob("snapshot-*.pt"))
    result = CliRunner().invoke(cli, ["predict", str(run), "The dog sees the cat."])
    assert result.exit_code == 0, result.output
    [translation] = json.loads(result.stdout)
    assert translation["source"] == "The dog sees the cat." and isinstance(translation["translation"], str)
