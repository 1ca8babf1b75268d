"""Training a run: the pure ``train(config)`` behind ``nlpplat run``.

A run resolves task, backbone and dataset by name, reads and indexes the data, builds
the model, trains it with AdamW (linear warm-up, then inverse square-root or linear decay,
gradient clipping) on length-bucketed batches, evaluates on dev after every epoch, keeps the
best checkpoint, stops early when dev stops improving or the time budget is spent, and
finally evaluates the best checkpoint on dev and test and records the result.

Everything that changes during training is saved in ``state.pt`` after every epoch and
on interruption (Ctrl-C or SIGTERM), so :func:`resume` continues exactly where the
run stopped, towards the same absolute budget.
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from nlpplat import distributed
from nlpplat.batching import Length, loss_weights, padding_fraction, training_batches
from nlpplat.confidence import record_statistics
from nlpplat.config import RunConfig, TrainConfig, apply, parse_duration
from nlpplat.contracts import DatasetSpec, Task
from nlpplat.data import CUSTOM, content_checksum, resolve_files
from nlpplat.embeddings import TokenVocab
from nlpplat.errors import MissingDataError, NlpplatError
from nlpplat.evaluation import Evaluation, autocast, evaluate
from nlpplat.io import save_torch, write_json
from nlpplat.memory import keep_freed_memory
from nlpplat.model import Collator, TaskModel, build_model, parameter_count
from nlpplat.provenance import NO_FAST_BF16, fast_bf16, machine, versions
from nlpplat.registry import Registry
from nlpplat.runs import (
    CHECKPOINT,
    RESULTS,
    STATE,
    VOCAB,
    append_metrics,
    load_config,
    new_run_dir,
    write_config,
    write_vocab,
)
from nlpplat.subnormals import flush_subnormals


@distributed.raised_together
class RunInterrupted(NlpplatError):
    """Training was interrupted; its state is saved and it can be resumed."""


@dataclass
class Progress:
    """Where training stands; saved in ``state.pt`` (plain values only)."""

    epoch: int = 0  # current epoch, from 0
    batch: int = 0  # next batch of the current epoch
    step: int = 0  # optimizer steps taken
    elapsed: float = 0.0  # training seconds spent, over all sessions of the run
    tokens: int = 0  # real tokens trained on
    token_seconds: float = 0.0  # seconds spent in training steps (for tokens/s)
    best: float | None = None  # best dev primary metric so far
    best_epoch: int = 0  # epochs_done when the best score was reached
    bad_epochs: int = 0  # epochs since the last improvement
    lr_scale: float = 1.0  # product of the annealing factors applied so far
    evaluated_step: int = -1  # step of the last dev evaluation
    stop_reason: str = ""  # "" while training; then "epochs", "patience" or "max_time"
    final_weights: str = ""  # "" until finish() chooses: "best" or "average of the last N"

    @property
    def epochs_done(self) -> int:
        """Epochs trained on, counting a partly trained one (1-based epoch of the last step)."""
        return self.epoch + (self.batch > 0)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def default_registry() -> Registry:
    from nlpplat.plugins import make_plugin_host
    from nlpplat.registry import build_registry

    return build_registry(make_plugin_host())


def choose_dataset(
    config: RunConfig, registry: Registry, console: Console
) -> tuple[DatasetSpec, dict[str, Path]]:
    """The dataset to train on and the paths of its splits.

    With no ``--dataset``, the task's ``default_datasets`` are tried in order, using only
    local copies; the first available one is used and the choice is reported.
    """
    task_cls = registry.task(config.run.task)
    explicit = {"train": config.run.train, "dev": config.run.dev, "test": config.run.test}
    if not config.run.dataset and all(explicit.values()):
        spec = DatasetSpec(name=CUSTOM, task=task_cls.name, files={})
        return spec, resolve_files(spec, explicit)
    if config.run.dataset:
        spec = registry.dataset(task_cls.name, config.run.dataset)
        return spec, resolve_files(spec, explicit)
    names = list(getattr(task_cls, "default_datasets", ())) or [
        s.name for s in registry.datasets_for(task_cls.name)
    ]
    skipped: list[str] = []
    for name in names:
        spec = registry.dataset(task_cls.name, name)
        try:
            paths = resolve_files(spec, explicit, download=False)
        except MissingDataError as error:
            skipped.append(f"{name}: {error}")
            continue
        for reason in skipped:
            console.print(f"[yellow]Not using {reason}[/]")
        if skipped:
            console.print(f"[bold yellow]Training on dataset {spec.name!r}: {spec.description}[/]")
        return spec, paths
    raise MissingDataError(" | ".join(skipped) or f"task {task_cls.name!r} registers no dataset")


class Trainer:
    """One run: data, model, optimizer and the loop. Use :func:`train` or :func:`resume`."""

    def __init__(self, config: RunConfig, registry: Registry, console: Console, run_dir: Path | None = None):
        self.config, self.registry, self.console = config, registry, console
        train = config.train
        # This process's place among the workers of a run (nlpplat.distributed).
        self.group: distributed.Group = distributed.current()
        flush_subnormals()  # before torch starts its worker threads, which copy the setting
        if train.threads or self.group.distributed:
            torch.set_num_threads(distributed.threads_per_process(train.threads, self.group.size))
        keep_freed_memory()  # steps reuse their big tensors' pages instead of faulting them in anew
        # Read now: a commit made while the run trains is not the code it ran.
        self.versions = versions(registry)
        self.device = distributed.device_for(self.group, pick_device(train.device))
        self.budget = parse_duration(train.max_time)
        self.spec, self.paths = choose_dataset(config, registry, console)
        task_cls = registry.task(config.run.task)
        if self.spec.name != CUSTOM and not config.run.dataset:
            # Chosen here rather than by the user: apply the dataset's task settings as
            # config.resolve would have, where the user left the default.
            config.run.dataset = self.spec.name  # make config.toml repeatable
            defaults = task_cls.Config()
            config.task = apply(
                config.task,
                {
                    key: value
                    for key, value in self.spec.task_defaults.items()
                    if getattr(config.task, key) == getattr(defaults, key)
                },
                "task",
            )
        self.backbone_cls = registry.backbone(config.run.backbone)
        self.task: Task = task_cls(config.task, language=self.spec.language)
        self.splits = {split: self.task.read(path) for split, path in self.paths.items()}
        for split in ("train", "dev", "test"):
            if not self.splits.get(split):
                raise NlpplatError(f"dataset {self.spec.name!r} has no {split} split")
        self.removed: dict[str, int] = {}  # examples of dev and test that repeat train's
        for split in ("dev", "test"):
            kept = self.task.held_out(self.splits["train"], self.splits[split])
            if len(kept) < len(self.splits[split]):
                self.removed[split] = len(self.splits[split]) - len(kept)
                self.console.print(
                    f"{split}: {self.removed[split]:,} of {len(self.splits[split]):,} examples also occur "
                    "in train and are left out"
                )
                self.splits[split] = kept
        self.console.print(
            f"{self.spec.name}: "
            + ", ".join(f"{split} {len(examples):,}" for split, examples in self.splits.items())
            + f" examples · {self.device}"
        )
        if train.precision == "bf16" and self.device.type == "cpu" and not fast_bf16():
            # Correct but emulated: hours instead of minutes. Said, not refused: the user asked.
            self.console.print(
                f"[bold yellow]warning: {NO_FAST_BF16}: bf16 matrix products are emulated, "
                "far slower than fp32; use --precision fp32[/]"
            )
        # The leader's choice: a default name holds the time, which may differ by a second.
        self.run_dir = self.group.share(
            Path(run_dir or config.run.output or new_run_dir(config, self.spec.name))
        )
        self.progress = Progress()

    # -- set-up ----------------------------------------------------------------------
    def build(self, fresh: bool) -> None:
        """Vocabularies (fit, or loaded from the run directory), model and optimizer."""
        train = self.config.train
        if fresh:
            self.task.fit(self.splits["train"])
            self.vocab = TokenVocab(self.config.embeddings).fit(
                self.task.tokens(e) for e in self.splits["train"]
            )
        else:
            import json

            state = json.loads((self.run_dir / VOCAB).read_text(encoding="utf-8"))
            self.task.load_state_dict(state["task"])
            self.vocab = TokenVocab.from_state_dict(self.config.embeddings, state["tokens"])
        set_seed(train.seed)
        self.model: TaskModel = build_model(
            self.task, self.backbone_cls, self.config.backbone, self.vocab, self.config.embeddings
        ).to(self.device)
        self.collate = Collator(self.task, self.vocab, train.pad_multiple)
        self.objective = objective(self.model, self.task, self.group, self.device)
        if self.group.rank:
            torch.manual_seed(train.seed + self.group.rank)  # its own dropout masks
        self.optimizer = make_optimizer(self.model, train, self.device)
        # Never warm up for longer than one epoch: on a small dataset a long warm-up would
        # spend the whole run at a tiny learning rate.
        steps_per_epoch = len(self.group.shard(self.epoch_batches(0)))
        warmup = max(1, min(train.warmup_steps, steps_per_epoch))
        horizon = train.epochs * steps_per_epoch
        # lr_scale anneals on dev plateaus (_evaluate_dev), on top of either schedule.
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: (
                self.progress.lr_scale * lr_factor(train.schedule, step, warmup, self._spent(step, horizon))
            ),
        )
        if fresh and self.group.leader:
            if (self.run_dir / STATE).exists() or (self.run_dir / RESULTS).exists():
                raise NlpplatError(
                    f"{self.run_dir} already holds a run; choose another --output, or continue it "
                    f"with: nlpplat run --resume {self.run_dir}"
                )
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_config(self.run_dir, self.config)
            write_vocab(self.run_dir, self.vocab, self.task, self.spec.language)

    def _spent(self, step: int, horizon: int) -> float:
        """The share of the run's horizon used by ``step`` steps: of its epochs, or of its
        time budget when that ends first (``progress.elapsed`` counts every session)."""
        spent = step / horizon
        if self.budget:
            spent = max(spent, self.progress.elapsed / self.budget)
        return spent

    def save_state(self) -> None:
        """Everything that changes during training, written atomically to ``state.pt``.

        With several workers (a collective: all call it) the leader writes it, with every
        worker's random state, as their weights and optimizers are the same.
        """
        rng = self.group.gather(torch.get_rng_state())
        cuda_rng = self.group.gather(
            torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        )
        if not self.group.leader:
            return
        save_torch(
            self.run_dir / STATE,
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rng,
                "cuda_rng": [state for state in cuda_rng if state is not None],
                "progress": asdict(self.progress),
            },
        )

    def load_state(self) -> None:
        state = torch.load(self.run_dir / STATE, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        rngs = state["rng"] if isinstance(state["rng"], list) else [state["rng"]]  # as saved before processes
        rank = self.group.rank
        if len(rngs) != self.group.size:
            raise NlpplatError(
                f"{self.run_dir / STATE}: saved by {len(rngs)} processes, resumed with {self.group.size}"
            )
        torch.set_rng_state(rngs[rank])
        if state["cuda_rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"][rank], self.device)
        self.progress = Progress(**state["progress"])

    # -- the loop --------------------------------------------------------------------
    def fit(self) -> None:
        """Train until the epochs, the patience or the time budget run out."""
        train, progress = self.config.train, self.progress
        examples = self.splits["train"]
        lengths = self.collate.lengths(examples)  # computed once: epoch_batches needs them each epoch
        self.model.train()
        with self._progress_bar() as bar, _deferred_interrupts() as requested:

            def interrupted() -> bool:  # in any worker: all stop at the same step
                return self.group.any(requested())

            if progress.batch == 0 and progress.step:
                self._evaluate_dev()  # an epoch ended but its evaluation was interrupted
            while not progress.stop_reason:
                if progress.epoch >= train.epochs:
                    progress.stop_reason = "epochs"
                    break
                batches = self.epoch_batches(progress.epoch, lengths)
                # Weighted over the whole epoch, then shared out: one batch per worker and step.
                weights = self.group.shard(loss_weights(lengths, batches))
                batches = self.group.shard(batches)
                bar_task = bar.add_task(
                    f"epoch {progress.epoch + 1}",
                    total=len(batches),
                    completed=progress.batch,
                    loss=0.0,
                    speed=0.0,
                )
                segment_start = time.perf_counter()
                elapsed_at_start = progress.elapsed
                stop = interrupted()
                while progress.batch < len(batches) and not stop:
                    loss, tokens, seconds = self._step(
                        [examples[i] for i in batches[progress.batch]], weights[progress.batch]
                    )
                    progress.batch += 1
                    progress.step += 1
                    # One clock for all workers: the schedule and the budget depend on it.
                    progress.elapsed, stop, tokens = self.group.agree(
                        elapsed_at_start + time.perf_counter() - segment_start, requested(), tokens
                    )
                    progress.tokens += tokens
                    progress.token_seconds += seconds
                    bar.update(bar_task, advance=1, loss=loss, speed=progress.tokens / progress.token_seconds)
                    if self.budget is not None and progress.elapsed >= self.budget:
                        progress.stop_reason = "max_time"
                        break
                bar.remove_task(bar_task)
                if interrupted():
                    self._stop_interrupted()
                if progress.batch == len(batches):
                    progress.epoch += 1
                    progress.batch = 0
                self._evaluate_dev()
                progress.elapsed = self.group.agree(
                    elapsed_at_start + time.perf_counter() - segment_start, False, 0
                )[0]
                if not progress.stop_reason and progress.bad_epochs >= train.patience:
                    progress.stop_reason = "patience"
                self.save_state()
                if interrupted():
                    self._stop_interrupted()
        self.console.print(
            f"stopped ({progress.stop_reason}) after {progress.step:,} steps, {progress.elapsed:.0f}s; "
            f"best dev {self.task.primary_metric} {progress.best:.2f} at epoch {progress.best_epoch}"
        )

    def epoch_batches(self, epoch: int, lengths: list[Length] | None = None) -> list[list[int]]:
        """The training batches of ``epoch`` (indices into the training examples).

        The order depends only on (seed, epoch): resuming needs no Python RNG state, just
        the batch position.
        """
        train = self.config.train
        return training_batches(
            lengths if lengths is not None else self.collate.lengths(self.splits["train"]),
            train.batch_size,
            random.Random(train.seed * 100_003 + epoch),
            max_tokens=train.batch_tokens,
            multiple=train.pad_multiple,
        )

    def _stop_interrupted(self) -> None:
        """Save the state between two steps and stop; :func:`resume` continues from here."""
        self.save_state()
        raise RunInterrupted(
            f"interrupted at epoch {self.progress.epoch + 1}, batch {self.progress.batch}; "
            f"continue with: nlpplat run --resume {self.run_dir}"
        )

    def _step(self, examples: list[Any], weight: float = 1.0) -> tuple[float, int, float]:
        """One update on ``examples``, the loss scaled by ``weight`` (:func:`loss_weights`).

        Returns the unscaled loss, the batch's real input tokens and the step's seconds.
        """
        start = time.perf_counter()
        batch = self.collate(examples).to(self.device)
        with autocast(self.device, self.config.train.precision):
            # The head too: a generating task's decoder is half the step or more.
            loss = self.objective(batch)
        self.optimizer.zero_grad(set_to_none=True)
        (loss * weight).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        return loss.item(), int(batch.mask.sum()), time.perf_counter() - start

    def _evaluate_dev(self) -> None:
        """Score dev, keep the best checkpoint, anneal on plateaus (all workers call it: the
        leader evaluates and the others take its updated progress)."""
        if self.group.leader:
            self._evaluate_dev_here()
        for key, value in self.group.share(asdict(self.progress)).items():
            setattr(self.progress, key, value)

    def _evaluate_dev_here(self) -> None:
        progress = self.progress
        if progress.evaluated_step == progress.step:
            return
        with self.task.validation():
            result = self._evaluate("dev")
        progress.evaluated_step = progress.step
        score = float(result.metrics[self.task.primary_metric])
        better = self._improves(score, progress.best)
        if better:
            progress.best, progress.best_epoch, progress.bad_epochs = (
                score,
                progress.epochs_done,
                0,
            )
            save_torch(self.run_dir / CHECKPOINT, self.model.state_dict())
        if self.config.train.average_last > 1:
            self._keep_snapshot()
        if not better:
            progress.bad_epochs += 1
            train = self.config.train
            if train.anneal_factor != 1.0 and progress.bad_epochs % max(1, train.anneal_patience) == 0:
                progress.lr_scale *= train.anneal_factor  # the scheduler applies it from the next step
        append_metrics(
            self.run_dir,
            {
                "step": progress.step,
                "epoch": progress.epochs_done,
                "split": "dev",
                "elapsed": round(progress.elapsed, 1),
                "tokens_per_second": round(progress.tokens / max(progress.token_seconds, 1e-9), 1),
                "lr": self.scheduler.get_last_lr()[0],
                "metrics": _scalars(result.metrics),
            },
        )
        marker = " [green]best[/]" if better else ""
        self.console.print(
            f"epoch {progress.epochs_done:>3} step {progress.step:>6} · dev {self.task.primary_metric} {score:6.2f}"
            f"{marker} · {progress.elapsed:5.0f}s"
        )

    def _keep_snapshot(self) -> None:
        """Save the weights of this evaluation for averaging; keep only the last N."""
        step = self.progress.step
        save_torch(self.run_dir / f"{SNAPSHOT_PREFIX}{step:08d}.pt", self.model.state_dict())
        for old in snapshots(self.run_dir)[: -self.config.train.average_last]:
            old.unlink()

    def _final_weights(self) -> dict[str, torch.Tensor]:
        """The weights to report: the best checkpoint, or the average of the last snapshots.

        With ``train.average_last`` the average of the weights at the last N evaluations is
        scored on dev and kept only if it beats the best single checkpoint (a run stopped by
        patience averages weights from after its best epoch). The choice is written to
        ``checkpoint.pt`` (the best single checkpoint is kept as ``best.pt``), so evaluate
        and predict use the model that was reported, and recorded in ``state.pt``, so a
        resumed ``finish`` does not choose again.
        """
        progress = self.progress
        if progress.final_weights:  # chosen before an interruption
            return torch.load(self.run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
        kept = self.run_dir / BEST  # exists if an interrupted choice already saved it
        best = torch.load(
            kept if kept.exists() else self.run_dir / CHECKPOINT, map_location="cpu", weights_only=True
        )
        paths = snapshots(self.run_dir)
        choice, weights = "best", best
        if self.config.train.average_last > 1 and len(paths) > 1:
            averaged = average_weights([torch.load(p, map_location="cpu", weights_only=True) for p in paths])
            self.model.load_state_dict(averaged)
            score = self._dev_score()
            if progress.best is None or not self._improves(progress.best, score):  # ties go to the average
                choice, weights = f"average of the last {len(paths)}", averaged
            self.console.print(
                f"average of the last {len(paths)} evaluations: dev {self.task.primary_metric} {score:.2f}, "
                f"best checkpoint {progress.best:.2f} → final model: {choice}"
            )
            save_torch(kept, best)
            save_torch(self.run_dir / CHECKPOINT, weights)
        progress.final_weights = choice
        self.save_state()
        for path in paths:
            path.unlink()
        return weights

    def _evaluate(self, split: str) -> Evaluation:
        train = self.config.train
        return evaluate(
            self.model, self.task, self.collate, self.splits[split], train.eval_batch_size, train.precision
        )

    def _dev_score(self) -> float:
        """The primary dev metric as the dev evaluations during training measure it."""
        with self.task.validation():
            return float(self._evaluate("dev").metrics[self.task.primary_metric])

    def _improves(self, score: float, reference: float | None) -> bool:
        """Whether ``score`` is better than ``reference`` on the task's primary metric."""
        if reference is None:
            return True
        return score > reference if self.task.higher_is_better else score < reference

    @contextlib.contextmanager
    def _progress_bar(self) -> Iterator[Any]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        budget = f" / budget {self.config.train.max_time}" if self.budget else ""
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f} · {task.fields[speed]:,.0f} tok/s" + budget),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        from rich.progress import Progress as Bar

        with Bar(*columns, console=self.console, transient=True, disable=not self.console.is_terminal) as bar:
            yield bar

    # -- the end -----------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Evaluate the best checkpoint on dev and test, write predictions and results."""
        self.model.load_state_dict(self._final_weights())
        evaluations = {}
        for split in ("dev", "test"):
            evaluations[split] = self._evaluate(split)
            self.task.write_predictions(
                self.splits[split],
                evaluations[split].predictions,
                self.run_dir / f"predictions.{split}{self.task.prediction_suffix}",
            )
            append_metrics(
                self.run_dir,
                {
                    "step": self.progress.step,
                    "epoch": self.progress.best_epoch,
                    "split": split,
                    "final": True,
                    "metrics": _scalars(evaluations[split].metrics),
                },
            )
        results = self._results(evaluations)
        # Per-example statistics of the test score, for confidence intervals and paired
        # tests on the leaderboard (nlpplat.confidence); saved beside the predictions.
        results.update(
            record_statistics(
                self.task,
                self.splits["test"],
                evaluations["test"].predictions,
                evaluations["test"].metrics[self.task.primary_metric],
                self.run_dir,
            )
        )
        write_json(self.run_dir / RESULTS, results)
        return results

    def _results(self, evaluations: dict[str, Any]) -> dict[str, Any]:
        progress, config = self.progress, self.config
        lengths = self.collate.lengths(self.splits["train"])
        batches = self.epoch_batches(0, lengths)
        return {
            "run_id": self.run_dir.name,
            "task": config.run.task,
            "backbone": config.run.backbone,
            "dataset": self.spec.name,
            "dataset_checksum": content_checksum(
                {split: self.task.files(path) for split, path in self.paths.items()}
            ),
            "config_hash": config.hash(),
            "config": config.to_dict(),
            "seed": config.train.seed,
            "primary_metric": self.task.primary_metric,
            "higher_is_better": self.task.higher_is_better,
            "dev": evaluations["dev"].metrics,
            "test": evaluations["test"].metrics,
            "metric_signature": self.task.metric_signature(),
            "decoding": self.task.decoding_parameters(),
            "parameters": parameter_count(self.model),
            "train_seconds": round(progress.elapsed, 1),
            "train_tokens_per_second": round(progress.tokens / max(progress.token_seconds, 1e-9), 1),
            "eval_sentences_per_second": round(evaluations["test"].sentences_per_second, 1),
            "epochs": progress.epochs_done,
            "steps": progress.step,
            "best_epoch": progress.best_epoch,
            "final_weights": progress.final_weights,
            "stop_reason": progress.stop_reason,
            "padding_fraction": round(padding_fraction(lengths, batches, config.train.pad_multiple), 4),
            "removed_as_in_train": self.removed,
            "peak_memory_mb": peak_memory_mb(self.device),
            "precision": config.train.precision,
            "processes": config.train.processes,
            "device": str(self.device),
            "versions": self.versions,
            "machine": machine(),
        }


