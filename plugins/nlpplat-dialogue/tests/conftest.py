"""Fixtures: a small DailyDialog-format sample and the data mirror."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # so that test modules can import dialogue_samples

from dialogue_samples import SAMPLE, write_dailydialog

MIRROR = Path(
    os.environ.get("NLPPLAT_DATA_DIR") or Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
)
DAILYDIALOG = MIRROR / "dailydialog"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write_dailydialog(tmp_path, SAMPLE)


@pytest.fixture
def dailydialog() -> Path:
    """The shared copy of DailyDialog, or a skip."""
    if not DAILYDIALOG.is_dir():
        pytest.skip(f"no dailydialog/ in the data mirror {MIRROR}")
    return DAILYDIALOG


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids OpenMP start-up and, on a busy machine, spinning waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
