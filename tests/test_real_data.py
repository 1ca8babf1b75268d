"""A short run on the real CoNLL-2003 files (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nlpplat.cli import cli


def test_short_lstm_run_on_conll2003_learns(real_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--task",
            "ner",
            "--backbone",
            "lstm",
            "--epochs",  # an amount of work, not of time: a busy machine must not fail the test
            "1",
            "--output",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["dataset"] == "conll2003"  # the mirror is preferred over the demo
    assert results["padding_fraction"] < 0.10
    # One epoch is far from converged, and far above a broken pipeline's ~0.
    assert results["test"]["f1"] > 30, results["test"]
    assert results["test"]["support"] == 5648  # every CoNLL-2003 test entity was scored