SNAPSHOT_PREFIX, BEST = "snapshot-", "best.pt"


def lr_factor(schedule: str, step: int, warmup: int, spent: float) -> float:
    """The learning rate of optimizer step ``step`` (from 0), as a fraction of ``train.lr``.

    Both schedules warm up linearly over ``warmup`` steps. ``"inverse_sqrt"`` then decays
    with 1/sqrt(step) (Vaswani et al. 2017); it needs no horizon, so it is the same whether
    a run ends by epochs, patience or time. ``"linear"`` falls in a straight line to 0 as
    ``spent``, the share of the run's horizon used (``Trainer._spent``), goes from 0 to 1:
    budget-aware decay, which Li et al. (ICLR 2020, "Budgeted training") find the best
    schedule for a fixed budget, since the rate reaches 0 just when the budget runs out.
    """
    warming = (step + 1) / warmup
    if schedule == "linear":
        return max(0.0, min(warming, 1.0 - spent))
    return min(warming, math.sqrt(warmup / (step + 1)))


class Objective(torch.nn.Module):
    """The training loss of ``model`` on a batch, as one module.

    The task's head is applied outside ``TaskModel.forward`` (by ``Task.loss``); wrapped
    here, every parameter is used inside a forward, as DistributedDataParallel requires.
    """

    def __init__(self, model: TaskModel, task: Task):
        super().__init__()
        self.model, self.task = model, task

    def forward(self, batch: Any) -> torch.Tensor:
        """The mean loss of ``batch``, a 0-dim float tensor (``Task.loss`` on float scores)."""
        states = self.model(batch)
        return self.task.loss(self.model.head, states.float(), batch)


