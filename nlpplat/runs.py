"""The run directory: what a run writes, and loading a finished run back.

::

    runs/<task>-<backbone>-<dataset>-<UTC time>/
      config.toml     the resolved configuration (repeat the run with --config)
      vocab.json      token and label vocabularies
      checkpoint.pt   best weights, tensors only (torch.load(weights_only=True))
      state.pt        optimizer, scheduler, RNG and data position, for exact resume
      metrics.jsonl   one line per evaluation
      results.json    final dev/test metrics, signature, timings, sizes, versions
      predictions.<split><suffix>
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from nlpplat.config import RunConfig, load_toml, resolve
from nlpplat.contracts import Task
from nlpplat.embeddings import TokenVocab
from nlpplat.errors import ConfigError, NlpplatError
from nlpplat.io import atomic_writer, write_json
from nlpplat.memory import keep_freed_memory
from nlpplat.model import Collator, TaskModel, build_model
from nlpplat.registry import Registry

CONFIG, VOCAB, CHECKPOINT, STATE = "config.toml", "vocab.json", "checkpoint.pt", "state.pt"
METRICS, RESULTS = "metrics.jsonl", "results.json"


def new_run_dir(config: RunConfig, dataset: str, root: str | Path = "runs") -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(root) / f"{config.run.task}-{config.run.backbone}-{dataset}-{stamp}"
    path, suffix = base, 1
    while path.exists():  # two runs started in the same second
        suffix += 1
        path = base.with_name(f"{base.name}-{suffix}")
    return path


def write_config(run_dir: Path, config: RunConfig) -> None:
    from nlpplat.config import to_toml

    with atomic_writer(run_dir / CONFIG) as handle:
        handle.write(to_toml(config))


def write_vocab(run_dir: Path, vocab: TokenVocab, task: Task, language: str) -> None:
    write_json(
        run_dir / VOCAB, {"language": language, "tokens": vocab.state_dict(), "task": task.state_dict()}
    )


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / METRICS, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_results(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        raise NlpplatError(f"{run_dir}: no {RESULTS}; is this a finished run directory?")
    return json.loads(path.read_text(encoding="utf-8"))


# What may change when a trained model is used: how it decodes and how it runs, never the
# shape of the model its weights belong to.
USE_SECTIONS = ("task", "train")


def load_config(
    run_dir: Path, registry: Registry, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> RunConfig:
    """The run's configuration, with ``overrides`` ({section: {key: value}}) of task and train settings."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise NlpplatError(f"{run_dir}: no {CONFIG}; is this a run directory?")
    for section in overrides or {}:
        if section not in USE_SECTIONS:
            raise ConfigError(
                f"--set {section}.…: a trained run's {section} settings are fixed by its weights; "
                f"only {' and '.join(s + '.*' for s in USE_SECTIONS)} settings can change (e.g. task.beam=10)"
            )
    return resolve(registry, [load_toml(path), *([overrides] if overrides else [])], new_run=False)


@dataclass
class LoadedRun:
    """A trained model with everything needed to use it."""

    run_dir: Path
    config: RunConfig
    task: Task
    vocab: TokenVocab
    model: TaskModel
    language: str

    @property
    def collate(self) -> Collator:
        return Collator(self.task, self.vocab, self.config.train.pad_multiple)

    def predict(self, examples: Sequence[Any], batch_size: int = 256) -> list[Any]:
        from nlpplat.evaluation import predict

        return predict(self.model, self.task, self.collate, examples, batch_size, self.config.train.precision)

    def predict_text(self, text: str) -> list[dict[str, Any]]:
        return self.task.predict_text(text, lambda examples: self.predict(examples))


def load_run(
    run_dir: str | Path,
    registry: Registry,
    weights: str = CHECKPOINT,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> LoadedRun:
    """Rebuild the model of ``run_dir`` and load its best weights, on the best device.

    ``overrides`` change task and train settings, e.g. ``{"task": {"decoding": "greedy"}}``.
    """
    from nlpplat.training import pick_device

    run_dir = Path(run_dir)
    config = load_config(run_dir, registry, overrides)
    vocab_path = run_dir / VOCAB
    if not vocab_path.is_file() or not (run_dir / weights).is_file():
        raise NlpplatError(f"{run_dir}: no {VOCAB} or {weights}; the run has not saved a model yet")
    state = json.loads(vocab_path.read_text(encoding="utf-8"))
    language = state.get("language", "en")
    task = registry.task(config.run.task)(config.task, language=language)
    task.load_state_dict(state["task"])
    vocab = TokenVocab.from_state_dict(config.embeddings, state["tokens"])
    model = build_model(
        task, registry.backbone(config.run.backbone), config.backbone, vocab, config.embeddings
    )
    try:
        model.load_state_dict(torch.load(run_dir / weights, map_location="cpu", weights_only=True))
    except RuntimeError as error:  # e.g. --set task.head=… builds a head the weights are not for
        first = " ".join(line.strip() for line in str(error).strip().splitlines()[:2])[:240]
        changed = f" with --set {overrides}" if overrides else ""
        raise NlpplatError(
            f"{run_dir / weights}: the weights do not fit the model the run's settings{changed} build ({first})"
        ) from None
    if config.train.threads:
        torch.set_num_threads(config.train.threads)  # as in training: oversubscribed threads thrash
    keep_freed_memory()  # as in training: decoding batch after batch reuses the same pages
    model.to(pick_device(config.train.device)).eval()
    return LoadedRun(run_dir, config, task, vocab, model, language)
