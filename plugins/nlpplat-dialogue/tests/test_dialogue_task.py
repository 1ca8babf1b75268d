"""The dialogue tasks: kit conformance, context inputs, metrics, statistics, short runs and chat."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import pytest
import sacrebleu
import torch
from click.testing import CliRunner
from dialogue_samples import SAMPLE, write_dailydialog

import nlpplat_dialogue.plugin
from nlpplat import testing
from nlpplat.cli import cli
from nlpplat.config import resolve
from nlpplat.embeddings import EmbeddingConfig, TokenVocab
from nlpplat.errors import ConfigError, DataError
from nlpplat.inference import evaluate_run
from nlpplat.model import Collator, build_model
from nlpplat.runs import load_run
from nlpplat.subwords import PAD
from nlpplat.training import Trainer, default_registry
from nlpplat_dialogue import scoring
from nlpplat_dialogue.chat import converse
from nlpplat_dialogue.datasets import DATASETS
from nlpplat_dialogue.reader import ACTS, Dialogue, read_dialogues
from nlpplat_dialogue.scoring import Reply
from nlpplat_dialogue.task import (
    OTHER,
    SELF,
    DialogueActConfig,
    DialogueActTask,
    DialogueConfig,
    DialogueTask,
    context_pieces,
    responder,
)

SMALL = DialogueConfig(vocab_size=150, beam=3)
SMALL_ACT = DialogueActConfig(vocab_size=150)


def test_dialogue_task_conforms(sample: Path) -> None:
    # Predictions are generated lines, which the reader cannot read back: no round trip. The
    # best perplexity, 1, is what a model that is sure of every gold token would score.
    testing.check_task(
        DialogueTask,
        sample,
        gold=lambda exchange: Reply(exchange.text, 0.0, 1),
        config=SMALL,
        best=1.0,
        text="Would you like some tea?",
        round_trip=False,
    )


def test_dialogue_act_task_conforms(sample: Path) -> None:
    testing.check_task(
        DialogueActTask,
        sample,
        gold=lambda exchange: ACTS[exchange.dialogue.acts[exchange.index]],
        config=SMALL_ACT,
        text='["Hi, how are you?", "Fine, thanks."]',
        round_trip=False,
    )


def test_plugin_registers_both_tasks_their_datasets_and_chat() -> None:
    testing.check_plugin(
        nlpplat_dialogue.plugin,
        tasks=["dialogue", "dialogue-act"],
        datasets=["dailydialog", "demo"] * 2,  # once per task
        commands=["chat"],
    )
    for spec in DATASETS:
        testing.check_dataset_spec(spec, DialogueTask if spec.task == "dialogue" else DialogueActTask)


def test_the_plain_command_trains_the_measured_models_and_the_user_overrides_them() -> None:
    registry = default_registry()

    def resolved(task: str, backbone: str, *assignments: dict):
        return resolve(registry, [{"run": {"task": task, "backbone": backbone}}, *assignments])

    transformer, lstm = resolved("dialogue", "transformer"), resolved("dialogue", "lstm")
    assert (transformer.backbone.layers, transformer.backbone.dropout) == (2, 0.1)
    assert (lstm.backbone.dropout, lstm.train.schedule) == (0.1, "linear")
    assert transformer.train.pad_multiple == lstm.train.pad_multiple == 8
    assert transformer.task.share_embeddings and not lstm.task.share_embeddings
    assert resolved("dialogue", "transformer", {"backbone": {"layers": 4}}).backbone.layers == 4
    # The act classifier was measured with the backbones' own settings and keeps them.
    assert resolved("dialogue-act", "transformer").backbone.layers == 4


def test_a_setting_added_since_a_run_trained_keeps_the_old_behaviour(tmp_path: Path) -> None:
    """A saved config.toml lacks what did not exist yet: the dataclass default, not the task's preference."""
    import tomli_w

    from nlpplat.runs import load_config

    registry = default_registry()
    saved = resolve(registry, [{"run": {"task": "dialogue", "backbone": "transformer"}}]).to_dict()
    assert saved["train"].pop("pad_multiple") == 8  # the task's preference for new runs
    (tmp_path / "config.toml").write_text(tomli_w.dumps(saved), encoding="utf-8")
    loaded = load_config(tmp_path, registry)
    assert loaded.train.pad_multiple == 1  # as the run was trained
    assert (loaded.backbone.layers, loaded.train.schedule) == (2, "linear")  # saved settings stay