def objective(
    model: TaskModel, task: Task, group: distributed.Group, device: torch.device
) -> torch.nn.Module:
    """The loss module to train: :class:`Objective`, wrapped in DDP when there are several workers.

    DDP averages the gradients across workers bucket by bucket during the backward pass.
    The model's buffers are constants (positional encodings), so they are not broadcast
    every step; ``static_graph`` lets a plugin's model leave parameters unused, as long
    as the same ones every step.
    """
    loss = Objective(model, task)
    if not group.distributed:
        return loss
    return torch.nn.parallel.DistributedDataParallel(
        loss,
        device_ids=[device] if device.type == "cuda" else None,
        forward_sync_buffers=False,
        static_graph=True,
    )


def make_optimizer(model: torch.nn.Module, train: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW over all of ``model``'s parameters, as ``train`` configures it.

    On CPU and CUDA it is the fused implementation: one kernel updates every parameter,
    instead of a dozen element-wise passes over memory per tensor. It computes the same
    update, 4-8 times faster for our models on CPU (``benchmarks/optimizer.py``): for the
    NER BiLSTM, whose 2M-entry word embedding dominates the optimizer's work, that was a
    sixth of a training step. A state saved by the default implementation loads into it.
    """
    return torch.optim.AdamW(
        model.parameters(),
        lr=train.lr,
        betas=train.betas,
        weight_decay=train.weight_decay,
        fused=device.type in ("cpu", "cuda") or None,
    )


def snapshots(run_dir: Path) -> list[Path]:
    """The weight snapshots kept for ``train.average_last``, oldest first."""
    return sorted(run_dir.glob(f"{SNAPSHOT_PREFIX}*.pt"))


def average_weights(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts with the same keys (integer tensors from the last)."""
    averaged = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            averaged[key] = torch.stack([state[key].float() for state in states]).mean(dim=0).to(last.dtype)
        else:
            averaged[key] = last
    return averaged


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if isinstance(value, (int, float, str))}


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


