"""Fixtures: a small parallel sample and the data mirror."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # so that test modules can import translation_samples

from translation_samples import SOURCES, TARGETS

MIRROR = Path(
    os.environ.get("NLPPLAT_DATA_DIR") or Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
)
MULTI30K = MIRROR / "multi30k-task1"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The prefix of a two-file split: ``sample.en`` and ``sample.de``."""
    (tmp_path / "sample.en").write_text("".join(line + "\n" for line in SOURCES), encoding="utf-8")
    (tmp_path / "sample.de").write_text("".join(line + "\n" for line in TARGETS), encoding="utf-8")
    return tmp_path / "sample"


@pytest.fixture
def multi30k() -> Path:
    """The shared copy of Multi30k task 1, or a skip."""
    if not MULTI30K.is_dir():
        pytest.skip(f"no multi30k-task1/ in the data mirror {MIRROR}")
    return MULTI30K


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids OpenMP start-up and, on a busy machine, spinning waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
