"""The Task contract: vocabulary, targets, heads (loss and decoding), output, raw text."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from nlpplat import Batch, DataError
from nlpplat.errors import ConfigError
from nlpplat_ner.reader import Sentence
from nlpplat_ner.schemes import convert, find_violation
from nlpplat_ner.task import NERConfig, NERTask

TEXT = """\
Peter NNP I-PER
Blackburn NNP I-PER
met VBD O
Anna NNP B-PER
in IN O
Paris NNP I-LOC
. . O

EU NNP I-ORG
rejects VBZ O
German JJ I-MISC
call NN O
. . O

Hi UH O
"""


@pytest.fixture
def examples(tmp_path: Path) -> list[Sentence]:
    path = tmp_path / "train.conll"
    path.write_text(TEXT, encoding="utf-8")
    return NERTask().read(path)


def make_batch(
    task: NERTask, examples: list[Sentence], dim: int = 16, seed: int = 0
) -> tuple[Batch, torch.Tensor]:
    """A hand-made batch (word ids are irrelevant to the head) and random encoder states."""
    lengths = torch.tensor([len(example.tokens) for example in examples])
    length = int(lengths.max())
    mask = torch.arange(length)[None, :] < lengths[:, None]
    words = mask.long()
    chars = torch.zeros(len(examples), length, 3, dtype=torch.long)
    batch = Batch(words, chars, mask, task.targets(examples, length), examples)
    states = torch.randn(len(examples), length, dim, generator=torch.Generator().manual_seed(seed))
    return batch, states


def test_config_defaults_and_validation():
    config = NERConfig()
    assert (config.head, config.tag_column, config.token_column, config.input_scheme) == (
        "crf",
        -1,
        0,
        "auto",
    )
    assert NERConfig(input_scheme="iob1").input_scheme == "IOB1"
    for bad in ({"head": "lstm"}, {"dropout": 1.0}, {"input_scheme": "BILOU"}):
        with pytest.raises(ConfigError):
            NERConfig(**bad)
    changed = NERConfig()
    changed.head = "nope"
    with pytest.raises(ConfigError, match=r"task\.head must be one of crf, softmax"):
        NERTask(changed)


def test_class_attributes():
    assert (NERTask.name, NERTask.primary_metric, NERTask.prediction_suffix) == ("ner", "f1", ".conll")
    assert NERTask.higher_is_better
    assert all(
        dataclasses.MISSING in (field.default, field.default_factory)
        and (field.default, field.default_factory) != (dataclasses.MISSING, dataclasses.MISSING)
        for field in dataclasses.fields(NERTask.Config)
    )


def test_fit_and_state_dict_round_trip(examples):
    task = NERTask()
    task.fit(examples)
    assert task.labels[:5] == ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    assert len(task.labels) == 1 + 4 * 4  # LOC, MISC, ORG, PER
    state = json.loads(json.dumps(task.state_dict()))
    restored = NERTask()
    restored.load_state_dict(state)
    assert restored.labels == task.labels
    assert restored.targets(examples, 8)["tags"].equal(task.targets(examples, 8)["tags"])


def test_feature_columns_become_token_inputs(tmp_path, examples):
    task = NERTask(NERConfig(feature_columns=[1]))
    task.fit(examples)
    assert task.input_features() == {"column1": 1 + 8}  # eight POS tags in TEXT, plus unknown
    path = tmp_path / "test.conll"
    path.write_text("Paris NNP I-LOC\nsings VBZ O\nnow RB O\n", encoding="utf-8")
    test = task.read(path)
    values = task.features(test + examples[2:], 4)["column1"]
    nnp, vbz = (task.feature_values[1].index(tag) + 1 for tag in ("NNP", "VBZ"))
    assert values.tolist() == [[nnp, vbz, 0, 0], [task.feature_values[1].index("UH") + 1, 0, 0, 0]]
    restored = NERTask(NERConfig(feature_columns=[1]))
    restored.load_state_dict(json.loads(json.dumps(task.state_dict())))
    assert restored.features(test, 4)["column1"].equal(values[:1])
    assert NERTask().input_features() == {} and NERTask().features(test, 4) == {}


def test_feature_column_missing_from_a_file_names_file_and_line(tmp_path):
    path = tmp_path / "dev.conll"
    path.write_text("Paris I-LOC\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev\.conll:1: has 2 columns, so there is no feature column 2"):
        NERTask(NERConfig(feature_columns=[2])).read(path)
    path.write_text("Paris NNP I-LOC\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"dev\.conll:1: feature column 2 is the token or tag column of its 3"
    ):
        NERTask(NERConfig(feature_columns=[2])).read(path)
    for bad in ([0], [-1], ["pos"]):
        with pytest.raises(ConfigError, match=r"task\.feature_columns"):
            NERConfig(feature_columns=bad)


def sentence(tokens: str, document: int | None, path: str = "a.conll", scheme: str = "IOB2") -> Sentence:
    words = tokens.split()
    return Sentence(words, ["O"] * len(words), [[w] for w in words], path, 1, scheme, document=document)


def test_document_vote_gives_a_name_its_most_frequent_type_within_its_document():
    examples = [
        sentence("Newmont rose", 0),
        sentence("Newmont fell", 0),
        sentence("Newmont said", 0),
        sentence("Newmont and Newmont", 1),  # another document: its own vote
        sentence("Newmont ran", None),  # no document: untouched
    ]
    predictions = [
        ["B-ORG", "O"],
        ["B-PER", "O"],
        ["B-ORG", "O"],
        ["B-PER", "O", "B-LOC"],  # one vote each: a tie keeps each its own type
        ["B-PER", "O"],
    ]
    task = NERTask()
    voted = task.postprocess(predictions, examples)
    assert voted == [["B-ORG", "O"], ["B-ORG", "O"], ["B-ORG", "O"], *predictions[3:]]
    assert predictions[1] == ["B-PER", "O"]  # the input is not changed in place
    assert NERTask(NERConfig(document_vote=False)).postprocess(predictions, examples) == predictions
    assert task.decoding_parameters() == {"decoder": "viterbi", "document_vote": True}


def test_document_vote_lets_a_longer_name_vote_for_the_names_inside_it():
    examples = [
        sentence("Bill Clinton spoke", 0),
        sentence("Hillary Clinton agreed", 0),
        sentence("Clinton left Clinton", 0),
        sentence("Clinton Clinton Clinton", 1),
        sentence("Bill Clinton", 1),
    ]
    predictions = [
        ["B-PER", "I-PER", "O"],
        ["B-PER", "I-PER", "O"],
        ["B-ORG", "O", "B-LOC"],  # "Clinton": PER 2 (from the two longer names), ORG 1, LOC 1
        ["B-ORG", "B-ORG", "B-ORG"],  # ORG 3 against PER 1: stays ORG, and
        ["B-PER", "I-PER"],  # the longer name gets no votes from the shorter ones
    ]
    voted = NERTask().postprocess(predictions, examples)
    assert voted == [*predictions[:2], ["B-PER", "O", "B-PER"], *predictions[3:]]


def test_document_vote_writes_the_sentences_own_scheme():
    examples = [sentence(t, 0, scheme="IOB1") for t in ("Rome Paris", "Paris", "Paris", "Rome")]
    predictions = [["I-LOC", "I-PER"], ["I-LOC"], ["I-LOC"], ["I-LOC"]]
    voted = NERTask().postprocess(predictions, examples)
    assert voted[0] == ["I-LOC", "B-LOC"]  # two LOC names side by side need IOB1's B-


def test_tokens_and_targets(examples):
    task = NERTask()
    task.fit(examples)
    assert task.tokens(examples[1]) == ["EU", "rejects", "German", "call", "."]
    tags = task.targets(examples, 9)["tags"]
    assert tags.shape == (3, 9) and tags.dtype == torch.long
    first = [task.labels[i] for i in tags[0, :7]]
    assert first == ["B-PER", "E-PER", "O", "S-PER", "O", "S-LOC", "O"]  # IOB1 -> BIOES
    assert tags[0, 7:].eq(0).all() and tags[2, 1:].eq(0).all()  # padding is 0
    assert task.targets(examples, 3)["tags"].shape == (3, 3)  # truncated to the batch width


def test_unknown_types_become_o_in_targets(examples):
    task = NERTask()
    task.fit(examples[1:])  # ORG and MISC only
    tags = task.targets(examples[:1], 7)["tags"]
    assert tags.eq(0).all()


def test_build_head_needs_labels():
    with pytest.raises(RuntimeError, match="call fit"):
        NERTask().build_head(8)


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_loss_is_finite_and_training_the_head_fits_the_batch(examples, head):
    torch.manual_seed(0)
    task = NERTask(NERConfig(head=head, dropout=0.0))
    task.fit(examples)
    model = task.build_head(16)
    batch, states = make_batch(task, examples)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    first = task.loss(model, states, batch)
    assert first.dim() == 0 and torch.isfinite(first)
    for _ in range(60):
        loss = task.loss(model, states, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first.item() / 4
    model.eval()
    predictions = task.decode(model, states, batch)
    # decode answers in each example's own scheme, canonically written (IOB1 here: "Anna"
    # is B-PER after O in the file, which IOB1 writes I-PER), and has learnt the batch
    assert predictions == [convert(example.tags, "IOB1") for example in examples]
    assert predictions[0][3] == "I-PER"
    assert task.metrics(predictions, examples)["f1"] == 100.0


def test_loss_does_not_depend_on_padding_or_batch_size(examples):
    task = NERTask()
    task.fit(examples)
    model = task.build_head(16).eval()
    batch, states = make_batch(task, examples)
    alone, alone_states = make_batch(task, examples[:1])
    padded_states = torch.cat([states, torch.randn(3, 4, 16)], dim=1)
    wide_mask = torch.cat([batch.mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1)
    wide = Batch(batch.words, batch.chars, wide_mask, task.targets(examples, 11), examples)
    assert torch.allclose(task.loss(model, states, batch), task.loss(model, padded_states, wide))
    twice = Batch(
        batch.words.repeat(2, 1), batch.chars.repeat(2, 1, 1), batch.mask.repeat(2, 1),
        {"tags": batch.targets["tags"].repeat(2, 1)}, examples * 2,
    )  # fmt: skip
    assert torch.allclose(task.loss(model, states, batch), task.loss(model, states.repeat(2, 1, 1), twice))
    assert torch.isfinite(task.loss(model, alone_states, alone))


def test_crf_decoding_is_always_valid_in_the_source_scheme(examples):
    task = NERTask()
    task.fit(examples)
    model = task.build_head(16).eval()
    with torch.no_grad():  # random, large tag scores: without constraints, invalid paths would win
        for parameter in model.parameters():
            parameter.normal_(0, 5)
    for seed in range(5):
        batch, states = make_batch(task, examples, seed=seed)
        for example, tags in zip(examples, task.decode(model, states, batch), strict=True):
            assert len(tags) == len(example.tokens)
            assert find_violation(tags, example.scheme) is None


def test_softmax_decoding_repairs_invalid_sequences(examples):
    task = NERTask(NERConfig(head="softmax", input_scheme="IOB2"), language="en")
    examples = [dataclasses.replace(example, scheme="IOB2") for example in examples]
    task.fit(examples)
    model = task.build_head(16).eval()
    with torch.no_grad():  # every token argmaxes to E-PER: invalid BIOES, read as one-token entities
        model.scores.weight.zero_()
        model.scores.bias.fill_(-1.0)
        model.scores.bias[task.labels.index("E-PER")] = 1.0
    batch, states = make_batch(task, examples)
    predictions = task.decode(model, states, batch)
    assert predictions[2] == ["B-PER"]
    assert predictions[1] == ["B-PER"] * 5
    assert all(find_violation(tags, "IOB2") is None for tags in predictions)


def test_decode_tags_tokens_beyond_the_mask_as_o(examples):
    task = NERTask()
    task.fit(examples)
    model = task.build_head(16).eval()
    batch, states = make_batch(task, examples)
    short = Batch(batch.words[:, :2], batch.chars[:, :2], batch.mask[:, :2], {}, examples)
    predictions = task.decode(model, states[:, :2], short)
    assert [len(tags) for tags in predictions] == [7, 5, 1]
    assert predictions[0][2:] == ["O"] * 5


def test_write_predictions_round_trip(examples, tmp_path):
    task = NERTask()
    predicted = [["I-PER"] * len(example.tokens) for example in examples]
    path = tmp_path / "out" / f"predictions.test{task.prediction_suffix}"
    task.write_predictions(examples, predicted, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["Peter NNP I-PER I-PER", "Blackburn NNP I-PER I-PER"]
    assert lines[7] == ""  # blank line after each sentence
    gold_again = NERTask(NERConfig(tag_column=-2)).read(path)
    predicted_again = NERTask().read(path)
    assert [s.tags for s in gold_again] == [s.tags for s in examples]
    assert [s.tags for s in predicted_again] == predicted
    assert [s.tokens for s in predicted_again] == [s.tokens for s in examples]


def fake_predict(examples: list[Sentence]) -> list[list[str]]:
    """A gazetteer 'model': tags known names, in IOB2."""
    names = {"Angela": "B-PER", "Merkel": "I-PER", "Paris": "B-LOC", "New": "B-LOC", "York": "I-LOC"}
    assert all(example.scheme == "IOB2" and set(example.tags) == {"O"} for example in examples)
    return [[names.get(token, "O") for token in example.tokens] for example in examples]


def test_predict_text_offsets_point_into_the_original_text():
    text = "  Angela Merkel visited Paris.\n\nThen she  flew to New York!  "
    results = NERTask().predict_text(text, fake_predict)
    assert [result["text"] for result in results] == [
        "Angela Merkel visited Paris.",
        "Then she  flew to New York!",
    ]
    assert results[0]["tokens"] == ["Angela", "Merkel", "visited", "Paris", "."]
    assert results[0]["tags"] == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    assert results[0]["entities"] == [
        {"text": "Angela Merkel", "type": "PER", "start": 2, "end": 15},
        {"text": "Paris", "type": "LOC", "start": 24, "end": 29},
    ]
    assert results[1]["entities"] == [{"text": "New York", "type": "LOC", "start": 50, "end": 58}]
    for result in results:
        assert text[result["start"] : result["end"]] == result["text"]
        for entity in result["entities"]:
            assert text[entity["start"] : entity["end"]] == entity["text"]
    json.dumps(results)


def test_predict_text_is_one_document():
    seen = []
    NERTask().predict_text(
        "Paris is big. Paris is old.", lambda examples: seen.extend(examples) or fake_predict(examples)
    )
    assert [example.document for example in seen] == [0, 0]  # so the document vote covers the text


def test_predict_text_without_tokens_does_not_call_the_model():
    def never(examples):
        raise AssertionError("predict called")

    assert NERTask().predict_text("", never) == []
    assert NERTask().predict_text(" \n\t ", never) == []