@contextlib.contextmanager
def _deferred_interrupts() -> Iterator[Callable[[], bool]]:
    """Turn Ctrl-C and SIGTERM into a request that the loop honours between two steps.

    Stopping only between steps keeps the saved state consistent (weights, optimizer,
    batch position and RNG all from the same moment), so a resumed run is exactly an
    uninterrupted one. A second signal stops at once, without saving.
    """
    requests: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if requests:
            raise KeyboardInterrupt
        requests.append(signum)

    signals = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = {number: signal.signal(number, handler) for number in signals}
    except ValueError:  # not the main thread: leave signals alone
        yield lambda: False
        return
    try:
        yield lambda: bool(requests)
    finally:
        for number, old_handler in previous.items():
            signal.signal(number, old_handler)


def train(
    config: RunConfig, registry: Registry | None = None, console: Console | None = None, db: str | None = None
) -> Path:
    """Train, evaluate and record one run; return its directory.

    With ``train.processes`` > 1 the run is trained by that many worker processes
    (:mod:`nlpplat.distributed`); they load the plugins afresh, so ``registry`` is not used.
    In one process, the CPU treats subnormal floats as zero from then on
    (:mod:`nlpplat.subnormals`; ``torch.set_flush_denormal(False)`` undoes it).
    """
    if config.train.processes > 1 and not distributed.current().distributed:
        return Path(distributed.launch(_worker, config.train.processes, config, None, db))
    registry = registry or default_registry()
    console = console or Console(stderr=True)
    trainer = Trainer(config, registry, console)
    trainer.build(fresh=True)
    console.print(f"run directory: {trainer.run_dir} · {parameter_count(trainer.model):,} parameters")
    return _complete(trainer, db)


