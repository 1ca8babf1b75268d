"""The training loop, run directory and resume, on the toy plugin (seconds)."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import signal
from pathlib import Path

import pytest
import torch
from rich.console import Console

from nlpplat import training
from nlpplat.config import TrainConfig, resolve
from nlpplat.errors import ConfigError, MissingDataError
from nlpplat.inference import evaluate_run
from nlpplat.leaderboard import Leaderboard
from nlpplat.registry import Registry
from nlpplat.runs import load_run


def toy_config(registry: Registry, **train: object):
    layer = {
        "run": {"task": "toy", "backbone": "toy"},
        "train": {"epochs": 3, "batch_size": 8, "max_time": "", **train},
    }
    return resolve(registry, [layer])


def quiet() -> Console:
    return Console(file=open("/dev/null", "w"), force_terminal=False)


def test_run_writes_a_complete_run_directory(toy_registry: Registry, tmp_path: Path) -> None:
    run_dir = training.train(toy_config(toy_registry, lr=0.01), toy_registry, quiet())
    names = {path.name for path in run_dir.iterdir()}
    assert {
        "config.toml",
        "vocab.json",
        "checkpoint.pt",
        "state.pt",
        "metrics.jsonl",
        "results.json",
    } <= names
    assert "predictions.test.txt" in names and "predictions.dev.txt" in names
    results = json.loads((run_dir / "results.json").read_text())
    assert results["dataset"] == "toy-demo"  # toy-real is never available, so the demo is chosen
    assert results["primary_metric"] == "accuracy" and results["test"]["accuracy"] > 90
    assert results["parameters"] > 0 and results["versions"]["torch"] == torch.__version__
    # the CPU's vector extensions tell apart hosts that a virtual machine names alike
    assert results["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(results["machine"]["fast_bf16"], bool)
    # checkpoints hold tensors only
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    evaluations = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in evaluations if e["split"] == "dev" and not e.get("final")] == [1, 2, 3]
    rows = Leaderboard().rows(task="toy")
    assert len(rows) == 1 and rows[0]["run_id"] == run_dir.name
    assert rows[0]["test_score"] == pytest.approx(results["test"]["accuracy"])


def test_loaded_run_predicts_like_the_trained_model(toy_registry: Registry) -> None:
    run_dir = training.train(toy_config(toy_registry, lr=0.01), toy_registry, quiet())
    loaded = load_run(run_dir, toy_registry)
    [result] = loaded.predict_text("Alpha beta Gamma")
    assert result["labels"] == ["UP", "low", "UP"]


def test_predictions_pass_through_the_tasks_postprocess(
    toy_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = training.train(toy_config(toy_registry, lr=0.01), toy_registry, quiet())
    loaded = load_run(run_dir, toy_registry)
    calls = []

    def postprocess(self, predictions, examples):
        calls.append((list(predictions), len(examples)))
        return [["UP"] * len(labels) for labels in predictions]

    monkeypatch.setattr(type(loaded.task), "postprocess", postprocess)
    [result] = loaded.predict_text("Alpha beta Gamma")
    assert calls == [([["UP", "low", "UP"]], 1)]  # once per call, after decoding every batch
    assert result["labels"] == ["UP", "UP", "UP"]


def test_same_seed_same_result(toy_registry: Registry) -> None:
    first = training.train(toy_config(toy_registry, seed=7), toy_registry, quiet())
    second = training.train(toy_config(toy_registry, seed=7), toy_registry, quiet())
    one = torch.load(first / "checkpoint.pt", weights_only=True)
    two = torch.load(second / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(one[key], two[key]) for key in one)


def test_resume_after_interruption_matches_an_uninterrupted_run(
    toy_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = training.train(toy_config(toy_registry, seed=3), toy_registry, quiet())

    calls = {"n": 0}
    real_step = training.Trainer._step

    def interrupt_once(self: training.Trainer, examples: list, weight: float) -> tuple[float, int, float]:
        calls["n"] += 1
        if calls["n"] == 30:  # Ctrl-C in the second epoch, in the middle of a step
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(self, examples, weight)

    monkeypatch.setattr(training.Trainer, "_step", interrupt_once)
    with pytest.raises(training.RunInterrupted, match="nlpplat run --resume"):
        training.train(toy_config(toy_registry, seed=3), toy_registry, quiet())
    [interrupted] = [
        p for p in Path("runs").iterdir() if p != reference and not (p / "results.json").exists()
    ]
    resumed = training.resume(interrupted, toy_registry, quiet())
    one = torch.load(reference / "checkpoint.pt", weights_only=True)
    two = torch.load(resumed / "checkpoint.pt", weights_only=True)
    assert all(torch.allclose(one[key], two[key]) for key in one)


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_that_emulates_it_is_warned_about(
    toy_registry: Registry, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    monkeypatch.setattr(training, "fast_bf16", lambda: native)
    console = Console(record=True, file=io.StringIO(), width=200)
    training.Trainer(toy_config(toy_registry, precision="bf16", device="cpu"), toy_registry, console)
    training.Trainer(toy_config(toy_registry, precision="fp32", device="cpu"), toy_registry, console)
    warnings = console.export_text().count("no fast bf16 kernels")
    assert warnings == (0 if native else 1)


def test_time_budget_stops_training(toy_registry: Registry) -> None:
    run_dir = training.train(
        toy_config(toy_registry, epochs=1000, patience=1000, max_time="2s"), toy_registry, quiet()
    )
    results = json.loads((run_dir / "results.json").read_text())
    assert results["stop_reason"] == "max_time" and results["train_seconds"] < 10


def test_missing_dataset_names_files_and_places(toy_registry: Registry) -> None:
    config = resolve(toy_registry, [{"run": {"task": "toy", "backbone": "toy", "dataset": "toy-real"}}])
    with pytest.raises(MissingDataError, match=r"missing train.txt, dev.txt, test.txt.*Tests never have it"):
        training.train(config, toy_registry, quiet())


def test_learning_rate_anneals_on_dev_plateaus(toy_registry: Registry) -> None:
    def rates(**train: object) -> list[tuple[float, float]]:
        run_dir = training.train(toy_config(toy_registry, epochs=8, lr=0.05, **train), toy_registry, quiet())
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        return [
            (r["lr"], r["metrics"]["accuracy"]) for r in records if r["split"] == "dev" and not r.get("final")
        ]

    plain = rates(anneal_factor=1.0, patience=100)
    annealed = rates(anneal_factor=0.5, anneal_patience=1, patience=100)
    # The toy task is solved within a few epochs; every later epoch fails to improve, so with
    # anneal_patience=1 each one halves the rate relative to the plain schedule.
    ratios = [a / p for (a, _), (p, _) in zip(annealed, plain, strict=True)]
    assert ratios[0] == pytest.approx(1.0)
    assert ratios[-1] < 0.5 and all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(ratios))


def test_averaging_the_last_checkpoints_is_kept_only_if_it_scores_on_dev(
    toy_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = training.train(
        toy_config(toy_registry, lr=0.01, epochs=4, average_last=3), toy_registry, quiet()
    )
    results = json.loads((run_dir / "results.json").read_text())
    assert results["final_weights"] == "average of the last 3"  # the toy task is solved: a tie goes to it
    assert (run_dir / "best.pt").is_file() and not list(run_dir.glob("snapshot-*.pt"))
    averaged = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    best = torch.load(run_dir / "best.pt", weights_only=True)
    assert any(not torch.equal(averaged[key], best[key]) for key in best)
    # When the average scores worse on dev than the best checkpoint, the best one is reported.
    monkeypatch.setattr(training.Trainer, "_dev_score", lambda self: -1.0)
    run_dir = training.train(
        toy_config(toy_registry, lr=0.01, epochs=4, average_last=3), toy_registry, quiet()
    )
    assert json.loads((run_dir / "results.json").read_text())["final_weights"] == "best"
    kept = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(kept[key], value) for key, value in torch.load(run_dir / "best.pt").items())


def test_validation_context_covers_only_the_dev_evaluations_during_training(
    toy_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_cls = toy_registry.task("toy")
    calls: list[bool] = []
    validating = [False]

    @contextlib.contextmanager
    def validation(self):
        validating[0] = True
        try:
            yield
        finally:
            validating[0] = False

    original = task_cls.metrics
    monkeypatch.setattr(task_cls, "validation", validation)
    monkeypatch.setattr(
        task_cls, "metrics", lambda self, p, e: calls.append(validating[0]) or original(self, p, e)
    )
    training.train(toy_config(toy_registry, lr=0.01, epochs=3, average_last=2), toy_registry, quiet())
    # Three epochs and the averaging check inside validation(); final dev and test outside it.
    assert calls == [True, True, True, True, False, False]


def test_dev_and_test_examples_that_repeat_train_are_left_out_and_counted(
    toy_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_cls = toy_registry.task("toy")
    monkeypatch.setattr(task_cls, "held_out", lambda self, train, examples: examples[1:])
    run_dir = training.train(toy_config(toy_registry, lr=0.01, epochs=1), toy_registry, quiet())
    assert json.loads((run_dir / "results.json").read_text())["removed_as_in_train"] == {"dev": 1, "test": 1}
    # evaluate on the run's own test split leaves out the same examples.
    metrics = evaluate_run(run_dir, toy_registry, output=str(run_dir / "again.txt"))
    assert metrics["accuracy"] == json.loads((run_dir / "results.json").read_text())["test"]["accuracy"]
    again = (run_dir / "again.txt").read_text()
    assert again == (run_dir / "predictions.test.txt").read_text() and again


def test_average_weights_is_the_elementwise_mean() -> None:
    states = [
        {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(1)},
        {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(2)},
    ]
    averaged = training.average_weights(states)
    assert torch.equal(averaged["w"], torch.tensor([2.0, 4.0])) and averaged["n"].item() == 2


def test_the_fused_optimizer_makes_the_same_updates_as_the_default_one() -> None:
    config = TrainConfig()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 3))
    twin = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 3))
    twin.load_state_dict(model.state_dict())
    fused = training.make_optimizer(model, config, torch.device("cpu"))
    default = torch.optim.AdamW(
        twin.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    assert fused.defaults["fused"]
    for _ in range(5):
        tokens = torch.randint(0, 50, (4, 6))
        for net, optimizer in ((model, fused), (twin, default)):
            optimizer.zero_grad()
            net(tokens).logsumexp(-1).sum().backward()
            optimizer.step()
    for ours, theirs in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs)


def test_learning_rate_schedules_warm_up_then_decay() -> None:
    warmup = 4
    inverse = [training.lr_factor("inverse_sqrt", step, warmup, spent=0.0) for step in range(16)]
    assert inverse[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert inverse[15] == pytest.approx(0.5)  # sqrt(4 / 16)
    # linear: the warm-up ramp, capped by a straight line from 1 to 0 over the horizon
    assert training.lr_factor("linear", 0, warmup, spent=0.0) == pytest.approx(0.25)
    assert training.lr_factor("linear", 3, warmup, spent=0.1) == pytest.approx(0.9)
    assert training.lr_factor("linear", 100, warmup, spent=0.75) == pytest.approx(0.25)
    assert training.lr_factor("linear", 100, warmup, spent=1.2) == 0.0


def test_linear_schedule_reaches_zero_at_the_end_of_the_epochs(toy_registry: Registry) -> None:
    config = toy_config(toy_registry, epochs=4, lr=0.01, schedule="linear", anneal_factor=1.0, patience=100)
    run_dir = training.train(config, toy_registry, quiet())
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [r["lr"] for r in records if r["split"] == "dev" and not r.get("final")]
    # the rate logged after epoch k is the next step's: 1 - k/4 of the peak (the warm-up,
    # one epoch at most, is over by then)
    assert rates == pytest.approx([0.0075, 0.005, 0.0025, 0.0])


def test_linear_schedule_follows_the_time_budget_when_it_ends_first(
    toy_registry: Registry, tmp_path: Path
) -> None:
    config = toy_config(toy_registry, epochs=100, max_time="10m", schedule="linear")
    config.run.output = str(tmp_path / "run")
    trainer = training.Trainer(config, toy_registry, quiet())
    trainer.build(fresh=True)
    horizon = 100 * len(trainer.epoch_batches(0))
    trainer.progress.elapsed = 300.0  # half the budget, a tiny share of the epochs
    assert trainer._spent(10, horizon) == pytest.approx(0.5)
    trainer.progress.elapsed = 0.0
    assert trainer._spent(horizon // 4, horizon) == pytest.approx(0.25, abs=0.01)


def test_unknown_schedule_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"train\.schedule = 'cosine': must be one of inverse_sqrt, linear"):
        TrainConfig(schedule="cosine")


def test_results_record_the_code_the_run_started_with(
    toy_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A commit made while a run trains (in the same checkout) is not the code it ran.
    started: list[bool] = []
    monkeypatch.setattr(
        training,
        "versions",
        lambda registry=None: {"commit": "during training" if started else "at the start"},
    )
    fit = training.Trainer.fit
    monkeypatch.setattr(training.Trainer, "fit", lambda self: (started.append(True), fit(self))[1])
    run_dir = training.train(toy_config(toy_registry), toy_registry, quiet())
    assert json.loads((run_dir / "results.json").read_text())["versions"]["commit"] == "at the start"
