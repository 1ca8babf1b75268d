"""SentencePiece subwords for generating tasks: markers, joint and separate models, state."""

from __future__ import annotations

import json

from nlpplat.subwords import BOS, EOS, PAD, UNK, Subwords

TEXT = [
    "the dog runs in the park .",
    "a small cat sleeps on the warm mat .",
    "two children play football near the old house .",
    "the red bike stands in front of the shop .",
] * 5


def test_symbols_are_pieces_of_their_own_and_text_round_trips() -> None:
    subwords = Subwords.learn(TEXT, [], 60, joint=True, model_type="unigram", symbols=("<self>", "<other>"))
    assert subwords.joint and subwords.target_size <= 60
    pieces = subwords.source_pieces("<self> the dog sleeps <other>")
    assert "<self>" in pieces and pieces[-1] == "<other>"  # never split into characters
    ids = subwords.target_ids("the old cat plays .")
    assert subwords.detokenize(ids) == "the old cat plays ."
    assert {PAD, UNK, BOS, EOS}.isdisjoint(ids)  # the fixed special ids never stand for text


def test_separate_models_and_the_state_dict() -> None:
    subwords = Subwords.learn(TEXT[:8], TEXT[8:], 50, joint=False, model_type="bpe")
    assert not subwords.joint
    again = Subwords.from_state_dict(json.loads(json.dumps(subwords.state_dict())))
    assert again.source_pieces("the mat") == subwords.source_pieces("the mat")
    assert again.target_ids("the house") == subwords.target_ids("the house")
