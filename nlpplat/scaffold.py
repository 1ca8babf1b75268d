"""``nlpplat new-plugin``: write a ready plugin distribution from templates.

A backbone plugin starts as a packed bidirectional GRU, a task plugin as a token
tagger over ``token<TAB>label`` files with a generated demo dataset: small, working
examples that pass the conformance kit (:mod:`nlpplat.testing`), so the author starts
from green tests and changes one thing at a time. The templates are
:class:`string.Template` strings (``$name`` placeholders), kept here rather than as
package data so that they travel with the code in every kind of install.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from nlpplat.api import PLUGIN_API
from nlpplat.errors import NlpplatError

KINDS = ("backbone", "task")
PREFIX = "nlpplat-"
_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


class ScaffoldError(NlpplatError):
    """An invalid plugin name, or a folder that already exists."""


def names(name: str) -> dict[str, str]:
    """Every spelling of the plugin's name that the templates need.

    ``gru`` and ``nlpplat-gru`` both give: ``name`` gru (what users type after
    ``--backbone``), ``distribution`` nlpplat-gru, ``package`` nlpplat_gru, ``Class`` Gru.
    """
    short = name.removeprefix(PREFIX)
    if not _NAME.fullmatch(short):
        raise ScaffoldError(
            f"{name!r} is not a valid plugin name: use lower-case letters, digits and single hyphens, "
            "starting with a letter (e.g. gru, my-tagger)"
        )
    distribution = PREFIX + short
    return {
        "name": short,
        "distribution": distribution,
        "package": distribution.replace("-", "_"),
        "Class": "".join(part.capitalize() for part in short.split("-")),
        "api_range": f">={PLUGIN_API},<{PLUGIN_API + 1}",
    }


def new_plugin(name: str, kind: str, output: Path) -> Path:
    """Write the distribution for a ``kind`` plugin called ``name`` under ``output``; return its folder."""
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    values = names(name)
    folder = Path(output) / values["distribution"]
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists; choose another --output or name, or remove it")
    files = {**COMMON, **(BACKBONE if kind == "backbone" else TASK)}
    for relative, template in files.items():
        path = folder / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(values, kind=kind), encoding="utf-8")
    return folder


# -- templates shared by both kinds ---------------------------------------------------------
COMMON = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "A $kind for nlpplat: $name."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["nlpplat", "torch>=2.4"]

[project.optional-dependencies]
test = ["pytest>=8"]

# nlpplat finds plugins through this entry-point group; the name on the left is the
# plugin's name in `nlpplat plugins`, the module on the right holds its hooks.
[project.entry-points.nlpplat]
$name = "$package.plugin"

[tool.setuptools.packages.find]
include = ["$package*"]

[tool.pytest.ini_options]
addopts = "--import-mode=importlib"
""",
    "$package/__init__.py": '''\
"""$distribution: a $kind for nlpplat."""
''',
}

