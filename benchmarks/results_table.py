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

from nlpplat.config import RunSection, resolve
from nlpplat.registry import Registry
from nlpplat.training import default_registry

# Options the CLI has for train settings; every other difference is shown with --set.
TRAIN_OPTIONS = {"max_time", "precision", "seed", "epochs", "batch_size", "device"}


def command(config: dict, registry: Registry) -> str:
    """The ``nlpplat run`` invocation that repeats a run: every setting that is not a default."""
    run = config["run"]
    parts = ["nlpplat run", f"--task {run['task']}", f"--backbone {run['backbone']}"]
    if run.get("dataset") and run["dataset"] != RunSection.dataset:
        parts.append(f"--dataset {run['dataset']}")
    # The defaults of a fresh run of this task, backbone and dataset: the task's run_defaults
    # and the dataset's task settings are part of them.
    fresh = resolve(
        registry, [{"run": {key: run[key] for key in ("task", "backbone", "dataset") if run.get(key)}}]
    )
    defaults = {
        "train": fresh.train,
        "embeddings": fresh.embeddings,
        "backbone": fresh.backbone,
        "task": fresh.task,
    }
    for section, default in defaults.items():
        for key, value in config.get(section, {}).items():
            if value == _plain(getattr(default, key)):
                continue
            if section == "train" and key in TRAIN_OPTIONS:
                parts.append(f"--{key.replace('_', '-')} {value}")
            else:
                parts.append(f"--set {section}.{key}={json.dumps(value)}")
    return " ".join(parts)


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def row(run_dir: Path, registry: Registry) -> str:
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    config = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    metric = results["primary_metric"]
    minutes = results["train_seconds"] / 60
    return (
        f"| `{results['backbone']}` | {results['test'][metric]:.2f} | {results['dev'][metric]:.2f} "
        f"| {results['precision']} | {results['epochs']} ({results['stop_reason']}) | {minutes:.1f} min "
        f"| {results['parameters'] / 1e6:.2f} M | {results['train_tokens_per_second']:,.0f} "
        f"| {results['eval_sentences_per_second']:,.0f} | `{command(config, registry)}` |"
    )


def main(paths: list[str]) -> None:
    metric = json.loads((Path(paths[0]) / "results.json").read_text(encoding="utf-8"))["primary_metric"]
    print(
        f"| backbone | test {metric} | dev {metric} | precision | epochs (stop) | train time | parameters "
        "| train tokens/s | test sentences/s | command |"
    )
    print("| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | --- |")
    registry = default_registry()
    for path in paths:
        print(row(Path(path), registry))


if __name__ == "__main__":
    main(sys.argv[1:])
