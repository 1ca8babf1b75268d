"""Capabilities: a generating task refuses a backbone without a decoder, in one place."""

from __future__ import annotations

import pytest
from torch import nn

from nlpplat import Backbone, hookimpl
from nlpplat.config import resolve
from nlpplat.errors import ConfigError
from nlpplat.plugins import PluginHost
from nlpplat.registry import build_registry
from tests.toy_plugin import ToyBackbone, ToyTask


class ToyGeneratingTask(ToyTask):
    """Stands in for translation or dialogue: only ``requires_decoder`` matters here."""

    name = "toy-generate"
    requires_decoder = True


class ToyDecoderBackbone(ToyBackbone):
    name = "toy-decoder"

    @classmethod
    def build_decoder(cls, config, memory_dim: int) -> nn.Module:
        return nn.Identity()


class GeneratingPlugin:
    @hookimpl
    def register_tasks(self):
        return [ToyGeneratingTask]

    @hookimpl
    def register_backbones(self):
        return [ToyDecoderBackbone]


@pytest.fixture
def registry(toy_host: PluginHost):
    toy_host.register(GeneratingPlugin(), "generating")
    try:
        yield build_registry(toy_host)
    finally:
        toy_host.unregister("generating")


def test_has_decoder_is_whether_build_decoder_is_overridden() -> None:
    assert not Backbone.has_decoder() and not ToyBackbone.has_decoder()
    assert ToyDecoderBackbone.has_decoder()
    with pytest.raises(NotImplementedError, match="backbone 'toy' has no decoder"):
        ToyBackbone.build_decoder(ToyBackbone.Config(), memory_dim=8)


def test_generating_task_refuses_a_backbone_without_decoder(registry) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(registry, [{"run": {"task": "toy-generate", "backbone": "toy"}}])
    assert str(caught.value) == (
        "Backbone 'toy' has no decoder, and task 'toy-generate' generates text, which needs one. "
        "Backbones with a decoder: toy-decoder; choose one with --backbone."
    )


def test_generating_task_accepts_a_backbone_with_decoder(registry) -> None:
    config = resolve(registry, [{"run": {"task": "toy-generate", "backbone": "toy-decoder"}}])
    assert config.run.backbone == "toy-decoder"


def test_tasks_that_do_not_generate_take_any_backbone(registry) -> None:
    assert not ToyTask.requires_decoder
    for backbone in ("toy", "toy-decoder"):
        assert resolve(registry, [{"run": {"task": "toy", "backbone": backbone}}]).run.backbone == backbone
