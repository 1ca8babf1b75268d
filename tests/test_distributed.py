"""Data-parallel training in two processes (torch.distributed, gloo) on the NER demo set."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from nlpplat import distributed, training
from nlpplat.config import resolve
from nlpplat.distributed import Group
from nlpplat.errors import NlpplatError
from nlpplat.leaderboard import Leaderboard
from nlpplat.registry import Registry
from nlpplat.training import RunInterrupted


def demo_config(registry: Registry, output: Path, processes: int, epochs: int = 4):
    layer = {
        "run": {"task": "ner", "backbone": "lstm", "dataset": "demo", "output": str(output)},
        "train": {"epochs": epochs, "max_time": "", "threads": 1, "processes": processes},
    }
    return resolve(registry, [layer])


def quiet() -> Console:
    return Console(file=open(os.devnull, "w"), force_terminal=False)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return training.default_registry()


@pytest.mark.parametrize("count", [7, 8, 1])
def test_every_worker_gets_as_many_batches_and_none_is_left_out(count: int) -> None:
    items = list(range(count))
    shards = [Group(rank, 3).shard(items) for rank in range(3)]
    assert {len(shard) for shard in shards} == {math.ceil(count / 3)}
    assert set().union(*shards) == set(items)
    assert shards[0][:2] == items[0:1] + items[3:4]  # every third, from the rank


def test_two_processes_train_evaluate_and_record_a_run(registry: Registry, tmp_path: Path) -> None:
    one = training.train(demo_config(registry, tmp_path / "one", processes=1, epochs=2), registry, quiet())
    two = training.train(demo_config(registry, tmp_path / "two", processes=2, epochs=2), registry, quiet())
    single, double = (json.loads((run / "results.json").read_text()) for run in (one, two))
    assert (single["processes"], double["processes"]) == (1, 2)
    # One step takes a batch in each process: half the steps (rounded up) per epoch.
    assert double["steps"] == 2 * math.ceil(single["steps"] / 2 / 2)
    assert double["test"]["f1"] >= 0 and (two / "checkpoint.pt").is_file()
    assert Leaderboard().get("two") is not None  # recorded once, by the leader


def test_an_interrupted_two_process_run_resumes_to_the_same_result(
    registry: Registry, tmp_path: Path
) -> None:
    whole = training.train(demo_config(registry, tmp_path / "whole", processes=2), registry, quiet())
    config = demo_config(registry, tmp_path / "parts", processes=2)
    metrics = tmp_path / "parts" / "metrics.jsonl"

    def interrupt_after_the_first_epoch() -> None:  # as Ctrl-C would, to the launcher only
        while not metrics.exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_after_the_first_epoch, daemon=True).start()
    with pytest.raises(RunInterrupted, match="--resume"):
        training.train(config, registry, quiet())
    parts = training.resume(tmp_path / "parts", registry, quiet())
    assert (
        json.loads((parts / "results.json").read_text())["test"]
        == json.loads((whole / "results.json").read_text())["test"]
    )


def test_an_error_in_one_worker_stops_all_with_its_message(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "results.json").write_text("{}")
    start = time.perf_counter()
    with pytest.raises(NlpplatError, match="already holds a run"):
        training.train(demo_config(registry, tmp_path / "taken", processes=2), registry, quiet())
    assert time.perf_counter() - start < 60  # the other worker did not wait for it


def stopped_in_the_second_worker() -> None:
    if distributed.current().rank == 1:
        raise KeyboardInterrupt  # as a second Ctrl-C does in the training loop
    time.sleep(600)  # the first would be waiting in its next collective


def test_a_worker_stopped_at_once_stops_all_without_a_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        distributed.launch(stopped_in_the_second_worker, 2)
    assert time.perf_counter() - start < 60
    assert "Traceback" not in capfd.readouterr().err


def leaves_badly(how: str) -> str:
    """Worker 1 sends its report, then at once ``abort``s or ``stop``s (SIGSTOP) itself, as
    torch's teardown once aborted a worker; worker 0 returns later, into the barrier."""
    rank = distributed.current().rank
    if rank == 1:
        send = distributed._Channel.send

        def send_then_leave_badly(channel: distributed._Channel, report: distributed.Report) -> None:
            send(channel, report)
            os.abort() if how == "abort" else os.kill(os.getpid(), signal.SIGSTOP)

        distributed._Channel.send = send_then_leave_badly  # type: ignore[method-assign]
    else:
        time.sleep(2)
    return f"done by {rank}"


def sampled_wait(objects: list[Any], timeout: float | None = None) -> list[Any]:
    """``wait``, looking once a second: a report and an exit that follows it come together."""
    while True:
        time.sleep(1)
        ready = wait(objects, timeout=0)
        if ready or timeout is not None:
            return ready


@pytest.mark.parametrize(
    "how, message", [("abort", "exit code -6"), ("stop", "had not exited 3 s after the last report")]
)
def test_a_worker_that_fails_after_its_report_leaves_the_run_complete(
    how: str, message: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distributed, "wait", sampled_wait)
    monkeypatch.setattr(distributed, "LEAVING_TIME", 3.0)
    assert distributed.launch(leaves_badly, 2, how) == "done by 0"
    errors = capfd.readouterr().err
    assert f"warning: training process 1 of 2 failed while shutting down ({message})" in errors
    assert "Traceback" not in errors


def dies_before_its_report(how: str) -> None:
    if distributed.current().rank == 1:
        os.abort() if how == "abort" else os._exit(0)  # os._exit(0): as sys.exit(0) in a plugin
    distributed.current().any(False)  # worker 0 waits in a collective


def reports_first(objects: list[Any], timeout: float | None = None) -> list[Any]:
    """``wait`` that shows a report before any exit: as when worker 0's report of the broken
    group reaches the launcher before it has seen the death of worker 1 that broke it."""
    deadline = time.monotonic() + 30
    while True:
        ready = wait(objects, timeout=timeout)
        reports = [ready_one for ready_one in ready if isinstance(ready_one, Connection)]
        if reports or timeout is not None or time.monotonic() > deadline:
            return reports or ready
        time.sleep(0.1)


@pytest.mark.parametrize("order", ["as they come", "reports first"])
@pytest.mark.parametrize("how, code", [("abort", -6), ("exit", 0)])
def test_a_worker_that_exits_before_its_report_fails_the_run(
    how: str, code: int, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if order == "reports first":
        monkeypatch.setattr(distributed, "wait", reports_first)
    # The death comes first, as the cause; worker 0, which failed on its closed connections
    # (or was stopped first), may follow.
    message = rf"^training process 1 of 2 failed \(exit code {code}, before its report\)"
    start = time.perf_counter()
    with pytest.raises(NlpplatError, match=message):
        distributed.launch(dies_before_its_report, 2, how)
    assert time.perf_counter() - start < 60  # worker 0 was stopped, not left waiting
