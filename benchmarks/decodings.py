"""Decoding settings compared on one trained run.

    python benchmarks/decodings.py RUN_DIR [--split dev] [--limit N] [--decoding SPEC ...] [--metric M ...]

Each ``SPEC`` is a generating task's strategy with optional settings, read as ``--set
task.…`` reads them: ``greedy``, ``beam:beam=5,no_repeat_ngram=3``, ``beam:early_exit=true``
or ``sample:top_p=0.9``; or settings alone, for any task: ``argument_bias=1.0`` (SRL).
Without ``--decoding``, the default set of strategies below is compared. The split's
examples (the first ``--limit`` of them, after leaving out what repeats train, as training
does) are decoded with each spec by the run's best model, and the task's numeric metrics
(every one, or those named by ``--metric``) are printed as a Markdown table, with the
decoding time. Sampling is seeded, so the table is reproducible. This is how the dialogue
task's default decoding was chosen (docs/tasks/dialogue.md).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from nlpplat.config import apply, parse_assignment
from nlpplat.evaluation import evaluate
from nlpplat.inference import split_path
from nlpplat.runs import load_run
from nlpplat.training import default_registry

DEFAULT_SET = (
    "greedy",
    "beam:beam=5",
    "beam:beam=5,no_repeat_ngram=3",
    "sample:top_p=0.9",
    "sample:top_k=40",
)


def parse(spec: str) -> dict[str, Any]:
    """``beam:beam=5,early_exit=true`` -> {"decoding": "beam", "beam": 5, "early_exit": True};
    ``argument_bias=1`` (settings without a strategy) -> {"argument_bias": 1}."""
    strategy, _, rest = spec.partition(":")
    if "=" in strategy:
        strategy, rest = "", spec
    settings: dict[str, Any] = {"decoding": strategy} if strategy else {}
    for item in filter(None, rest.split(",")):
        _, key, value = parse_assignment(f"task.{item}")
        settings[key] = value
    return settings


def compare(
    run_dir: str, split: str, limit: int | None, specs: list[str], seed: int, metrics: list[str] | None = None
) -> list[dict[str, Any]]:
    registry = default_registry()
    run = load_run(run_dir, registry)
    task = run.task
    examples = task.read(split_path(run.config, registry, split))
    if split != "train":
        examples = task.held_out(task.read(split_path(run.config, registry, "train")), examples)
    examples = examples[:limit]
    base = task.config
    rows = []
    for spec in specs:
        task.config = apply(base, parse(spec), "task")
        torch.manual_seed(seed)
        start = time.perf_counter()
        result = evaluate(run.model, task, run.collate, examples, run.config.train.eval_batch_size)
        seconds = time.perf_counter() - start
        numbers = {key: value for key, value in result.metrics.items() if isinstance(value, (int, float))}
        if metrics:
            unknown = sorted(set(metrics) - set(numbers))
            if unknown:
                raise SystemExit(
                    f"--metric {', '.join(unknown)}: not among the task's metrics ({', '.join(numbers)})"
                )
            numbers = {key: numbers[key] for key in metrics}
        rows.append({"decoding": spec, **numbers, "seconds": seconds})
    task.config = base
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "| --- |" + " ---: |" * (len(keys) - 1)]
    for row in rows:
        cells = [row["decoding"]] + [f"{row[key]:.2f}" for key in keys[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="dev", choices=("train", "dev", "test"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N examples")
    parser.add_argument("--decoding", action="append", help="a strategy or settings spec (repeatable)")
    parser.add_argument("--metric", action="append", help="a metric to show (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=1, help="for sampling")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the run's setting)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = compare(
        args.run_dir, args.split, args.limit, args.decoding or list(DEFAULT_SET), args.seed, args.metric
    )
    print(f"{args.run_dir} · {args.split}" + (f" (first {args.limit})" if args.limit else ""))
    print(markdown(rows))


if __name__ == "__main__":
    main()
