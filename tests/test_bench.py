"""Benchmark grids: expansion, resuming, isolation of failing cells, and a real grid end to end."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from nlpplat import bench
from nlpplat.cli import _option_layer, cli
from nlpplat.config import assignments_to_layer, resolve
from nlpplat.errors import ConfigError, NlpplatError
from nlpplat.leaderboard import Leaderboard
from nlpplat.registry import Registry


def quiet() -> Console:
    return Console(file=io.StringIO(), force_terminal=False)


def toy_cells(registry: Registry, seeds: int = 1, **layer: dict) -> list[bench.Cell]:
    spec = bench.GridSpec(tasks=["toy"], backbones=["toy"], seeds=bench.seed_list(seeds), layer=dict(layer))
    return bench.expand(spec, registry, quiet())


def test_grid_file_with_overrides(toy_registry: Registry, tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        '[grid]\ntask = "toy"\nbackbone = ["toy"]\nseeds = [1, 5]\n\n'
        '[train]\nmax_time = "1m"\nlr = 0.01\n\n'
        "[[override]]\nwhere = { seed = 5 }\ntrain = { lr = 0.5 }\nbackbone = { width = 8 }\n"
    )
    cells = bench.expand(bench.load_grid(grid), toy_registry, quiet())
    assert [(c.dataset, c.seed) for c in cells] == [("toy-demo", 1), ("toy-demo", 5)]  # the default dataset
    assert (cells[0].config.train.lr, cells[0].config.backbone.width) == (0.01, 16)
    assert (cells[1].config.train.lr, cells[1].config.backbone.width) == (0.5, 8)
    assert cells[0].config.train.max_time == cells[1].config.train.max_time == "1m"
    assert cells[0].prefix == f"toy-toy-toy-demo-seed1-{cells[0].config_hash[:8]}"
    spec = bench.load_grid(grid)
    spec.command_line = {"train": {"lr": 0.2}}  # options of `nlpplat bench` beat the file's overrides
    assert [cell.config.train.lr for cell in bench.expand(spec, toy_registry, quiet())] == [0.2, 0.2]


def test_cell_arguments_reproduce_the_cell_configuration(toy_registry: Registry) -> None:
    [cell] = toy_cells(toy_registry, train={"betas": [0.8, 0.9], "max_time": "2m"}, task={"smoothing": 0.1})
    arguments = cell.arguments()
    options = dict(zip(arguments[0:8:2], arguments[1:8:2], strict=True))
    sets = [arguments[i + 1] for i, value in enumerate(arguments) if value == "--set"]
    layer = _option_layer(
        {
            "task": options["--task"],
            "backbone": options["--backbone"],
            "dataset": options["--dataset"],
            "seed": 1,
        }
    )
    config = resolve(toy_registry, [layer, assignments_to_layer(sets)])
    assert config.hash() == cell.config_hash  # what `nlpplat run` will compute for the cell


def test_grid_errors_name_what_is_wrong(toy_registry: Registry, tmp_path: Path) -> None:
    spec = bench.GridSpec(tasks=["toy"], backbones=["toy"], datasets=["conll2003"])
    with pytest.raises(ConfigError, match=r"no task of the grid \(toy\) has a dataset named 'conll2003'"):
        bench.expand(spec, toy_registry, quiet())
    with pytest.raises(NlpplatError, match=r"cell toy/toy-demo/toy/seed 1: unknown setting train\.speed"):
        toy_cells(toy_registry, train={"speed": 3})
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\ntasks = ['toy']\n")
    with pytest.raises(ConfigError, match=r"unknown key \[grid\] tasks; \[grid\] has task, dataset"):
        bench.load_grid(grid)


def test_plan_skips_finished_cells_and_resumes_interrupted_ones(
    toy_registry: Registry, tmp_path: Path
) -> None:
    finished, interrupted, failed, fresh = toy_cells(toy_registry, seeds=4)
    (tmp_path / f"{finished.prefix}-20260101T000000Z").mkdir()
    (tmp_path / f"{finished.prefix}-20260101T000000Z" / "results.json").write_text(
        json.dumps(
            {"config_hash": finished.config_hash, "primary_metric": "accuracy", "test": {"accuracy": 99.0}}
        )
    )
    (tmp_path / f"{interrupted.prefix}-20260101T000000Z").mkdir()
    (tmp_path / f"{interrupted.prefix}-20260101T000000Z" / "state.pt").write_bytes(b"")
    (tmp_path / f"{failed.prefix}-20260101T000000Z").mkdir()
    runs = bench.plan([finished, interrupted, failed, fresh], tmp_path)
    assert [run.action for run in runs] == ["skip", "resume", "run", "run"]
    assert runs[0].score == 99.0 and runs[2].run_dir.name == f"{failed.prefix}-20260101T000000Z"
    assert runs[3].run_dir.name.startswith(fresh.prefix + "-") and not runs[3].run_dir.exists()
    assert bench.run_command(runs[1], tmp_path / "db")[3:5] == ["run", "--resume"]


# Stand-ins for `nlpplat run`, so that failures and kills cost milliseconds.
FINISH = """
import json, pathlib, sys
run_dir = pathlib.Path(sys.argv[1])
results = {"run_id": run_dir.name, "task": "toy", "dataset": "toy-demo", "backbone": "toy",
           "config_hash": sys.argv[2], "seed": 4, "primary_metric": "accuracy", "higher_is_better": True,
           "test": {"accuracy": 90.0}, "dev": {"accuracy": 89.0}}
