"""The srl task, its datasets and its plugin, checked with nlpplat's conformance kit."""

from __future__ import annotations

from pathlib import Path

import nlpplat_srl.plugin
from nlpplat import testing
from nlpplat_srl.datasets import DEMO, UP_EN_EWT
from nlpplat_srl.instances import gold
from nlpplat_srl.task import SRLConfig, SRLTask


def test_task_conforms(sample: Path) -> None:
    testing.check_task(
        SRLTask,
        sample,
        gold=gold,
        config=SRLConfig(hidden=8),
        text="The court nominated two judges. Maria ran to the station.",
    )


def test_demo_dataset_conforms(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NLPPLAT_CACHE", str(tmp_path))
    testing.check_dataset(DEMO, task_cls=SRLTask)


def test_up_spec_is_valid() -> None:
    testing.check_dataset_spec(UP_EN_EWT, SRLTask)


def test_up_resolves_in_the_mirror(up_files: Path) -> None:
    testing.check_dataset_files(UP_EN_EWT, mirror=up_files.parent, task_cls=SRLTask)


def test_plugin_registers_the_task_its_datasets_and_command() -> None:
    testing.check_plugin(
        nlpplat_srl.plugin, tasks=["srl"], datasets=["up-en-ewt", "demo"], commands=["srl-pipeline"]
    )
