"""Ranked boards and their formats: seed groups, intervals, Markdown/JSON/CSV, and HTML in a browser."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from nlpplat import report
from nlpplat.cli import cli
from nlpplat.leaderboard import Leaderboard
from nlpplat.ranking import build_boards


def run(run_id: str, backbone: str, seed: int, score: float, seconds: float, **extra: Any) -> dict[str, Any]:
    config = {"run": {"task": "ner", "backbone": backbone}, "train": {"seed": seed, "lr": 0.001}}
    return {
        "run_id": run_id, "task": "ner", "dataset": "demo", "dataset_checksum": "abcdef1234", "backbone": backbone,
        "config": config, "config_hash": f"{run_id}-hash", "seed": seed, "primary_metric": "f1",
        "higher_is_better": True, "test": {"f1": score}, "dev": {"f1": score - 1},
        "metric_signature": "seqeval=1.2.2|mode=strict", "decoding": {"decoder": "viterbi"},
        "parameters": {"rnn": 50_000, "lstm": 180_000, "transformer": 1_200_000}[backbone],
        "train_seconds": seconds, "train_tokens_per_second": 5000.0, "eval_sentences_per_second": 900.0,
        "peak_memory_mb": 400.0, "confidence": {"test": [score - 1, score + 1]}, **extra,
    }  # fmt: skip


@pytest.fixture
def board(tmp_path: Path) -> Leaderboard:
    board = Leaderboard(tmp_path / "board.sqlite")
    rng = np.random.default_rng(0)
    for backbone, base, seconds in [
        ("rnn", 70.0, 100.0),
        ("lstm", 80.0, 300.0),
        ("transformer", 78.0, 200.0),
    ]:
        for seed in (1, 2, 3):
            score = base + seed  # lstm: 81, 82, 83
            correct = rng.integers(0, 3, 60)
            board.add(
                run(f"{backbone}-{seed}", backbone, seed, score, seconds + seed),
                {"test": [[int(c), 2, 2] for c in correct]},
            )
    board.add(run("other-data", "rnn", 1, 99.0, 10.0, dataset_checksum="ffff0000"))
    board.add_failure(
        {"run_id": "broken", "task": "ner", "dataset": "demo", "backbone": "rnn"}, "killed by SIGKILL"
    )
    return board


def f1(totals: np.ndarray) -> float:
    correct, predicted, gold = totals
    return 200.0 * correct / (predicted + gold)


def test_seeds_are_grouped_and_ranked_by_their_mean(board: Leaderboard) -> None:
    boards = build_boards(board.rows(), load_statistics=board.statistics, metric_for=lambda task, config: f1)
    [other, demo] = sorted(boards, key=lambda b: b.dataset_checksum, reverse=True)
    assert other.dataset_checksum == "ffff0000" and len(other.entries) == 1  # other data: its own board
    assert [entry.backbone for entry in demo.entries] == ["lstm", "transformer", "rnn"]
    lstm = demo.entries[0]
    assert (lstm.seeds, lstm.mean, lstm.std) == (3, 82.0, 1.0)
    assert lstm.run_ids == ["lstm-3", "lstm-2", "lstm-1"]
    # the seed group's interval is a bootstrap of the mean over seeds, from the statistics
    assert lstm.interval is not None and lstm.interval[0] < lstm.interval[1]
    assert report.score_text(lstm) == "82.00 ± 1.00"


def test_single_runs_show_their_stored_interval(board: Leaderboard) -> None:
    boards = build_boards(board.rows(dataset="demo"), by_run=True)
    entry = boards[0].entries[0]  # boards are sorted by task, dataset and data checksum
    assert entry.run_ids == ["lstm-3"] and entry.interval == (82.0, 84.0)
    assert report.interval_text(entry) == "82.00–84.00"


def test_without_the_task_a_seed_group_has_no_interval(board: Leaderboard) -> None:
    boards = build_boards(
        board.rows(), load_statistics=board.statistics, metric_for=lambda task, config: None
    )
    assert all(entry.interval is None for entry in boards[0].entries)


def test_markdown_json_and_csv_carry_the_same_ranking(board: Leaderboard) -> None:
    boards = build_boards(board.rows())
    failed = board.rows(status="failed")
    markdown = report.render(boards, failed, "markdown")
    assert "### ner · demo (data abcdef12)" in markdown
    assert "| 1 | lstm |" in markdown and "82.00 ± 1.00" in markdown
    assert "| ner | demo | rnn | failed | broken | killed by SIGKILL |" in markdown
    data = json.loads(report.render(boards, failed, "json"))
    entries = data["boards"][0]["entries"]
    assert [e["backbone"] for e in entries] == ["lstm", "transformer", "rnn"]
    assert entries[0]["test_scores"] == [83.0, 82.0, 81.0] and entries[0]["parameters"] == 180_000
    assert data["failed"][0]["error"] == "killed by SIGKILL"
    rows = list(csv.DictReader(io.StringIO(report.render(boards, failed, "csv"))))
    assert len(rows) == 4 and rows[0]["backbone"] == "lstm" and rows[0]["runs"] == "lstm-3 lstm-2 lstm-1"
    text = report.render(boards, failed, "table")
    assert "82.00 ± 1.00" in text and "runs that did not finish" in text


def test_cli_filters_and_writes_files(board: Leaderboard, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["leaderboard", "--db", str(board.path), "--task", "ner", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["boards"][0]["task"] == "ner"
    target = tmp_path / "board.md"
    args = ["leaderboard", "show", "--db", str(board.path), "--format", "markdown", "--output", str(target)]
    assert runner.invoke(cli, args).exit_code == 0
    assert target.read_text().startswith("### ner · demo")
    empty = runner.invoke(cli, ["leaderboard", "--db", str(board.path), "--task", "srl"])
    assert empty.exit_code == 0 and "No runs recorded yet" in empty.stdout


def test_html_is_self_contained(board: Leaderboard) -> None:
    page = report.render(build_boards(board.rows()), [], "html")
    assert "<script>" in page and 'src="data:image/png;base64,' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing to fetch: it works offline


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    return path


def rendered_dom(page: Path, fragment: str, profile: Path) -> str:
    """The DOM after the page's scripts ran, as headless Chromium sees it."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--virtual-time-budget=3000", "--dump-dom", page.as_uri() + fragment,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_html_page_in_a_browser_shows_the_tables_and_sorts_them(board: Leaderboard, tmp_path: Path) -> None:
    page = tmp_path / "board.html"
    page.write_text(report.render(build_boards(board.rows()), board.rows(status="failed"), "html"))
    table = "ner-demo-abcdef12"
    dom = rendered_dom(page, f"#sort={table}:params:asc", tmp_path / "profile")
    assert 'data-ready="yes"' in dom  # the script ran to the end
    body = dom.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    order = re.findall(r'<tr data-runs="(\w+)-', body)
    assert order == ["rnn", "lstm", "transformer"]  # sorted by parameter count, not by score
    assert 'data-key="params" aria-sort="ascending"' in body
    assert "killed by SIGKILL" in dom and dom.count("data:image/png;base64,") == 1
    descending = rendered_dom(page, f"#sort={table}:train_time:desc", tmp_path / "profile")
    body = descending.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<tr data-runs="(\w+)-', body) == ["lstm", "transformer", "rnn"]
