"""Fixtures: the sample file (tests/srl_samples.py) and the data mirror."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # so that test modules can import srl_samples

from srl_samples import SAMPLE

MIRROR = Path(
    os.environ.get("NLPPLAT_DATA_DIR") or Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
)
UP = MIRROR / "up-en-ewt"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.conllu"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


@pytest.fixture
def up_files() -> Path:
    """The shared copy of UP English-EWT, or a skip."""
    if not UP.is_dir():
        pytest.skip(f"no up-en-ewt/ in the data mirror {MIRROR}")
    return UP


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids OpenMP start-up and, on a busy machine, spinning waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
