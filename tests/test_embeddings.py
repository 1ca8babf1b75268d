"""Token representation: vocabularies, padding, character features, word dropout."""

from __future__ import annotations

import torch

from nlpplat.embeddings import PAD, UNK, EmbeddingConfig, TokenEmbedder, TokenVocab

SENTENCES = [["Angela", "Merkel", "visited", "Paris", "in", "2019"], ["Paris", "is", "big"]]


def test_vocab_normalises_digits_and_case_but_chars_keep_case() -> None:
    vocab = TokenVocab(EmbeddingConfig()).fit(SENTENCES)
    words, chars = vocab.ids(["PARIS", "1987", "Qu"])
    assert words == [vocab.words["paris"], vocab.words["0000"], UNK]
    assert chars[0][0] == vocab.chars["P"] and chars[0][1] != vocab.chars["a"] and chars[2][0] == UNK
    assert vocab.words["paris"] not in vocab.singletons and vocab.words["merkel"] in vocab.singletons


def test_pad_shapes_and_state_round_trip() -> None:
    vocab = TokenVocab(EmbeddingConfig(max_chars=4)).fit(SENTENCES)
    words, chars = TokenVocab.pad([vocab.ids(["Angela", "x"]), vocab.ids(["is"])])
    assert words.shape == (2, 2) and chars.shape == (2, 2, 4)
    assert words[1, 1] == PAD and (chars[1, 1] == PAD).all()
    again = TokenVocab.from_state_dict(vocab.config, vocab.state_dict())
    assert again.words == vocab.words and again.chars == vocab.chars and again.singletons == vocab.singletons


def test_token_vectors_do_not_depend_on_batch_neighbours() -> None:
    vocab = TokenVocab(EmbeddingConfig()).fit(SENTENCES)
    embedder = TokenEmbedder(vocab, EmbeddingConfig()).eval()
    alone = embedder(*TokenVocab.pad([vocab.ids(["is", "big"])]))
    together = embedder(
        *TokenVocab.pad([vocab.ids(["is", "big"]), vocab.ids(["Angela", "Merkel", "visited"])])
    )
    assert torch.allclose(alone[0], together[0, :2], atol=1e-6)


def test_word_dropout_replaces_only_singletons_and_only_in_training() -> None:
    config = EmbeddingConfig(word_dropout=1.0, dropout=0.0)
    vocab = TokenVocab(config).fit(SENTENCES)
    embedder = TokenEmbedder(vocab, config)
    words, chars = TokenVocab.pad([vocab.ids(["Merkel", "Paris"])])
    unk = embedder.words.weight[UNK]
    trained = embedder(words, chars)[0, :, : config.word_dim]
    assert torch.equal(trained[0], unk) and torch.equal(trained[1], embedder.words.weight[words[0, 1]])
    embedder.eval()
    assert torch.equal(embedder(words, chars)[0, 0, : config.word_dim], embedder.words.weight[words[0, 0]])


def test_word_dropout_of_every_word_falls_with_its_count() -> None:
    sentences = [["a"] * 3 + ["b"] * 2 + ["c"]]
    config = EmbeddingConfig(word_dropout=0.5, word_dropout_all=True)
    vocab = TokenVocab(config).fit(sentences)
    probability = dict(zip(vocab.words, vocab.dropout_probabilities(), strict=True))
    # alpha = 1 keeps singletons at word_dropout; then alpha / (alpha + count).
    assert probability == {"<pad>": 0.0, "<unk>": 0.0, "a": 1 / 4, "b": 1 / 3, "c": 0.5}
    singletons_only = TokenVocab(EmbeddingConfig(word_dropout=0.5)).fit(sentences)
    assert singletons_only.dropout_probabilities() == [0.0, 0.0, 0.0, 0.0, 0.5]


def test_vocab_written_before_counts_were_kept_still_loads() -> None:
    vocab = TokenVocab(EmbeddingConfig()).fit(SENTENCES)
    legacy = {"words": list(vocab.words), "chars": list(vocab.chars), "singletons": vocab.singletons}
    again = TokenVocab.from_state_dict(vocab.config, legacy)
    assert again.words == vocab.words and again.singletons == vocab.singletons


def test_task_features_are_embedded_and_concatenated() -> None:
    config = EmbeddingConfig(feature_dim=4, dropout=0.0)
    vocab = TokenVocab(config).fit(SENTENCES)
    embedder = TokenEmbedder(vocab, config, {"predicate": 2}).eval()
    words, chars = TokenVocab.pad([vocab.ids(["Paris", "is", "big"])])
    marked = torch.tensor([[0, 1, 0]])
    vectors = embedder(words, chars, {"predicate": marked})
    assert embedder.output_dim == config.word_dim + config.char_filters + 4 == vectors.shape[-1]
    assert torch.equal(vectors[0, 1, -4:], embedder.features["predicate"].weight[1])
    assert torch.equal(vectors[0, 0, -4:], embedder.features["predicate"].weight[0])
