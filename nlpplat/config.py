"""Run configuration: what to train, and every setting, in TOML-shaped sections.

A run's configuration has five sections: ``run`` (names and paths), ``train``
(optimisation), ``embeddings`` (token representation), ``backbone`` and ``task`` (the
``Config`` dataclasses of the chosen plugins). Precedence, lowest first: dataclass
defaults → ``--config FILE.toml`` → command-line options → ``--set section.key=value``.
The resolved configuration is written to ``config.toml`` in the run directory, so a
run can be repeated from that file alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlpplat.embeddings import EmbeddingConfig
from nlpplat.errors import ConfigError


@dataclass
class RunSection:
    task: str = ""  # a registered task name (`nlpplat tasks`); required
    backbone: str = ""  # a registered backbone name (`nlpplat backbones`); required
    dataset: str = ""  # "" = the task's default dataset (the first of its datasets that is available)
    train: str = ""  # explicit split files, overriding the dataset's
    dev: str = ""
    test: str = ""
    output: str = ""  # run directory; "" = runs/<task>-<backbone>-<dataset>-<UTC time>


@dataclass
class TrainConfig:
    seed: int = 1
    epochs: int = 100  # upper bound; early stopping or max_time usually ends training first
    max_time: str = "30m"  # wall-clock budget for training ("" = none), e.g. 90s, 30m, 2h
    patience: int = 8  # epochs without a dev improvement before stopping
    # Anneal on plateau: after every `anneal_patience` epochs without a dev improvement the
    # learning rate is multiplied by `anneal_factor` (as Flair trains its taggers): a lower
    # rate settles into the minimum the model is circling. 1.0 turns it off.
    anneal_factor: float = 0.5
    anneal_patience: int = 2
    batch_size: int = 32  # sentences per training batch
    # > 0: batches hold up to this many token slots (sentences × longest) instead of batch_size
    # sentences, so every step sees about as many tokens (translation's usual batching).
    batch_tokens: int = 0
    # > 1: every padded length is a multiple of this, and batches are cut by padded lengths,
    # so batch shapes repeat and the kernels compiled for them are reused (bf16 on CPUs;
    # nlpplat.model.Collator). Costs the padding: on average multiple / 2 slots per side.
    pad_multiple: int = 1
    eval_batch_size: int = 256
    lr: float = 2e-3  # peak learning rate of AdamW
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 400  # linear warm-up (at most one epoch), then the schedule's decay
    # "inverse_sqrt": decay with 1/sqrt(step), no horizon needed. "linear": decay to 0 at the
    # end of the horizon, max_time or epochs, whichever comes first (training.lr_factor).
    schedule: str = "inverse_sqrt"
    clip_norm: float = 5.0  # gradient clipping by global norm
    precision: str = "fp32"  # "fp32" or "bf16" (autocast on CPU and CUDA)
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", …
    threads: int = 0  # torch intra-op threads (per process); 0 = torch's default, or the cores shared out
    # > 1: data-parallel training in that many processes (torch.distributed: gloo on CPU, one
    # GPU each on CUDA); every step learns from one batch per process (nlpplat.distributed).
    processes: int = 1
    # > 1: the final model is the average of the weights at the last N evaluations (epoch
    # ends), which smooths out the noise of the last steps (Vaswani et al. 2017 average 5-20).
    average_last: int = 0

    def __post_init__(self) -> None:
        positive = (
            "epochs",
            "patience",
            "anneal_patience",
            "batch_size",
            "pad_multiple",
            "eval_batch_size",
            "processes",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} = {getattr(self, name)!r}: must be at least 1")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision = {self.precision!r}: must be one of {', '.join(PRECISIONS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"train.schedule = {self.schedule!r}: must be one of {', '.join(SCHEDULES)}")
        if not 0 < self.anneal_factor <= 1:
            raise ConfigError(
                f"train.anneal_factor = {self.anneal_factor!r}: must be in (0, 1]; 1 turns it off"
            )
        if self.lr <= 0 or self.clip_norm <= 0 or min(self.warmup_steps, self.threads) < 0:
            raise ConfigError(
                "train.lr and train.clip_norm must be positive, warmup_steps and threads not negative"
            )
        if min(self.batch_tokens, self.average_last) < 0:
            raise ConfigError("train.batch_tokens and train.average_last must not be negative")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", self.device):
            raise ConfigError(f"train.device = {self.device!r}: use auto, cpu, cuda, cuda:N or mps")
        parse_duration(self.max_time)


PRECISIONS = ("fp32", "bf16")
SCHEDULES = ("inverse_sqrt", "linear")


@dataclass
class RunConfig:
    """The complete, resolved configuration of a run."""

    run: RunSection = field(default_factory=RunSection)
    train: TrainConfig = field(default_factory=TrainConfig)
    embeddings: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    backbone: Any = None  # the backbone's Config instance
    task: Any = None  # the task's Config instance

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: _as_plain(dataclasses.asdict(getattr(self, name))) for name in SECTIONS}

    def hash(self) -> str:
        """A digest of everything that determines the result (not where it is written)."""
        data = self.to_dict()
        data["run"] = {key: value for key, value in data["run"].items() if key != "output"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


SECTIONS = ("run", "train", "embeddings", "backbone", "task")


def _as_plain(data: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}


def parse_duration(text: str) -> float | None:
    """Seconds in ``"90"``, ``"90s"``, ``"30m"``, ``"1.5h"`` or ``"1h30m"``; ``""`` → None."""
    text = text.strip().lower()
    if not text:
        return None
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
    if not parts or not any(parts.groups()):
        raise ConfigError(f"max_time {text!r} is not a duration; use e.g. 90s, 30m, 2h or 1h30m")
    hours, minutes, seconds = (float(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` → (section, key, value); the value is read as TOML if it can be."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. train.lr=0.001")
    dotted, raw = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word such as softmax is a string
    return section, key, value


def load_toml(path: str | Path) -> dict[str, dict[str, Any]]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    for section, values in data.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise ConfigError(f"{path}: unknown section [{section}]; sections are {', '.join(SECTIONS)}")
    return data


def apply(instance: Any, values: Mapping[str, Any], section: str, where: str = "") -> Any:
    """A copy of dataclass ``instance`` with ``values`` set, checked against field types."""
    fields = {f.name: f for f in dataclasses.fields(instance)}
    changes = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{where}unknown setting {section}.{key}; {section} has: {', '.join(sorted(fields))}"
            )
        changes[key] = _coerce(getattr(instance, key), value, f"{where}{section}.{key}")
        # By convention a float setting named ``…dropout`` is a probability, in the host and in
        # every plugin: checked here once rather than by each Config.
        if key.endswith("dropout") and isinstance(changes[key], float) and not 0.0 <= changes[key] <= 1.0:
            raise ConfigError(f"{where}{section}.{key} = {value!r}: a dropout probability must be in [0, 1]")
    return dataclasses.replace(instance, **changes)


def _coerce(default: Any, value: Any, name: str) -> Any:
    """Accept ``value`` if it has the type of the default (ints widen to floats)."""
    if isinstance(default, bool) or isinstance(value, bool):
        if isinstance(default, bool) and isinstance(value, bool):
            return value
    elif isinstance(default, float) and isinstance(value, (int, float)):
        return float(value)
    elif isinstance(default, tuple) and isinstance(value, (list, tuple)) and len(value) == len(default):
        return tuple(_coerce(d, v, name) for d, v in zip(default, value, strict=True))
    elif default is None or isinstance(value, type(default)):
        return value
    raise ConfigError(f"{name} = {value!r}: expected {type(default).__name__}")


def resolve(
    registry: Any, layers: Iterable[Mapping[str, Mapping[str, Any]]], new_run: bool = True
) -> RunConfig:
    """Merge configuration layers (lowest precedence first) into a checked RunConfig.

    For a new run the task's ``run_defaults`` (for its backbone too) and the dataset's task
    settings lie below the layers. A trained run's saved config (``new_run=False``) holds every
    setting there was when it trained; one added since takes its dataclass default, which is
    always the behaviour from before the setting existed, never a task's newer preference.
    """
    merged: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for layer in layers:
        for section, values in layer.items():
            if section not in SECTIONS:
                raise ConfigError(f"unknown section {section!r}; sections are {', '.join(SECTIONS)}")
            merged[section].update(values)
    run = apply(RunSection(), merged["run"], "run")
    for kind, names in (("task", registry.tasks), ("backbone", registry.backbones)):
        if not getattr(run, kind):
            raise ConfigError(
                f"no {kind} given: use --{kind} NAME (available: {', '.join(sorted(names)) or 'none'})"
            )
    backbone_cls = registry.backbone(run.backbone)
    task_cls = registry.task(run.task)
    registry.check_pair(task_cls, backbone_cls)  # e.g. a generating task needs a decoder
    for_backbone = task_cls.backbone_run_defaults.get(run.backbone, {}) if new_run else {}
    for section in SECTIONS if new_run else ():  # the task's needs (with this backbone), below the user's
        defaults = {**task_cls.run_defaults.get(section, {}), **for_backbone.get(section, {})}
        if section == "train" and "batch_size" in merged[section] and "batch_tokens" not in merged[section]:
            defaults.pop("batch_tokens", None)  # the user asked for batches of sentences: give them
        merged[section] = {**defaults, **merged[section]}
    if run.dataset and new_run:
        merged["task"] = {**registry.dataset(run.task, run.dataset).task_defaults, **merged["task"]}
    return RunConfig(
        run=run,
        train=apply(TrainConfig(), merged["train"], "train"),
        embeddings=apply(EmbeddingConfig(), merged["embeddings"], "embeddings"),
        backbone=apply(backbone_cls.Config(), merged["backbone"], "backbone"),
        task=apply(task_cls.Config(), merged["task"], "task"),
    )


def assignments_to_layer(assignments: Iterable[str]) -> dict[str, dict[str, Any]]:
    layer: dict[str, dict[str, Any]] = {}
    for text in assignments:
        section, key, value = parse_assignment(text)
        layer.setdefault(section, {})[key] = value
    return layer


def to_toml(config: RunConfig) -> str:
    """The configuration as TOML, without ``run.output``: repeating a run from its
    ``config.toml`` must start a new run directory, not overwrite this one."""
    import tomli_w

    data = config.to_dict()
    data["run"].pop("output")
    return tomli_w.dumps(data)