(run_dir / "results.json").write_text(json.dumps(results))
"""
FAIL = "print('epoch 1 ...'); print('Error: dev.txt:3: expected token/label pairs'); raise SystemExit(1)"
KILL = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
CRASH = "raise MemoryError('CUDA out of memory')"
STOP_THE_GRID = """
import os, pathlib, signal, sys, time
def saved(signum, frame):
    print("Error: interrupted at epoch 1; continue with: nlpplat run --resume ...", flush=True)
    raise SystemExit(1)
signal.signal(signal.SIGTERM, saved)
(pathlib.Path(sys.argv[1]) / "state.pt").write_bytes(b"")
os.kill(os.getppid(), signal.SIGINT)  # the user presses Ctrl-C
time.sleep(30)
"""


def fake(scripts: dict[int, str]):  # seed -> script
    def command(run: bench.CellRun, db: Path) -> list[str]:
        return [sys.executable, "-c", scripts[run.cell.seed], str(run.run_dir), run.cell.config_hash]

    return command


def test_failing_and_killed_cells_are_recorded_and_the_grid_goes_on(
    toy_registry: Registry, tmp_path: Path
) -> None:
    runs = bench.plan(toy_cells(toy_registry, seeds=4), tmp_path / "runs")
    db = tmp_path / "board.sqlite"
    scripts = {1: FAIL, 2: KILL, 3: CRASH, 4: FINISH}
    grid = bench.Bench(runs, db, jobs=2, console=quiet(), command=fake(scripts), poll_seconds=0.05)
    done = grid.run()
    assert [run.status for run in done] == ["failed", "failed", "failed", "finished"]
    board = Leaderboard(db)
    errors = {row["seed"]: row["error"] for row in board.rows(status="failed")}
    assert errors == {
        1: "exit status 1: dev.txt:3: expected token/label pairs",
        2: "killed by SIGKILL",
        3: "exit status 1: MemoryError: CUDA out of memory",
    }
    [finished] = board.rows()  # the stand-in wrote no row itself: the grid added it
    assert finished["seed"] == 4 and finished["test_score"] == 90.0
    assert "bench.log" in {path.name for path in done[0].run_dir.iterdir()}
    shown = Console(file=io.StringIO(), width=200)
    shown.print(grid.table())  # what the live display shows in a terminal
    assert "1 finished · 3 failed" in shown.file.getvalue() and "killed by SIGKILL" in shown.file.getvalue()

    # Run the grid again: the finished cell is skipped, the others are tried again in place.
    again = bench.plan(toy_cells(toy_registry, seeds=4), tmp_path / "runs")
    assert [run.action for run in again] == ["run", "run", "run", "skip"]
    assert [run.run_dir for run in again] == [run.run_dir for run in done]


def test_ctrl_c_stops_the_grid_and_cells_save_their_state(toy_registry: Registry, tmp_path: Path) -> None:
    runs = bench.plan(toy_cells(toy_registry, seeds=2), tmp_path / "runs")
    db = tmp_path / "board.sqlite"
    grid = bench.Bench(runs, db, console=quiet(), command=fake({1: STOP_THE_GRID}), poll_seconds=0.05)
    with pytest.raises(bench.BenchInterrupted, match="run the same command again"):
        grid.run()
    assert [run.status for run in runs] == ["interrupted", "pending"]  # the second cell never started
    [row] = Leaderboard(db).rows(status="interrupted")
    assert "nlpplat run --resume" in row["error"]
    assert [run.action for run in bench.plan(toy_cells(toy_registry, seeds=2), tmp_path / "runs")] == [
        "resume",
        "run",
    ]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_real_grid_runs_cells_in_processes_then_resumes_by_skipping(tmp_path: Path) -> None:
    db = str(tmp_path / "board.sqlite")
    grid = [
        "bench", "--task", "ner", "--backbone", "lstm", "--dataset", "demo", "--seeds", "2",
        "--max-time", "1s", "--set", "backbone.hidden=16", "--jobs", "2", "--output", "cells", "--db", db,
    ]  # fmt: skip
    code, _, err = invoke(*grid)
    assert code == 0, err
    assert "2 finished" in err
    rows = Leaderboard(db).rows(task="ner")
    assert sorted(row["seed"] for row in rows) == [1, 2]
    assert all(
        row["test_ci_low"] is not None
        and json.loads(row["decoding"]) == {"decoder": "viterbi", "document_vote": True}
        for row in rows
    )

    code, out, err = invoke("leaderboard", "--db", db, "--format", "json")
    [entry] = json.loads(out)["boards"][0]["entries"]
    assert entry["seeds"] == 2 and entry["test_std"] is not None and entry["ci_low"] is not None

    code, out, err = invoke(
        "leaderboard", "compare", rows[0]["run_id"], str(Path("cells") / rows[1]["run_id"]), "--db", db
    )
    assert code == 0, err
    assert "paired bootstrap, 1000 resamples, seed 12345" in out and "p = " in out

    code, out, err = invoke(*grid, "--dry-run")
    assert code == 0 and out.count("skip") == 2
    code, _, err = invoke(*grid)
    assert code == 0 and "2 skipped" in err
