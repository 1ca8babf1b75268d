"""Configuration layers, --set parsing and durations."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from nlpplat.config import assignments_to_layer, load_toml, parse_duration, resolve, to_toml
from nlpplat.errors import ConfigError, UnknownNameError


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1.5h", 5400), ("1h30m", 5400), ("", None)]
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_says_what_is_accepted() -> None:
    with pytest.raises(ConfigError, match=r"use e\.g\. 90s, 30m"):
        parse_duration("soon")


def test_layers_apply_in_order_and_values_are_typed(toy_registry) -> None:
    layers = [
        {"run": {"task": "toy", "backbone": "toy"}, "train": {"lr": 1}},
        assignments_to_layer(
            ["train.lr=0.5", "backbone.width=8", "task.smoothing=0.1", "run.dataset=toy-demo"]
        ),
    ]
    config = resolve(toy_registry, layers)
    assert config.train.lr == 0.5 and isinstance(config.train.lr, float)
    assert config.backbone.width == 8 and config.task.smoothing == 0.1 and config.run.dataset == "toy-demo"


def test_unknown_setting_lists_the_valid_ones(toy_registry) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting backbone.depth; backbone has: width"):
        resolve(toy_registry, [{"run": {"task": "toy", "backbone": "toy"}, "backbone": {"depth": 2}}])


def test_wrong_type_is_an_error(toy_registry) -> None:
    with pytest.raises(ConfigError, match=r"train.epochs = 'many': expected int"):
        resolve(
            toy_registry,
            [{"run": {"task": "toy", "backbone": "toy"}}, assignments_to_layer(["train.epochs=many"])],
        )


@pytest.mark.parametrize("setting", ["embeddings.dropout=1.5", "embeddings.word_dropout=-0.1"])
def test_a_dropout_outside_zero_to_one_is_an_error(toy_registry, setting: str) -> None:
    name = setting.split("=")[0]
    with pytest.raises(ConfigError, match=rf"{name} = .*: a dropout probability must be in \[0, 1\]"):
        resolve(toy_registry, [{"run": {"task": "toy", "backbone": "toy"}}, assignments_to_layer([setting])])
    ok = resolve(
        toy_registry, [{"run": {"task": "toy", "backbone": "toy"}}, assignments_to_layer([f"{name}=1"])]
    )
    assert ok.to_dict()["embeddings"][name.split(".")[1]] == 1.0


def test_unknown_backbone_lists_available(toy_registry) -> None:
    with pytest.raises(UnknownNameError, match=r"No backbone named 'gru'. Available: toy."):
        resolve(toy_registry, [{"run": {"task": "toy", "backbone": "gru"}}])


def test_config_toml_round_trip_keeps_the_hash(toy_registry, tmp_path: Path) -> None:
    config = resolve(
        toy_registry, [{"run": {"task": "toy", "backbone": "toy"}, "train": {"betas": [0.8, 0.9]}}]
    )
    (tmp_path / "config.toml").write_text(to_toml(config))
    again = resolve(toy_registry, [load_toml(tmp_path / "config.toml")])
    assert again == config and again.hash() == config.hash()


def test_malformed_set_is_explained() -> None:
    with pytest.raises(ConfigError, match=r"expected section\.key=value"):
        assignments_to_layer(["lr=3"])


def test_a_tasks_run_defaults_sit_below_the_users_settings(toy_registry) -> None:
    from tests.toy_plugin import ToyTask

    class TokenBatched(ToyTask):
        run_defaults: ClassVar = {
            "train": {"batch_tokens": 500, "lr": 0.5},
            "embeddings": {"char_filters": 0},
        }

    toy_registry.tasks["toy"] = TokenBatched
    try:
        config = resolve(toy_registry, [{"run": {"task": "toy", "backbone": "toy"}}])
        assert (config.train.batch_tokens, config.train.lr, config.embeddings.char_filters) == (500, 0.5, 0)
        config = resolve(toy_registry, [{"run": {"task": "toy", "backbone": "toy"}, "train": {"lr": 0.1}}])
        assert (config.train.batch_tokens, config.train.lr) == (500, 0.1)
        # Asking for a number of sentences per batch turns the task's token budget off.
        config = resolve(
            toy_registry, [{"run": {"task": "toy", "backbone": "toy"}, "train": {"batch_size": 7}}]
        )
        assert (config.train.batch_size, config.train.batch_tokens) == (7, 0)
        # A setting for one backbone overrides the task's for that backbone alone.
        TokenBatched.backbone_run_defaults = {"toy": {"train": {"lr": 0.25}}}
        config = resolve(toy_registry, [{"run": {"task": "toy", "backbone": "toy"}}])
        assert (config.train.batch_tokens, config.train.lr) == (500, 0.25)
        config = resolve(toy_registry, [{"run": {"task": "toy", "backbone": "toy"}, "train": {"lr": 0.1}}])
        assert config.train.lr == 0.1
    finally:
        toy_registry.tasks["toy"] = ToyTask


@pytest.mark.parametrize("setting", ["train.pad_multiple=0", "train.batch_size=-2"])
def test_counts_below_one_are_errors(toy_registry, setting: str) -> None:
    name = setting.split("=")[0]
    with pytest.raises(ConfigError, match=rf"{name} = -?\d+: must be at least 1"):
        resolve(toy_registry, [{"run": {"task": "toy", "backbone": "toy"}}, assignments_to_layer([setting])])
