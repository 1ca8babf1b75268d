"""Print a Markdown table of finished runs, for the README and the task docs.

    python benchmarks/results_table.py runs/ner-lstm runs/ner-rnn ...

Each row is read from the run's ``results.json`` and ``config.toml``; the command column
is the ``nlpplat run`` invocation that repeats the run (its non-default settings).
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

from nlpplat.config import RunSection, TrainConfig

# Settings shown in the command when they differ from the defaults.
SHOWN_TRAIN = ("max_time", "threads", "precision", "seed", "lr", "epochs")


def command(config: dict) -> str:
    run, train = config["run"], config["train"]
    parts = ["nlpplat run", f"--task {run['task']}", f"--backbone {run['backbone']}"]
    if run.get("dataset") and run["dataset"] != RunSection.dataset:
        parts.append(f"--dataset {run['dataset']}")
    defaults = TrainConfig()
    for key in SHOWN_TRAIN:
        if train.get(key) != getattr(defaults, key):
            value = train[key]
            parts.append(f"--{key.replace('_', '-')} {value}" if key in ("max_time", "precision", "seed", "epochs")
                         else f"--set train.{key}={value}")  # fmt: skip
    return " ".join(parts)


def row(run_dir: Path) -> str:
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    config = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    metric = results["primary_metric"]
    minutes = results["train_seconds"] / 60
    return (
        f"| `{results['backbone']}` | {results['test'][metric]:.2f} | {results['dev'][metric]:.2f} "
        f"| {results['precision']} | {results['epochs']} ({results['stop_reason']}) | {minutes:.1f} min "
        f"| {results['parameters'] / 1e6:.2f} M | {results['train_tokens_per_second']:,.0f} "
        f"| {results['eval_sentences_per_second']:,.0f} | `{command(config)}` |"
    )


def main(paths: list[str]) -> None:
    print(
        "| backbone | test F1 | dev F1 | precision | epochs (stop) | train time | parameters "
        "| train tokens/s | test sentences/s | command |"
    )
    print("| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for path in paths:
        print(row(Path(path)))


if __name__ == "__main__":
    main(sys.argv[1:])
