"""Raw text to sentences of tokens with character offsets, using spaCy's rule-based tokenizer.

Shared by every task's ``predict_text``: the tokenizer for a dataset's language, so that
raw input is split the way the task's training data was.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple


class Token(NamedTuple):
    """A token and where it is in the input: ``text[start:end] == token.text``."""

    text: str
    start: int
    end: int


@functools.lru_cache(maxsize=8)
def blank_pipeline(language: str) -> Any:
    """``spacy.blank(language)`` plus a rule-based sentencizer, built once per language.

    A blank pipeline has the language's tokenizer exceptions but no trained model, so
    nothing is ever downloaded.
    """
    import spacy  # slow import: only when raw text is analysed

    nlp = spacy.blank(language)
    nlp.add_pipe("sentencizer")
    return nlp


def split_sentences(text: str, language: str = "en") -> list[list[Token]]:
    """The sentences of ``text`` as lists of tokens; whitespace tokens are dropped."""
    sentences = []
    for sentence in blank_pipeline(language)(text).sents:
        tokens = [Token(token.text, token.idx, token.idx + len(token.text)) for token in sentence]
        tokens = [token for token in tokens if not token.text.isspace()]
        if tokens:
            sentences.append(tokens)
    return sentences


def tokenize(text: str, language: str = "en") -> list[str]:
    """The tokens of ``text`` by spaCy's rules for ``language``, whitespace dropped."""
    return [token.text for token in blank_pipeline(language).tokenizer(text) if not token.text.isspace()]
