"""A small UP CoNLL-U sample with every kind of row and sentence (imported by the tests)."""

from __future__ import annotations


def row(*cells: str) -> str:
    return "\t".join(cells)


def word(ident: int, form: str, lemma: str, upos: str, head: int, deprel: str, *srl: str) -> str:
    return row(str(ident), form, lemma, upos, "_", "_", str(head), deprel, f"{head}:{deprel}", "_", *srl)


# Five sentences: two predicates of one lemma with different rolesets; a multiword token and
# an empty node; no predicate (12 columns, an empty 12th); no annotation (columns 11-12
# empty); a one-word sentence whose word is a predicate.
SAMPLE_LINES = [
    "# sent_id = s1",
    "# text = Maria ran the bakery and ran to the station.",
    word(1, "Maria", "Maria", "PROPN", 2, "nsubj", "_", "ARG0", "ARG0"),
    word(2, "ran", "run", "VERB", 0, "root", "run.01", "V", "_"),
    word(3, "the", "the", "DET", 4, "det", "_", "_", "_"),
    word(4, "bakery", "bakery", "NOUN", 2, "obj", "_", "ARG1", "_"),
    word(5, "and", "and", "CCONJ", 6, "cc", "_", "_", "_"),
    word(6, "ran", "run", "VERB", 2, "conj", "run.02", "_", "V"),
    word(7, "to", "to", "ADP", 9, "case", "_", "_", "_"),
    word(8, "the", "the", "DET", 9, "det", "_", "_", "_"),
    word(9, "station", "station", "NOUN", 6, "obl", "_", "_", "ARGM-DIR"),
    word(10, ".", ".", "PUNCT", 2, "punct", "_", "_", "_"),
    "",
    "# sent_id = s2",
    "# text = John didn't write the letter.",
    word(1, "John", "John", "PROPN", 4, "nsubj", "_", "ARG0"),
    row("2-3", "didn't", *["_"] * 8),
    word(2, "did", "do", "AUX", 4, "aux", "_", "_"),
    word(3, "n't", "not", "PART", 4, "advmod", "_", "ARGM-NEG"),
    word(4, "write", "write", "VERB", 0, "root", "write.01", "V"),
    word(5, "the", "the", "DET", 6, "det", "_", "_"),
    word(6, "letter", "letter", "NOUN", 4, "obj", "_", "ARG1"),
    row("6.1", "wrote", "write", "VERB", "VBD", "_", "_", "_", "4:conj", "CopyOf=4", "", ""),
    word(7, ".", ".", "PUNCT", 4, "punct", "_", "_"),
    "",
    "# sent_id = s3",
    "# text = Thanks!",
    word(1, "Thanks", "thanks", "NOUN", 0, "root", "_", ""),
    word(2, "!", "!", "PUNCT", 1, "punct", "_", ""),
    "",
    "# sent_id = s4",
    "# text = Call us",
    "# propbank = no-up",
    word(1, "Call", "call", "VERB", 0, "root", "", ""),
    word(2, "us", "we", "PRON", 1, "obj", "", ""),
    "",
    "# sent_id = s5",
    "# text = Stop",
    word(1, "Stop", "stop", "VERB", 0, "root", "stop.01", "V"),
    "",
]
SAMPLE = "".join(line + "\n" for line in SAMPLE_LINES)