# -- a backbone plugin ----------------------------------------------------------------------
BACKBONE = {
    "$package/plugin.py": '''\
"""The nlpplat entry point of $distribution: its hook implementations."""

from nlpplat import Backbone, hookimpl
from $package.backbone import ${Class}Backbone

# The nlpplat plugin API versions this plugin works with. nlpplat skips the plugin, and
# says why in `nlpplat plugins`, when it provides a version outside this range.
NLPPLAT_API = "$api_range"


@hookimpl
def register_backbones() -> list[type[Backbone]]:
    return [${Class}Backbone]
''',
    "$package/backbone.py": '''\
"""The ``$name`` backbone: a bidirectional GRU encoder, a starting point to replace with yours.

The contract (nlpplat.Encoder): ``forward(inputs (B, T, E) float, mask (B, T) bool)``
returns states ``(B, T, output_dim)``; states at real positions must not depend on how
much padding follows them. Rows are right-padded: real tokens first.
"""

from dataclasses import dataclass

from torch import Tensor, nn

from nlpplat import Backbone, Encoder


@dataclass
class ${Class}Config:
    hidden: int = 128  # units per direction; the states are 2 * hidden wide
    layers: int = 1  # stacked GRU layers
    dropout: float = 0.2  # on the output states, in training only


class ${Class}Encoder(Encoder):
    """``forward(inputs (B, T, E), mask (B, T)) -> states (B, T, 2 * hidden)``."""

    def __init__(self, config: ${Class}Config, input_dim: int):
        super().__init__()
        self.rnn = nn.GRU(
            input_dim, config.hidden, num_layers=config.layers, batch_first=True, bidirectional=True
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output_dim = 2 * config.hidden

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        # Packing stops each row at its last real token, so the backward direction starts
        # there and not at the end of the padding: the states ignore the padding.
        lengths = mask.sum(dim=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        states, _ = self.rnn(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=inputs.size(1))
        return self.dropout(states)  # (B, T, 2 * hidden)


class ${Class}Backbone(Backbone):
    name = "$name"
    Config = ${Class}Config
    description = "Bidirectional GRU (from nlpplat new-plugin)"

    @classmethod
    def build_encoder(cls, config: ${Class}Config, input_dim: int) -> Encoder:
        return ${Class}Encoder(config, input_dim)
''',
    "tests/test_$package.py": '''\
"""The $name backbone, checked with nlpplat's conformance kit."""

import dataclasses

import $package.plugin
from nlpplat import testing
from $package.backbone import ${Class}Backbone


def test_conformance_small():
    testing.check_backbone(${Class}Backbone, dataclasses.replace(${Class}Backbone.Config(), hidden=8, layers=2))


def test_default_config_conforms():
    testing.check_backbone(${Class}Backbone)


def test_plugin_registers_the_backbone():
    testing.check_plugin($package.plugin, backbones=["$name"])
''',
    "README.md": """\
# $distribution

A backbone for nlpplat, registered as `$name`.

It starts as a bidirectional GRU (written by `nlpplat new-plugin`): replace the encoder in
`$package/backbone.py` with your architecture and keep the tests green.

## Install and use

```bash
nlpplat install -e .                 # from this folder; or a wheel, or a git URL
nlpplat backbones                    # lists $name and its settings
nlpplat run --task ner --backbone $name --dataset demo
```

## Settings

| field | default | meaning |
| --- | --- | --- |
| `hidden` | `128` | units per direction; the states are `2 * hidden` wide |
| `layers` | `1` | stacked GRU layers |
| `dropout` | `0.2` | on the output states, in training only |

Change them with `--set backbone.hidden=256`.

## Tests

```bash
python -m pytest
```

They run `nlpplat.testing.check_backbone` (shapes, padding invariance, gradient flow,
determinism, state-dict round trip) and check that the plugin module registers `$name`.
""",
}

