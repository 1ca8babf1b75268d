"""The task's own behaviour: vocabularies, targets, the three heads, decoding, raw text, a short run."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from nlpplat import Encoder
from nlpplat.cli import cli
from nlpplat.config import resolve
from nlpplat.embeddings import EmbeddingConfig, TokenVocab
from nlpplat.errors import ConfigError
from nlpplat.evaluation import predict
from nlpplat.model import Collator, build_model
from nlpplat.testing import LinearBackbone, LinearConfig
from nlpplat.training import default_registry
from nlpplat_srl.head import TREE_RELATIONS, Parse, SRLHead
from nlpplat_srl.instances import Frame, Predicates, gold
from nlpplat_srl.roles import subtree
from nlpplat_srl.senses import SenseInventory
from nlpplat_srl.task import IDENTIFY, MARKED, NO_HEAD, UNSCORED, SRLConfig, SRLTask
from nlpplat_srl.trees import best_tree


@pytest.fixture
def task_and_examples(sample: Path):
    task = SRLTask(SRLConfig(hidden=8))
    examples = task.read(sample)
    task.fit(examples)
    return task, examples


def test_config_validation() -> None:
    for bad in (
        {"dropout": 1.0},
        {"hidden": 0},
        {"threshold": 1.0},
        {"predicate_feature": "marker"},
        {"syntax": -1.0},
    ):
        with pytest.raises(ConfigError):
            SRLConfig(**bad)


def test_run_defaults_per_backbone_sit_below_the_users_settings() -> None:
    registry = default_registry()

    def resolved(backbone: str, *assignments: dict):
        return resolve(registry, [{"run": {"task": "srl", "backbone": backbone}}, *assignments])

    lstm, rnn, transformer = resolved("lstm"), resolved("rnn"), resolved("transformer")
    assert (lstm.train.schedule, rnn.train.schedule, transformer.train.schedule) == (
        "linear",
        "inverse_sqrt",
        "linear",
    )
    assert (lstm.backbone.layers, rnn.backbone.layers, transformer.backbone.layers) == (2, 1, 1)
    assert resolved("transformer", {"backbone": {"layers": 3}}).backbone.layers == 3
    assert resolved("rnn", {"train": {"schedule": "linear"}}).train.schedule == "linear"
    assert resolved("rnn", {"train": {"schedule": "linear"}}).backbone.layers == 1
    # new runs read the parser's tree, but the RNN's (unmeasured); turning the features off keeps the parser
    assert (lstm.task.syntax, lstm.task.tree_features) == (1.0, True)
    assert (transformer.task.syntax, transformer.task.tree_features) == (1.0, True)
    assert (rnn.task.syntax, rnn.task.tree_features) == (0.0, False)
    plain = resolved("transformer", {"task": {"tree_features": False}}).task
    assert (plain.syntax, plain.tree_features) == (1.0, False)
    # the role prior was measured with the BiLSTM only
    assert (lstm.task.role_prior, transformer.task.role_prior, rnn.task.role_prior) == (True, False, False)


def test_one_identification_instance_per_sentence_then_one_per_predicate(task_and_examples) -> None:
    task, examples = task_and_examples
    assert [(e.sentence.tokens[0], e.position, e.frame) for e in examples] == [
        ("Maria", None, None), ("Maria", 1, 0), ("Maria", 5, 1), ("John", None, None), ("John", 3, 0),
        ("Thanks", None, None), ("Call", None, None), ("Stop", None, None), ("Stop", 0, 0),
    ]  # fmt: skip
    assert task.tags == ["O", "B-ARG0", "B-ARG1", "B-ARGM-DIR", "B-ARGM-NEG"]
    assert task.senses.rolesets == ["run.01", "run.02", "stop.01", "write.01"]


def test_targets_and_the_predicate_distance_feature(task_and_examples) -> None:
    task, examples = task_and_examples
    targets = task.targets(examples, 11)
    assert targets["kind"].tolist() == [
        IDENTIFY,
        MARKED,
        MARKED,
        IDENTIFY,
        MARKED,
        IDENTIFY,
        UNSCORED,
        IDENTIFY,
        MARKED,
    ]
    assert targets["predicates"][0].tolist()[:10] == [0, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    assert targets["position"].tolist() == [0, 1, 5, 0, 3, 0, 0, 0, 0]
    assert targets["roleset"].tolist() == [-1, 0, 1, -1, 3, -1, -1, -1, 2]
    assert [task.tags[i] for i in targets["tags"][2].tolist()[:10]] == ["B-ARG0"] + ["O"] * 7 + [
        "B-ARGM-DIR",
        "O",
    ]
    values = task.features(examples, 11)["predicate"]
    assert task.input_features() == {"predicate": 20}
    assert values[[0, 3, 5, 6, 7]].eq(0).all()  # nothing marked in identification rows
    # Row 2 marks word 5 (n = 10 buckets): the signed, bucketed distance of every word to it.
    assert values[2].tolist() == [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert values[1].tolist() == [9, 10, 11, 12, 13, 14, 15, 15, 15, 16, 16]  # |d| 5-7, then 8-15
    assert (values[[1, 2, 4, 8]] == 10).sum(dim=1).tolist() == [1, 1, 1, 1]  # 10 is the predicate


def test_the_indicator_alternative_and_runs_saved_before_the_distance_feature(task_and_examples) -> None:
    task, examples = task_and_examples
    indicator_task = SRLTask(SRLConfig(hidden=8, predicate_feature="indicator"))
    indicator_task.fit(examples)
    indicator = indicator_task.features(examples, 11)["predicate"]
    assert indicator_task.input_features() == {"predicate": 2}
    assert indicator.sum(dim=1).tolist() == [0, 1, 1, 0, 1, 0, 0, 0, 1]
    assert indicator[2, 5] == 1
    # A run's vocab.json says which feature its weights were trained with, whatever the
    # config says; one from before the distance feature has no entry and used the indicator.
    state = task.state_dict()
    assert state["predicate_feature"] == "distance"
    del state["predicate_feature"]
    old = SRLTask(SRLConfig(hidden=8))
    old.load_state_dict(state)
    assert old.input_features() == {"predicate": 2}
    assert old.features(examples, 11)["predicate"].equal(indicator)


def test_gold_heads_of_annotated_rows_train_the_auxiliary_parser(task_and_examples) -> None:
    task, examples = task_and_examples
    task.config.syntax = 1.0
    heads = task.targets(examples, 5)["heads"]
    # Sentence 1, words 1-5 of "Maria ran the bakery and ...": heads ran, root (itself), bakery,
    # ran, ran (word 6, cut off at length 5, so not trained).
    assert heads[0].tolist() == [1, 1, 3, 1, NO_HEAD]
    # "John did n't write the": "write" is the root, the head of "the" ("letter") is cut off.
    assert heads[3].tolist() == [3, 3, 3, 3, NO_HEAD]
    # Marked rows read the same sentences and learn the same trees; the unannotated one none.
    assert heads[1].equal(heads[0]) and heads[2].equal(heads[0]) and heads[4].equal(heads[3])
    assert (heads[6] == NO_HEAD).all()
    model, collate = tiny_model(task, examples)
    batch = collate(examples)
    states = model(batch)
    with_syntax = task.loss(model.head, states, batch)
    task.config.syntax = 0.0  # the same head, the parser's term left out
    assert with_syntax > task.loss(model.head, states, batch)


def test_the_parser_is_built_only_with_a_syntax_weight_and_old_runs_have_none(task_and_examples) -> None:
    task, _ = task_and_examples
    assert task.build_head(12).arc_width == 0  # the default: no parser
    task.config.syntax = 0.5
    assert task.build_head(12).arc_width > 0
    state = task.state_dict()
    assert state["syntax"] == 0.5
    del state["syntax"]  # a run saved before the parser existed
    old = SRLTask(SRLConfig(hidden=8))
    old.load_state_dict(state)
    assert old.config.syntax == 0.0
    assert not any(name.startswith("arc") for name, _ in old.build_head(12).named_parameters())


def test_tree_relations_read_the_parsers_tree_around_the_predicate() -> None:
    # Seven words and a padding column; word 1 is the root, the predicate is word 2:
    #   1 -> 0, 3;  3 -> 2, 4;  2 -> 5;  5 -> 6
    tree = [1, 1, 3, 1, 3, 2, 5]
    head = SRLHead(4, num_tags=3, num_rolesets=2, arc_width=4, tree_features=True, num_labels=3)
    scores = torch.full((1, 8, 8), -30.0)
    for word, parent in enumerate(tree):
        scores[0, word, parent] = 30.0  # the parser is sure of every head
    parse = Parse(scores, torch.randn(1, 8, 4), torch.randn(1, 8, 4))  # labels: any vectors
    mask = torch.tensor([[True] * 7 + [False]])
    features = head.tree_relations(parse, torch.tensor([2]), mask)[0]
    assert features.shape == (8, len(TREE_RELATIONS) + 2 * 3)
    relations = features[:, : len(TREE_RELATIONS)].round()
    # then a label distribution for the arc p -> w, times its probability (child), and one for w -> p
    assert torch.allclose(features[:, 6:9].sum(dim=1), features[:, 0], atol=1e-6)
    assert torch.allclose(features[:, 9:12].sum(dim=1), features[:, 1], atol=1e-6)
    expected = {  # the words of each relation to the predicate, TREE_RELATIONS order
        "child": {5},
        "parent": {3},
        "sibling": {2, 4},  # the words whose head is the predicate's, the predicate among them
        "grandchild": {6},
        "grandparent": {1},
        "aunt": {0, 3},  # the words whose head is the predicate's grandparent: its parent too
    }
    for column, name in enumerate(TREE_RELATIONS):
        assert set(relations[:, column].nonzero().squeeze(1).tolist()) == expected[name], name
    assert relations[7].sum() == 0  # padding relates to nothing


def test_the_argument_scorer_reads_each_predicates_role_prior(task_and_examples) -> None:
    task, examples = task_and_examples
    task.config.role_prior = True
    task.fit(examples)
    model, collate = tiny_model(task, examples)
    assert model.head.argument[0].in_features == 2 * 12 + len(task.tags) + 1
    batch = collate(examples)
    prior, kind = batch.targets["prior"], batch.targets["kind"]
    assert prior.shape == (len(examples), len(task.tags) + 1)
    assert not prior[kind != MARKED].any()  # only marked rows have a predicate to look up
    task.loss(model.head, model(batch), batch).backward()
    model.eval()
    with torch.no_grad():
        assert len(task.decode(model.head, model(batch), batch)) == len(examples)
        marked = kind == MARKED
        states, positions, words = model(batch)[marked], batch.targets["position"][marked], batch.mask[marked]
        scores = model.head.emissions(states, positions, words, prior=prior[marked])
        assert not torch.allclose(
            scores, model.head.emissions(states, positions, words, prior=prior[marked] + 1)
        )
        with pytest.raises(ValueError, match="role prior"):
            model.head.emissions(states, positions, words)


def test_tree_features_need_the_parser_and_train_it_through_the_argument_loss(task_and_examples) -> None:
    with pytest.raises(ConfigError, match=r"task\.syntax"):
        SRLConfig(tree_features=True)
    task, examples = task_and_examples
    task.config.syntax, task.config.tree_features = 1.0, True
    task.fit(examples)  # again, now with a parser: it learns the file's dependency labels
    assert {"nsubj", "obj", "root"} <= set(task.deprels)
    model, collate = tiny_model(task, examples)
    assert model.head.argument[0].in_features == 2 * 12 + len(TREE_RELATIONS) + 2 * len(task.deprels)
    batch = collate(examples)
    # "Maria ran the bakery": Maria is ran's nsubj, ran the root (its own head in the targets)
    labels = batch.targets["deprels"][0, :2].tolist()
    assert [task.deprels[label] for label in labels] == ["nsubj", "root"]
    task.config.syntax = (
        1e-9  # the parser's own loss all but off: what is left reaches it through the features
    )
    projections = []  # the parser's projections run once per batch, shared by loss and features
    for layer in (
        model.head.arc_dependent,
        model.head.arc_head,
        model.head.label_dependent,
        model.head.label_head,
    ):
        layer.register_forward_hook(lambda module, inputs, output: projections.append(module))
    task.loss(model.head, model(batch), batch).backward()
    assert len(projections) == 4
    assert model.head.arc_weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        predictions = task.decode(model.head, model(batch), batch)
    assert [type(p) for p in predictions].count(Frame) == 4
    state = task.state_dict()
    assert state["tree_features"] is True and state["deprels"] == task.deprels
    del state["tree_features"], state["deprels"]  # a run saved before tree features and labels
    old = SRLTask(SRLConfig(hidden=8))
    old.load_state_dict(state)
    assert old.config.tree_features is False and old.deprels == []


def test_candidates_come_from_lemma_or_form_and_fall_back_to_01() -> None:
    senses = SenseInventory().fit(
        [
            ("ran", "run", "run.01"),
            ("ran", "run", "run.02"),
            ("runs", "run", "run.01"),
            ("said", "say", "say.01"),
        ]
    )
    ids = senses.ids
    assert senses.candidate_ids("running", "run") == [ids["run.01"], ids["run.02"]]  # by lemma
    assert senses.candidate_ids("Ran", None) == [ids["run.01"], ids["run.02"]]  # raw text: by form
    assert senses.candidate_ids("said", None) == [ids["say.01"]]
    assert senses.candidate_ids("spoke", None) == [] and senses.fallback("spoke", None) == "spoke.01"
    assert senses.fallback("walked", "walk") == "walk.01"
    again = SenseInventory()
    again.load_state_dict(json.loads(json.dumps(senses.state_dict())))
    assert again.candidate_ids("ran", None) == senses.candidate_ids("ran", None)


class ContextEncoder(Encoder):
    """A bidirectional GRU over the whole padded batch: enough context to tell two predicates apart."""

    def __init__(self, input_dim: int):
        super().__init__()
        self.gru = nn.GRU(input_dim, 16, batch_first=True, bidirectional=True)
        self.output_dim = 32

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.gru(inputs)[0]


class ContextBackbone(LinearBackbone):
    name = "test-context"

    @classmethod
    def build_encoder(cls, config, input_dim: int) -> Encoder:
        return ContextEncoder(input_dim)


def tiny_model(task: SRLTask, examples: list, backbone=LinearBackbone):
    embeddings = EmbeddingConfig(word_dim=8, char_dim=4, char_filters=4, word_dropout=0.0, dropout=0.0)
    vocab = TokenVocab(embeddings).fit(task.tokens(e) for e in examples)
    torch.manual_seed(0)
    model = build_model(task, backbone, LinearConfig(width=12), vocab, embeddings)
    return model, Collator(task, vocab)


def test_the_three_heads_fit_the_sample_and_decoding_keeps_the_predicate(sample: Path) -> None:
    task = SRLTask(SRLConfig(hidden=16, dropout=0.0))
    examples = task.read(sample)
    task.fit(examples)
    model, collate = tiny_model(task, examples, ContextBackbone)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    batch = collate(examples)
    for _ in range(200):
        optimizer.zero_grad()
        loss = task.loss(model.head, model(batch), batch)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predictions = task.decode(model.head, model(batch), batch)  # the batch it learnt, same padding
    for example, prediction in zip(examples, predictions, strict=True):
        if example.position is not None:
            assert prediction.cells[example.position] == "V"
    scores = task.metrics(predictions, examples)
    assert scores["f1"] == 100 and scores["sense.accuracy"] == 100 and scores["predicate.f1"] == 100


def test_decode_falls_back_without_candidates_and_thresholds_identification(task_and_examples) -> None:
    task, examples = task_and_examples
    model, collate = tiny_model(task, examples)
    with torch.no_grad():
        model.head.identify.bias.fill_(10.0)  # every word looks like a predicate
    [found] = predict(model, task, collate, examples[:1])
    assert found == Predicates(tuple(range(10)))
    task.config.threshold = 1 - 1e-12  # now none does
    assert predict(model, task, collate, examples[:1]) == [Predicates(())]
    task.senses.candidates = {}  # no roleset is known for any word
    [frame] = predict(model, task, collate, examples[1:2])
    assert frame.roleset == "run.01"  # the lemma's first sense


def test_argument_bias_moves_decoding_between_no_argument_and_all_arguments(task_and_examples) -> None:
    task, examples = task_and_examples
    model, collate = tiny_model(task, examples)
    marked = examples[1]  # "ran" (position 1) in a ten-word sentence
    arguments = {}
    for bias in (-1e4, 0.0, 1e4):
        task.config.argument_bias = bias
        [frame] = predict(model, task, collate, [marked])
        arguments[bias] = [i for i, cell in enumerate(frame.cells) if cell not in ("_", "V")]
        assert frame.cells[marked.position] == "V"  # never its own argument, whatever the bias
    assert arguments[-1e4] == []
    assert arguments[1e4] == [i for i in range(len(marked.tokens)) if i != marked.position]
    assert task.decoding_parameters()["argument_bias"] == 1e4


def test_write_predictions_keeps_every_row_and_writes_the_frames(task_and_examples, tmp_path: Path) -> None:
    task, examples = task_and_examples
    predictions = [gold(example) for example in examples]
    predictions[1] = Frame("run.02", ("_", "V", *["_"] * 8))
    path = tmp_path / "predictions.conllu"
    task.write_predictions(examples, predictions, path)
    again = task.read(path)
    assert len(again) == len(examples)
    assert again[1].sentence.rolesets == ["run.02", "run.02"] and again[1].gold_cells == [
        "_",
        "V",
        *["_"] * 8,
    ]
    assert "2-3\tdidn't" in path.read_text() and "6.1\twrote" in path.read_text()


def test_predict_text_lists_predicates_with_head_arguments(task_and_examples) -> None:
    task, _ = task_and_examples

    def fake(instances: list) -> list:  # "ran" is a predicate, the word before it its ARG0
        results = []
        for instance in instances:
            tokens = instance.tokens
            if instance.position is None:
                results.append(Predicates(tuple(i for i, t in enumerate(tokens) if t == "ran")))
            else:
                cells = ["_"] * len(tokens)
                cells[instance.position] = "V"
                cells[instance.position - 1] = "ARG0"
                results.append(Frame("run.02", tuple(cells)))
        return results

    text = "  Maria ran home.  Nothing here."
    [first, second] = task.predict_text(text, fake)
    assert first["text"] == "Maria ran home." and first["argument_extent"] == "head"
    [frame] = first["predicates"]
    assert (frame["word"], frame["roleset"], text[frame["start"] : frame["end"]]) == ("ran", "run.02", "ran")
    head = {"text": "Maria", "start": 2, "end": 7, "first": 0, "last": 0}
    assert frame["arguments"] == [
        {"role": "ARG0", "head": "Maria", "index": 0, "start": 2, "end": 7, "span": head}
    ]
    assert frame["summary"] == "[ARG0 Maria] [V ran] home ."
    assert second["predicates"] == []
    assert task.predict_text("   ", fake) == []


def test_predict_text_expands_arguments_to_subtrees_of_the_models_parse(task_and_examples) -> None:
    task, _ = task_and_examples
    tree = (1, 2, -1, 4, 2, 2)  # The -> court -> ran <- miles <- two; ran -> .

    def parsing(instances: list) -> list:  # a model with a parser: its trees come with the predicates
        if instances[0].position is None:
            return [Predicates((2,), tree) for _ in instances]
        return [Frame("run.01", ("_", "ARG0", "V", "_", "ARG1", "_")) for _ in instances]

    text = "The court ran two miles."
    [sentence] = task.predict_text(text, parsing)
    assert sentence["argument_extent"] == "subtree"
    [frame] = sentence["predicates"]
    spans = [(argument["head"], argument["span"]["text"]) for argument in frame["arguments"]]
    assert spans == [("court", "The court"), ("miles", "two miles")]
    assert frame["arguments"][1]["span"] == {
        "text": "two miles",
        "start": 14,
        "end": 23,
        "first": 3,
        "last": 4,
    }
    assert frame["summary"] == "[ARG0 The court] [V ran] [ARG1 two miles] ."


def test_best_tree_is_the_best_projective_tree_with_one_root() -> None:
    def trees(n: int):  # every projective tree with one root, by brute force
        for heads in itertools.product(range(-1, n), repeat=n):
            if heads.count(-1) != 1 or any(h == i for i, h in enumerate(heads)):
                continue
            children = [[d for d, h in enumerate(heads) if h == w] for w in range(n)]
            spans = [subtree(children, w) for w in range(n)]
            if all(w in spans[heads.index(-1)] for w in range(n)) and all(
                span == set(range(min(span), max(span) + 1)) for span in spans
            ):
                yield list(heads)

    def total(scores: list[list[float]], heads: list[int]) -> float:
        return sum(scores[i][i if h < 0 else h] for i, h in enumerate(heads))

    generator = random.Random(0)
    for n in (1, 2, 3, 4, 5):
        candidates = list(trees(n))
        for _ in range(20):
            scores = [[generator.gauss(0, 1) for _ in range(n)] for _ in range(n)]
            found = best_tree(scores)
            assert found in candidates
            assert total(scores, found) == pytest.approx(max(total(scores, heads) for heads in candidates))
    # the best head of each word alone would make 0 and 1 head each other, and two roots
    assert best_tree([[0, 5, 0], [5, 0, 0], [0, 0, 1]]) in ([1, 2, -1], [2, 0, -1])


@pytest.mark.parametrize("parses", [False, True], ids=["words", "tree-features"])
def test_short_demo_run_then_predict_and_pipeline(
    parses: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NLPPLAT_DB", str(tmp_path / "board.sqlite"))
    run = tmp_path / "run"
    runner = CliRunner()
    command = ["run", "--task", "srl", "--backbone", "lstm", "--dataset", "demo", "--epochs", "3"]
    small = ["backbone.hidden=32", "backbone.layers=1", "embeddings.word_dim=32", "task.hidden=64"]
    small += ["train.lr=0.005", "train.threads=1"]
    # the task's default parses; the words-only model is the one every setting can turn it into
    small += (
        ["task.syntax=1", "task.tree_features=true"]
        if parses
        else ["task.syntax=0", "task.tree_features=false"]
    )
    settings = [part for setting in small for part in ("--set", setting)]
    result = runner.invoke(cli, [*command, "--output", str(run), *settings])
    assert result.exit_code == 0, result.output
    results = json.loads((run / "results.json").read_text())
    assert results["test"]["f1"] > 60, results["test"]  # three epochs of a tiny model: far from 0
    # the demo's trees are simple: a parser that learnt anything attaches most words
    assert results["test"]["parser.uas"] > 50 if parses else "parser.uas" not in results["test"]
    assert results["test"]["support"] == 362 and results["decoding"]["arguments"] == "viterbi"
    assert (run / "predictions.test.conllu").read_text().count("# sent_id") == 120
    result = runner.invoke(cli, ["predict", str(run), "The court nominated two judges."])
    assert result.exit_code == 0, result.output
    [analysis] = json.loads(result.stdout)
    assert analysis["tokens"] == ["The", "court", "nominated", "two", "judges", "."]
    assert analysis["argument_extent"] == ("subtree" if parses else "head")
    result = runner.invoke(cli, ["srl-pipeline", str(run), "--output", str(tmp_path / "e2e.conllu")])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["e2e.unscored_predicates"] == 0 and 0 <= scores["e2e.f1"] <= 100
    assert (tmp_path / "e2e.conllu").read_text().count("# sent_id") == 120
