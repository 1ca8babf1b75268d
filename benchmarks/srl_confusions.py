"""Which roles an SRL run confuses, on the argument heads that are the predicate's children.

Reads a gold UP CoNLL-U file and a run's predictions of it (``predictions.dev.conllu``, the
gold file with the run's argument columns) and counts, over the words whose gold head is the
predicate (72 % of the argument heads of UP English-EWT dev), those that are a gold argument
and predicted as an argument with another role, by (gold role, predicted role).

    python benchmarks/srl_confusions.py ../shared/data/up-en-ewt/dev.conllu.gz RUN_DIR/predictions.dev.conllu
"""

from __future__ import annotations

import argparse
from collections import Counter

from nlpplat_srl.conllu import read_sentences
from nlpplat_srl.roles import is_role


def confusions(gold_path: str, predicted_path: str) -> Counter[tuple[str, str]]:
    """(gold role, predicted role) -> how many of the predicates' children got the wrong role."""
    counts: Counter[tuple[str, str]] = Counter()
    for gold, predicted in zip(read_sentences(gold_path), read_sentences(predicted_path), strict=True):
        if gold.heads is None:
            continue
        for (position, _, cells), (_, _, guesses) in zip(
            gold.gold_frames(), predicted.gold_frames(), strict=True
        ):
            for word, (cell, guess) in enumerate(zip(cells, guesses, strict=True)):
                if gold.heads[word] == position and is_role(cell) and is_role(guess) and cell != guess:
                    counts[cell, guess] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gold")
    parser.add_argument("predictions")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    counts = confusions(args.gold, args.predictions)
    print(f"children with the wrong role: {sum(counts.values()):,}")
    for (cell, guess), count in counts.most_common(args.top):
        print(f"  gold {cell:<10} predicted {guess:<10} {count:>6,}")


if __name__ == "__main__":
    main()