def test_demo_dataset_conforms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path))
    [demo] = [spec for spec in DATASETS if spec.name == "demo" and spec.task == "dialogue"]
    testing.check_dataset(demo, task_cls=DialogueTask)


def test_dailydialog_resolves_in_the_mirror(dailydialog: Path) -> None:
    for spec in DATASETS:
        if spec.name == "dailydialog":
            testing.check_dataset_files(spec, mirror=dailydialog.parent)


def fitted(task_cls, sample: Path, config) -> tuple:
    task = task_cls(config)
    examples = task.read(sample)
    task.fit(examples)
    return task, examples


def test_every_turn_after_the_first_is_a_response(sample: Path) -> None:
    _task, examples = fitted(DialogueTask, sample, SMALL)
    assert len(examples) == sum(len(d) - 1 for d in SAMPLE)
    assert (examples[0].index, examples[0].text) == (1, "I 'm fine , thanks . And you ?")
    _act_task, act_examples = fitted(DialogueActTask, sample, SMALL_ACT)
    assert len(act_examples) == sum(len(d) for d in SAMPLE)  # every utterance is classified


def test_length_has_a_context_side_and_a_response_side(sample: Path) -> None:
    task, examples = fitted(DialogueTask, sample, SMALL)
    for example in examples:  # batches sort on both; the loss is weighted by the second
        gold = task.targets([example], 0)["gold"]
        assert task.length(example) == (len(task.tokens(example)), int((gold != PAD).sum()))