def resume(
    run_dir: str | Path,
    registry: Registry | None = None,
    console: Console | None = None,
    db: str | None = None,
) -> Path:
    """Continue an interrupted run from its ``state.pt``, to the same absolute budget
    (in as many processes as it was trained in)."""
    registry = registry or default_registry()
    console = console or Console(stderr=True)
    run_dir = Path(run_dir)
    if not (run_dir / STATE).is_file():
        raise NlpplatError(f"{run_dir}: no {STATE} to resume from")
    config = load_config(run_dir, registry)
    if config.train.processes > 1 and not distributed.current().distributed:
        return Path(distributed.launch(_worker, config.train.processes, None, run_dir, db))
    trainer = Trainer(config, registry, console, run_dir=run_dir)
    trainer.build(fresh=False)
    trainer.load_state()
    console.print(f"resuming {run_dir} at epoch {trainer.progress.epoch + 1}, step {trainer.progress.step:,}")
    return _complete(trainer, db)


def _complete(trainer: Trainer, db: str | None) -> Path:
    from nlpplat.leaderboard import Leaderboard

    trainer.fit()
    if not trainer.group.leader:
        return trainer.run_dir
    trainer.group = distributed.SINGLE  # training is over: the leader finishes alone
    results = trainer.finish()
    Leaderboard(db).add_run(trainer.run_dir)  # results.json and the example statistics
    test = results["test"][results["primary_metric"]]
    trainer.console.print(
        f"[bold]{results['task']} · {results['backbone']} · {results['dataset']}: "
        f"test {results['primary_metric']} {test:.2f}[/] (dev {results['dev'][results['primary_metric']]:.2f}) "
        f"→ {trainer.run_dir}"
    )
    return trainer.run_dir


def _worker(config: RunConfig | None, run_dir: Path | None, db: str | None) -> str:
    """One worker of a multi-process run: train ``config``, or resume ``run_dir``."""
    console = Console(stderr=True, quiet=not distributed.current().leader)  # one voice: the leader's
    registry = default_registry()
    if run_dir is not None:
        return str(resume(run_dir, registry, console, db))
    assert config is not None
    return str(train(config, registry, console, db))
