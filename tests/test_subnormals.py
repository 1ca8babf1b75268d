"""Subnormal floats flushed to zero, in every thread of a training process (nlpplat.subnormals)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from nlpplat import training
from nlpplat.registry import Registry
from tests.test_training import quiet, toy_config

# In a fresh interpreter: the setting, then torch's thread pool, then a product large enough
# to be cut into chunks for both threads. A subnormal times 1 must come out as 0 in every
# chunk, so in the pool's thread too (set after the pool has started, half of them do not).
# The subnormals are bit patterns: a literal like 1e-40 would already be flushed on its way in.
FRESH_PROCESS = """
import torch
from nlpplat.subnormals import flush_subnormals
supported = flush_subnormals()
torch.set_num_threads(2)
subnormals = torch.full((1 << 20,), 1 << 20, dtype=torch.int32).view(torch.float32)
values = subnormals * torch.ones(1 << 20)
print(supported, int((values != 0).sum()))
"""


def test_threads_started_after_the_flush_treat_subnormals_as_zero() -> None:
    output = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS], check=True, capture_output=True, text=True
    ).stdout.split()
    if output[0] != "True":
        pytest.skip("this CPU cannot flush subnormals")
    assert output[1] == "0"


def test_the_trainer_flushes_before_it_sets_its_threads(
    toy_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(training, "flush_subnormals", lambda: calls.append("flush"))
    monkeypatch.setattr(torch, "set_num_threads", lambda count: calls.append("threads"))
    training.Trainer(toy_config(toy_registry, threads=1), toy_registry, quiet())
    assert calls[:2] == ["flush", "threads"]