def test_a_pad_multiple_pads_the_context_and_the_response_alike(sample: Path) -> None:
    task, examples = fitted(DialogueTask, sample, SMALL)
    vocab = TokenVocab(EmbeddingConfig()).fit(task.tokens(example) for example in examples)
    exact, rounded = Collator(task, vocab)(examples[:4]), Collator(task, vocab, 8)(examples[:4])
    padded_widths = [rounded.words.shape[1], *(rounded.targets[key].shape[1] for key in ("prefix", "gold"))]
    widths = [exact.words.shape[1], *(exact.targets[key].shape[1] for key in ("prefix", "gold"))]
    assert [width % 8 for width in widths] != [0, 0, 0]  # else the test would prove nothing
    assert padded_widths == [-(-width // 8) * 8 for width in widths]
    pairs = [(exact.words, rounded.words), (exact.chars, rounded.chars), (exact.mask, rounded.mask)]
    pairs += [(exact.targets[key], rounded.targets[key]) for key in ("prefix", "gold")]
    for before, after in pairs:  # the same batch, then padding only
        width = before.shape[1]
        assert torch.equal(after[:, :width], before)
        assert not after[:, width:].any()


def test_shared_embeddings_read_the_context_with_the_response_rows(sample: Path) -> None:
    from nlpplat_transformer.transformer import TransformerBackbone, TransformerConfig

    task, examples = fitted(DialogueTask, sample, dataclasses.replace(SMALL, share_embeddings=True))
    embeddings = EmbeddingConfig(word_dim=32, char_filters=0, lowercase=False, zero_digits=False)
    vocab = TokenVocab(embeddings).fit(task.tokens(example) for example in examples)
    backbone = TransformerConfig(d_model=32, heads=2, layers=1, ff=64)
    model = build_model(task, TransformerBackbone, backbone, vocab, embeddings)
    assert not any(name.startswith("embedder.words") for name in model.state_dict())  # held once, by the head
    word = vocab.words[SELF]
    row = model.head.embedding.weight[task._subwords().target.piece_to_id(SELF)]
    torch.testing.assert_close(model.embedder.words(torch.tensor([word]))[0], row * model.head.scale)
    model.embedder.words(torch.tensor([[word]])).sum().backward()  # the encoder's reading trains the row
    assert model.head.embedding.weight.grad[task._subwords().target.piece_to_id(SELF)].abs().sum() > 0
    with pytest.raises(
        ConfigError, match=r"word_dim is 16, but the task shares a 32-wide .*embeddings.word_dim=32"
    ):
        build_model(task, TransformerBackbone, backbone, vocab, dataclasses.replace(embeddings, word_dim=16))
    # A word the host normalised into something that is no piece would read <unk>'s row.
    with pytest.raises(ConfigError, match=r"1 input words are not pieces .*'▁zqxj'.*lowercase=false"):
        task.shared_word_embedding([*list(vocab.words)[:2], "▁zqxj"], model.head)


def test_context_marks_speakers_relative_to_the_turn_and_is_cut_from_the_left(sample: Path) -> None:
    task, _ = fitted(DialogueTask, sample, SMALL)
    dialogue = read_dialogues(sample)[5]  # four turns: A, B, A, B
    pieces, start = context_pieces(task.subwords, dialogue, 3, SMALL, include_turn=False)
    markers = [piece for piece in pieces if piece in (SELF, OTHER)]
    assert markers == [OTHER, SELF, OTHER]  # turn 3 is B's: A's turns are the other's
    assert pieces[0] == OTHER and start == len(pieces)
    spelled = "".join(p for p in pieces if p not in (SELF, OTHER)).replace("▁", " ").split()
    assert spelled == " ".join(dialogue.turns[:3]).split()  # the pieces spell the turns, in order
    short = DialogueConfig(vocab_size=150, context_turns=2, context_tokens=8)
    cut, _ = context_pieces(task.subwords, dialogue, 3, short, include_turn=False)
    assert len(cut) == 8 and cut == pieces[-8:]  # the oldest pieces go first
    turn = 1 + len(task.subwords.source_pieces(dialogue.turns[3]))  # marker + pieces
    room = DialogueConfig(vocab_size=150, context_tokens=turn + 3)
    with_turn, start = context_pieces(task.subwords, dialogue, 3, room, include_turn=True)
    assert (start, with_turn[start], len(with_turn)) == (3, SELF, turn + 3)  # the classified turn comes last


def test_named_speakers_and_the_turn_to_come() -> None:
    dialogue = Dialogue(("hello", "hi", "how are you"), ("ann", "bob", "bob"))
    assert responder(dialogue, 2) == "bob" and responder(dialogue, 3) == "ann"  # whoever spoke before bob


def test_held_out_removes_dialogues_seen_in_train(sample: Path, tmp_path: Path) -> None:
    task, train = fitted(DialogueTask, sample, SMALL)
    dev = task.read(write_dailydialog(tmp_path, [SAMPLE[1], [("Brand new .", 1), ("Indeed .", 1)]], "dev"))
    kept = task.held_out(train, dev)
    assert [exchange.dialogue.turns[0] for exchange in kept] == ["Brand new ."]


def test_perplexity_and_statistics(sample: Path) -> None:
    task, examples = fitted(DialogueTask, sample, SMALL)
    rng = random.Random(0)
    replies = [Reply("a b", -rng.uniform(1, 20), 3) for _ in examples]
    words = sum(len(example.text.split()) + 1 for example in examples)
    expected = math.exp(-sum(reply.log_likelihood for reply in replies) / words)
    metrics = task.metrics(replies, examples)
    assert metrics["ppl"] == pytest.approx(expected)
    assert metrics["subword_ppl"] == pytest.approx(
        math.exp(-sum(r.log_likelihood for r in replies) / (3 * len(replies)))
    )
    rows = task.example_statistics(replies, examples)
    subset = [0, 2, 2, 5]
    totals = [sum(rows[i][k] for i in subset) for k in range(2)]
    assert task.metric_from_statistics(totals) == pytest.approx(
        task.metrics([replies[i] for i in subset], [examples[i] for i in subset])["ppl"]
    )


def test_generation_metrics_by_hand() -> None:
    responses = ["i am fine", "i am fine", "you are fine too"]
    references = ["i am fine", "i am good", "thanks"]
    scores = scoring.generation_metrics(responses, references)
    # distinct-1: {i, am, fine, you, are, too} over 10 words; distinct-2: {i am, am fine,
    # you are, are fine, fine too} over 7 bigrams.
    assert scores["distinct1"] == pytest.approx(60.0) and scores["distinct2"] == pytest.approx(500 / 7)
    assert scores["distinct1_mean"] == pytest.approx(100.0) and scores["length"] == pytest.approx(10 / 3)
    assert scores["bleu"] == pytest.approx(sacrebleu.corpus_bleu(responses, [references]).score)
    assert scores["bleu1"] == pytest.approx(
        sacrebleu.metrics.BLEU(max_ngram_order=1).corpus_score(responses, [references]).score
    )
    assert scoring.distinct(["yes yes yes"], 1) == pytest.approx((100 / 3, 100 / 3))


def test_act_metrics_by_hand() -> None:
    labels = ("x", "y", "z")
    scores = scoring.classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], labels)
    # x: P 1/2, R 1 -> F1 2/3; y: P 1, R 2/3 -> F1 4/5; z never occurs and is left out.
    assert scores["accuracy"] == 75.0 and scores["macro_f1"] == pytest.approx(100 * (2 / 3 + 4 / 5) / 2)
    assert "z_f1" not in scores


