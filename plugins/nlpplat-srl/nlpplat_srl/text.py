"""Raw text to sentences of tokens with character offsets, with spaCy's rule-based tokenizer."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple


class Token(NamedTuple):
    """A token and where it is: ``text[start:end] == token.text``."""

    text: str
    start: int
    end: int


@functools.lru_cache(maxsize=8)
def blank_pipeline(language: str) -> Any:
    """``spacy.blank(language)`` with a rule-based sentencizer: no trained model, nothing downloaded."""
    import spacy  # slow import: only for raw text

    nlp = spacy.blank(language)
    nlp.add_pipe("sentencizer")
    return nlp


def split_sentences(text: str, language: str = "en") -> list[list[Token]]:
    """The sentences of ``text`` as lists of tokens, whitespace tokens left out."""
    sentences = []
    for sentence in blank_pipeline(language)(text).sents:
        tokens = [Token(token.text, token.idx, token.idx + len(token.text)) for token in sentence]
        tokens = [token for token in tokens if not token.text.isspace()]
        if tokens:
            sentences.append(tokens)
    return sentences