# -- a task plugin --------------------------------------------------------------------------
TASK = {
    "$package/plugin.py": '''\
"""The nlpplat entry point of $distribution: its hook implementations."""

from nlpplat import DatasetSpec, Task, hookimpl
from $package.datasets import DATASETS
from $package.task import ${Class}Task

# The nlpplat plugin API versions this plugin works with. nlpplat skips the plugin, and
# says why in `nlpplat plugins`, when it provides a version outside this range.
NLPPLAT_API = "$api_range"


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [${Class}Task]


@hookimpl
def register_datasets() -> list[DatasetSpec]:
    return list(DATASETS)
''',
    "$package/task.py": '''\
"""The ``$name`` task: tag every token with a label, a starting point to replace with yours.

Data: one token per line as ``token<TAB>label``, a blank line after each sentence.
Scored by token accuracy, in points.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nlpplat import Batch, DataError, Task
from nlpplat.io import atomic_writer, numbered_lines

IGNORE = -100  # target id that cross_entropy skips: padding and labels unseen in training


@dataclass
class ${Class}Config:
    dropout: float = 0.2  # on the encoder states, before the output layer


@dataclass
class Sentence:
    """One example: tokens, their labels, and where the sentence starts in its file."""

    tokens: list[str]
    labels: list[str]
    path: str = ""
    line: int = 0


class ${Class}Task(Task):
    name = "$name"
    Config = ${Class}Config
    primary_metric = "accuracy"
    higher_is_better = True
    prediction_suffix = ".tsv"
    default_datasets = ("$name-demo",)
    description = "Token tagging over token<TAB>label files (from nlpplat new-plugin)"

    def __init__(self, config: ${Class}Config | None = None, language: str = "en"):
        super().__init__(config if config is not None else ${Class}Config(), language)
        self.labels: list[str] = []

    # -- data -------------------------------------------------------------------------
    def read(self, path: Path) -> list[Sentence]:
        """Every sentence of ``path`` (``.gz`` too); DataError at file:line if malformed."""
        sentences: list[Sentence] = []
        tokens: list[str] = []
        labels: list[str] = []
        start = 0
        for number, line in numbered_lines(path):  # streams, decompresses, numbers lines
            if not line.strip():
                if tokens:
                    sentences.append(Sentence(tokens, labels, str(path), start))
                    tokens, labels = [], []
                continue
            parts = line.split("\\t")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise DataError(path, number, f"expected token<TAB>label, got {line!r}")
            if not tokens:
                start = number
            tokens.append(parts[0])
            labels.append(parts[1])
        if tokens:
            sentences.append(Sentence(tokens, labels, str(path), start))
        if not sentences:
            raise DataError(path, None, "no sentences (expected token<TAB>label lines)")
        return sentences

    def tokens(self, example: Sentence) -> list[str]:
        return example.tokens

    def fit(self, examples: Sequence[Sentence]) -> None:
        self.labels = sorted({label for example in examples for label in example.labels})

    def state_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.labels = list(state["labels"])

    def targets(self, examples: Sequence[Sentence], length: int) -> dict[str, Tensor]:
        """``{"labels": (B, length) long}``: label ids, IGNORE at padding and unseen labels."""
        ids = {label: index for index, label in enumerate(self.labels)}
        gold = torch.full((len(examples), length), IGNORE, dtype=torch.long)
        for row, example in enumerate(examples):
            values = [ids.get(label, IGNORE) for label in example.labels[:length]]
            gold[row, : len(values)] = torch.tensor(values, dtype=torch.long)
        return {"labels": gold}

    # -- model ------------------------------------------------------------------------
    def build_head(self, input_dim: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(self.config.dropout), nn.Linear(input_dim, len(self.labels)))

    def loss(self, head: nn.Module, states: Tensor, batch: Batch) -> Tensor:
        """Cross-entropy averaged over real tokens, so it does not grow with batch size."""
        logits = head(states)  # (B, T, labels)
        return nn.functional.cross_entropy(
            logits.flatten(0, 1), batch.targets["labels"].flatten(), ignore_index=IGNORE
        )

    def decode(self, head: nn.Module, states: Tensor, batch: Batch) -> list[list[str]]:
        best = head(states).argmax(dim=-1)  # (B, T)
        return [
            [self.labels[index] for index in best[row, : len(example.tokens)].tolist()]
            for row, example in enumerate(batch.examples)
        ]

    # -- evaluation and output --------------------------------------------------------
    def metrics(self, predictions: Sequence[list[str]], examples: Sequence[Sentence]) -> dict[str, Any]:
        pairs = [
            (predicted, gold)
            for labels, example in zip(predictions, examples, strict=True)
            for predicted, gold in zip(labels, example.labels, strict=True)
        ]
        correct = sum(predicted == gold for predicted, gold in pairs)
        return {"accuracy": 100.0 * correct / max(len(pairs), 1), "tokens": len(pairs)}

    def metric_signature(self) -> str:
        return "token accuracy, in points"

    def write_predictions(
        self, examples: Sequence[Sentence], predictions: Sequence[list[str]], path: Path
    ) -> None:
        """The input format, with predicted labels: readable by ``read``."""
        with atomic_writer(path) as handle:
            for example, labels in zip(examples, predictions, strict=True):
                for token, label in zip(example.tokens, labels, strict=True):
                    handle.write(f"{token}\\t{label}\\n")
                handle.write("\\n")

    def predict_text(self, text: str, predict: Callable[[list[Any]], list[Any]]) -> list[dict[str, Any]]:
        """Whitespace tokenisation (use spaCy's tokenizer for real text), one result per text."""
        tokens = text.split()
        if not tokens:
            return []
        [labels] = predict([Sentence(tokens, ["?"] * len(tokens))])
        return [{"tokens": tokens, "labels": labels}]
''',
    "$package/datasets.py": '''\
"""The datasets of the ``$name`` task: a synthetic demo, generated on first use."""

import random
from pathlib import Path

from nlpplat import DatasetSpec

WORDS = {
    "DET": ["the", "a", "this", "every"],
    "ADJ": ["green", "quiet", "old", "bright", "small"],
    "NOUN": ["cat", "river", "idea", "teacher", "city", "song"],
    "VERB": ["sees", "likes", "finds", "follows", "builds"],
}
SIZES = {"train": 400, "dev": 80, "test": 80}
FILES = {split: f"{split}.tsv" for split in SIZES}


def noun_phrase(rng: random.Random) -> list[str]:
    return ["DET"] + (["ADJ"] if rng.random() < 0.5 else []) + ["NOUN"]


def write_demo(folder: Path) -> None:
    """Sentences "DET (ADJ) NOUN VERB DET (ADJ) NOUN", tagged with those classes; seeded."""
    rng = random.Random(0)
    for split, count in SIZES.items():
        with open(folder / FILES[split], "w", encoding="utf-8") as handle:
            for _ in range(count):
                for tag in [*noun_phrase(rng), "VERB", *noun_phrase(rng)]:
                    handle.write(f"{rng.choice(WORDS[tag])}\\t{tag}\\n")
                handle.write("\\n")


DEMO = DatasetSpec(
    name="$name-demo",
    task="$name",
    files=FILES,
    license="CC0 1.0 (synthetic)",
    description="Synthetic part-of-speech sentences (400/80/80), generated by $distribution.",
    generate=write_demo,
)

DATASETS = [DEMO]
''',
    "tests/test_$package.py": '''\
"""The $name task and its dataset, checked with nlpplat's conformance kit."""

from pathlib import Path

import pytest

import $package.plugin
from nlpplat import DataError, testing
from $package.datasets import DEMO, write_demo
from $package.task import ${Class}Task


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    write_demo(tmp_path)
    return tmp_path / "dev.tsv"


def test_task_conforms(sample: Path):
    testing.check_task(${Class}Task, sample, gold=lambda sentence: sentence.labels)


def test_dataset_conforms():
    testing.check_dataset(DEMO, task_cls=${Class}Task)


def test_plugin_registers_the_task_and_dataset():
    testing.check_plugin($package.plugin, tasks=["$name"], datasets=["$name-demo"])


def test_malformed_line_is_reported_with_file_and_line(tmp_path: Path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("the\\tDET\\ncat\\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\\.tsv:2"):
        ${Class}Task().read(bad)
''',
    "README.md": """\
# $distribution

A task for nlpplat, registered as `$name`, with a
synthetic dataset `$name-demo`.

It starts as a token tagger (written by `nlpplat new-plugin`): one token per line as
`token<TAB>label`, a blank line after each sentence, scored by token accuracy. Change
`$package/task.py` into your problem and keep the tests green.

## Install and use

```bash
nlpplat install -e .                 # from this folder; or a wheel, or a git URL
nlpplat tasks                        # lists $name
nlpplat run --task $name --backbone lstm --dataset $name-demo
nlpplat run --task $name --backbone lstm --train train.tsv --dev dev.tsv --test test.tsv
```

## Tests

```bash
python -m pytest
```

They run `nlpplat.testing.check_task` (reader, prediction round trip, task state, batches,
metrics of gold predictions, decoding, a training step, raw text) and
`nlpplat.testing.check_dataset`, and check that the plugin module registers `$name`.
""",
}