def test_act_statistics_reproduce_macro_f1_on_any_subset(sample: Path) -> None:
    task, examples = fitted(DialogueActTask, sample, SMALL_ACT)
    rng = random.Random(1)
    predictions = [rng.choice(ACTS) for _ in examples]
    rows = task.example_statistics(predictions, examples)
    for _ in range(5):
        subset = [rng.randrange(len(examples)) for _ in range(10)]
        totals = [sum(rows[i][k] for i in subset) for k in range(len(rows[0]))]
        expected = task.metrics([predictions[i] for i in subset], [examples[i] for i in subset])["macro_f1"]
        assert task.metric_from_statistics(totals) == pytest.approx(expected)


def test_over_long_turns_are_errors_with_their_line(sample: Path) -> None:
    with pytest.raises(
        DataError, match=r"sample.dialogues.txt:1: turn 1 has 8 words, more than task.max_words=6"
    ):
        DialogueTask(DialogueConfig(max_words=6)).read(sample)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="context_turns"):
        DialogueConfig(context_turns=0)
    with pytest.raises(ConfigError, match="subword_model"):
        DialogueActConfig(subword_model="words")
    with pytest.raises(ConfigError, match="label_smoothing"):
        DialogueConfig(label_smoothing=1.0)


SMALL_RUN = {
    "lstm": ["backbone.hidden=32", "backbone.layers=1"],
    "transformer": ["backbone.d_model=32", "backbone.heads=2", "backbone.layers=1", "backbone.ff=64"],
}


def run_demo(task: str, backbone: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> Path:
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NLPPLAT_DB", str(tmp_path / "board.sqlite"))
    run = tmp_path / f"{task}-{backbone}"
    small = [*SMALL_RUN[backbone], "embeddings.word_dim=32", "train.threads=1", "train.lr=0.005", *extra]
    settings = [part for setting in small for part in ("--set", setting)]
    command = ["run", "--task", task, "--backbone", backbone, "--dataset", "demo", "--epochs", "2"]
    result = CliRunner().invoke(cli, [*command, "--output", str(run), *settings])
    assert result.exit_code == 0, result.output
    assert "also occur in train and are left out" in result.output
    return run


def test_training_weights_each_batch_by_its_response_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights: list[float] = []
    real_step = Trainer._step

    def spy(self: Trainer, examples: list, weight: float) -> tuple[float, int, float]:
        weights.append(weight)
        pieces = sum(self.task.length(example)[1] for example in examples)
        batches = self.epoch_batches(self.progress.epoch)
        mean = sum(self.task.length(self.splits["train"][i])[1] for b in batches for i in b) / len(batches)
        assert weight == pytest.approx(pieces / mean)
        return real_step(self, examples, weight)

    monkeypatch.setattr(Trainer, "_step", spy)
    run_demo("dialogue", "lstm", tmp_path, monkeypatch)
    assert len(set(weights)) > 1


@pytest.mark.parametrize("backbone", ["lstm", "transformer"])
def test_short_demo_run_then_predict_and_chat(
    backbone: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_demo("dialogue", backbone, tmp_path, monkeypatch, "task.decoding=greedy")
    results = json.loads((run / "results.json").read_text())
    assert set(results["test"]) >= {"ppl", "bleu", "bleu1", "bleu2", "distinct1", "distinct2", "length"}
    assert results["removed_as_in_train"]["test"] > 0 and results["higher_is_better"] is False
    lines = (run / "predictions.test.txt").read_text(encoding="utf-8").splitlines()
    every = DialogueTask(DialogueConfig()).read(tmp_path / "cache/datasets/dialogue-demo/test.dialogues.txt")
    assert len(lines) + results["removed_as_in_train"]["test"] == len(every)  # one line per kept exchange
    # Dev evaluations during training only score perplexity; the final ones also generate.
    dev_lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "bleu" not in dev_lines[0]["metrics"] and "bleu" in dev_lines[-1]["metrics"]
    result = CliRunner().invoke(cli, ["predict", str(run), '["Would you like some tea?"]'])
    assert result.exit_code == 0, result.output
    [reply] = json.loads(result.stdout)
    assert reply["context"] == ["Would you like some tea ?"] and isinstance(reply["response"], str)
    said: list[str] = []
    history = converse(
        load_run(run, default_registry()),
        ["Hi!", "/reset", "", "Where is the bank?", "/quit", "x"],
        said.append,
    )
    assert said[1] == "(new conversation)" and len(said) == 3
    assert history[0] == "Where is the bank ?" and len(history) == 2  # reset forgot the first exchange


def test_chat_command_reads_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_demo("dialogue", "transformer", tmp_path, monkeypatch, "task.decoding=greedy")
    result = CliRunner().invoke(cli, ["chat", str(run)], input="Hello!\nHow much is this hat?\n/quit\n")
    assert result.exit_code == 0, result.output
    # One line per message, no prompt when piped; a tiny model's reply may be the empty line.
    assert len(result.stdout.splitlines()) == 2


def test_sampled_responses_repeat_when_the_run_is_evaluated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_demo("dialogue", "transformer", tmp_path, monkeypatch)  # default decoding: sampling
    results = json.loads((run / "results.json").read_text())
    assert results["decoding"]["decoder"] == "sample" and results["decoding"]["seed"] == 1
    again = evaluate_run(run, default_registry(), output=str(tmp_path / "again.txt"))
    assert (tmp_path / "again.txt").read_text() == (run / "predictions.test.txt").read_text()
    assert {name: again[name] for name in results["test"]} == results["test"]
    # A tiny model is sure of its next piece; flattened, the draws show the seed.
    flat = {"temperature": 3.0, "top_p": 1.0}
    first, second = (
        evaluate_run(run, default_registry(), overrides={"task": {**flat, "seed": seed}}) for seed in (1, 2)
    )
    assert first["ppl"] == second["ppl"] == results["test"]["ppl"]  # the gold responses' score is no draw
    assert first["distinct2"] != second["distinct2"]


def test_short_act_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_demo("dialogue-act", "lstm", tmp_path, monkeypatch)
    results = json.loads((run / "results.json").read_text())
    assert {"accuracy", "macro_f1", "question_f1"} <= set(results["test"])
    result = CliRunner().invoke(cli, ["predict", str(run), '["Where is the bank?", "It is on the left."]'])
    assert result.exit_code == 0, result.output
    assert [row["turn"] for row in json.loads(result.stdout)] == [
        "Where is the bank ?",
        "It is on the left .",
    ]


def test_chat_needs_a_dialogue_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_demo("dialogue-act", "lstm", tmp_path, monkeypatch)
    result = CliRunner().invoke(cli, ["chat", str(run)], input="Hi\n")
    assert result.exit_code == 1 and "chat needs a 'dialogue' run" in result.output
