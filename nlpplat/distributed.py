"""Data-parallel training in several processes, with torch.distributed.

``nlpplat run --processes N`` (``train.processes``) starts N worker processes on this
machine. Each holds a copy of the model and trains on its own share of every epoch's
batches; DistributedDataParallel averages the gradients across the processes during the
backward pass (all-reduce, gloo on CPU, NCCL on CUDA with one GPU per process), so the
copies stay identical and one optimizer step learns from N batches.

Process 0, the leader, does everything that happens once: dev evaluation, checkpoints,
``state.pt``, the final evaluation and the leaderboard; it shares what it decided with
:meth:`Group.share`. Everything the others must agree on each step (the clock that
drives the schedule and the time budget, an interruption) goes through
:meth:`Group.agree`, so every process takes the same branches and the same collectives.

The workers run in their own process group: a Ctrl-C or SIGTERM reaches only the
launcher, which passes it on to every worker, so they stop together between two steps
and save a state that ``nlpplat run --resume`` continues (a second one stops them at
once, unsaved).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, TypeVar

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from nlpplat.errors import DataWarning, NlpplatError, show_data_warnings_in_one_line
from nlpplat.subnormals import flush_subnormals

T = TypeVar("T")

# Long enough for the leader's dev evaluation (generation can take minutes) while the
# others wait in the next collective.
TIMEOUT = datetime.timedelta(hours=2)
# Once every worker has reported, leaving is a barrier and a teardown: seconds at most.
LEAVING_TIME = 60.0


@dataclass(frozen=True)
class Group:
    """This process's place among the workers of a run: ``rank`` of ``size``."""

    rank: int = 0
    size: int = 1

    @property
    def leader(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def agree(self, elapsed: float, interrupted: bool, tokens: int) -> tuple[float, bool, int]:
        """The mean of the workers' clocks, whether any was interrupted, their tokens summed.

        One small all-reduce per step: every worker then sees the same elapsed time (the
        learning-rate schedule and the time budget depend on it) and the same stop signal.
        """
        if not self.distributed:
            return elapsed, interrupted, tokens
        values = torch.tensor([elapsed, float(interrupted), float(tokens)], dtype=torch.float64)
        dist.all_reduce(values)
        return values[0].item() / self.size, values[1].item() > 0, int(values[2].item())

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true in any worker."""
        return self.agree(0.0, flag, 0)[1]

    def share(self, value: T) -> T:
        """The leader's ``value``, in every worker (a picklable object)."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: T) -> list[T]:
        """Every worker's ``value``, by rank, in every worker."""
        if not self.distributed:
            return [value]
        values: list[Any] = [None] * self.size
        dist.all_gather_object(values, value)
        return values

    def shard(self, items: Sequence[T]) -> list[T]:
        """This worker's share of ``items``: every ``size``-th, from ``rank``.

        All workers get ``ceil(len / size)`` items, as each optimizer step needs one batch
        from each: the last round is completed by wrapping around to the first items, so
        at most ``size - 1`` batches of an epoch are seen twice and none is left out.
        """
        count = -(-len(items) // self.size)
        return [items[(self.rank + self.size * index) % len(items)] for index in range(count)]


SINGLE = Group()


def current() -> Group:
    """The group of this process: :data:`SINGLE` unless it is a worker of a launched run."""
    if dist.is_available() and dist.is_initialized():
        return Group(dist.get_rank(), dist.get_world_size())
    return SINGLE


def device_for(group: Group, device: torch.device) -> torch.device:
    """Worker ``rank``'s device: its own GPU when training on CUDA, else ``device``."""
    if device.type != "cuda" or not group.distributed:
        return device
    if group.size > torch.cuda.device_count():
        raise NlpplatError(
            f"train.processes = {group.size}: only {torch.cuda.device_count()} CUDA devices here "
            "(one process per GPU)"
        )
    return torch.device("cuda", group.rank)


def threads_per_process(threads: int, processes: int) -> int:
    """``train.threads``, or the CPU cores shared evenly when it is 0 (torch's default would
    give every process all of them, and N processes would fight over the cores)."""
    return threads or max(1, (os.cpu_count() or 1) // processes)


def launch(worker: Callable[..., T], processes: int, *args: Any) -> T:
    """Run ``worker(*args)`` in ``processes`` processes joined in a group; return the leader's result.

    ``worker`` and ``args`` must be picklable (workers are fresh interpreters). An error
    that every worker raises at the same step (registered with :func:`raised_together`)
    is raised here as such. Any other failure of one worker stops all of them at once,
    before the others notice the broken group; a user error (:class:`NlpplatError`) is
    then raised here with its message, an immediate stop (a second Ctrl-C, or one before
    training began) as :class:`KeyboardInterrupt`, any other error with its traceback above
    and a message that names every worker that failed, first any that died before its
    report. A worker that fails while shutting down, after its report, only earns a warning: its
    work is done, and the leader's result stands.
    """
    context = mp.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    channel = _Channel(writer, context.Lock())
    port = _free_port()
    workers = [
        context.Process(target=_run_worker, args=(rank, processes, port, channel, worker, args), daemon=True)
        for rank in range(processes)
    ]
    for process in workers:
        process.start()
    writer.close()  # the workers hold their copies

    def forward(signum: int, frame: Any) -> None:
        for process in workers:
            if process.is_alive():
                os.kill(process.pid, signum)

    previous = {number: signal.signal(number, forward) for number in (signal.SIGINT, signal.SIGTERM)}
    reports: list[Report] = []
    failed_leaving: list[tuple[int, str]] = []  # after their report: the run's outcome stands
    silent: set[int] = set()  # ranks that exited without a report
    pending = {process.sentinel: rank for rank, process in enumerate(workers)}

    def exited(sentinel: Any) -> None:
        """Record how the worker of ``sentinel`` ended."""
        rank = pending.pop(sentinel)
        workers[rank].join()
        code = workers[rank].exitcode
        reports.extend(_receive(reader))  # its report may still be in the pipe
        if not any(report.rank == rank for report in reports):
            # Died, or exited (sys.exit in a plugin) without a result: the others would wait
            # for it in their next collective.
            silent.add(rank)
            reports.append(Report(rank, FAILURE, f"exit code {code}, before its report"))
        elif code != 0:
            failed_leaving.append((rank, f"exit code {code}"))

    try:
        leave_by = math.inf  # once every worker has reported: when the last must have left
        while pending and not any(report.fatal for report in reports):
            if leave_by == math.inf and {report.rank for report in reports} == set(range(processes)):
                leave_by = time.monotonic() + LEAVING_TIME
            timeout = None if leave_by == math.inf else max(0.0, leave_by - time.monotonic())
            ready_ones = wait([*pending, reader], timeout=timeout)
            if not ready_ones:  # one is stuck leaving (the others may wait for it): stop them below
                late = f"had not exited {LEAVING_TIME:.0f} s after the last report"
                failed_leaving.extend((rank, late) for rank in sorted(pending.values()))
                break
            for ready in ready_ones:
                if ready is reader:
                    reports.extend(_receive(reader))
                else:
                    exited(ready)
        if any(report.fatal for report in reports):
            # A failure reported by one worker may follow from another's death (a collective
            # on its closed connections): record the workers that have already died too.
            for sentinel, rank in list(pending.items()):
                if not workers[rank].is_alive():
                    exited(sentinel)
        # After a failure the others wait in a collective: stop them, before the one that
        # failed (they would fail on its closed connections, each with its own traceback).
        failed = {report.rank for report in reports if report.fatal}
        for rank in sorted(range(processes), key=lambda rank: rank in failed):
            if workers[rank].is_alive():
                workers[rank].kill()
        for process in workers:
            process.join()
        reports.extend(_receive(reader))
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        reader.close()
    errors = sorted((report for report in reports if report.kind != RESULT), key=lambda report: report.rank)
    if failed_leaving and not any(report.fatal for report in reports):
        # Its work was done and reported, and the leader saved the run: failing the command
        # now would send the user to rerun a run that is complete. Say so, without hiding it.
        for rank, how in failed_leaving:
            print(
                f"warning: training process {rank} of {processes} failed while shutting down ({how}), "
                "after it had finished its work",
                file=sys.stderr,
            )
    if errors:
        error = min(errors, key=lambda report: report.kind == FAILURE)  # a message before an exit code
        if error.kind == STOPPED:
            raise KeyboardInterrupt
        if error.kind == FAILURE:
            # Every one: which caused the others is not known here. A worker that died before
            # its report comes first, as the likely cause: one that fails with an error waits
            # to be stopped, keeping its connections open, so the others fail only on a death.
            failures = sorted(
                (report for report in errors if report.kind == FAILURE),
                key=lambda report: (report.rank not in silent, report.rank),
            )
            raise NlpplatError(
                "; ".join(
                    f"training process {report.rank} of {processes} failed ({report.message})"
                    for report in failures
                )
                + "; see above"
            )
        raise _TOGETHER.get(error.kind, NlpplatError)(error.message)
    return next(report.message for report in reports if report.kind == RESULT and report.rank == 0)


RESULT, FAILURE, STOPPED = "result", "failure", "stopped"


@dataclass(frozen=True)
class Report:
    """What worker ``rank`` sends the launcher: its result, or the name and message of its error."""

    rank: int
    kind: str  # RESULT, FAILURE (not a user error), STOPPED, or the class name of an NlpplatError
    message: Any

    @property
    def fatal(self) -> bool:
        """Whether the other workers must be stopped: this one failed alone."""
        return self.kind not in (RESULT, *_TOGETHER)


@dataclass(frozen=True)
class _Channel:
    """The workers' shared line to the launcher (one report at a time)."""

    connection: Any
    lock: Any

    def send(self, report: Report) -> None:
        with self.lock:
            self.connection.send(report)


# Errors that every worker raises at the same step (an interruption): they end normally.
_TOGETHER: dict[str, type[NlpplatError]] = {}


def raised_together(error: type[NlpplatError]) -> type[NlpplatError]:
    """Class decorator: ``error`` is raised by all workers together, and by :func:`launch`."""
    _TOGETHER[error.__name__] = error
    return error


def _run_worker(
    rank: int, size: int, port: int, channel: _Channel, worker: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    os.setpgrp()  # signals come from the launcher only, once (see the module docstring)
    flush_subnormals()  # before gloo and torch start their threads, as Trainer does in one process
    show_data_warnings_in_one_line()  # as the CLI that started it does
    backend = "gloo"
    if torch.cuda.is_available():
        # CUDA tensors (the gradients) through NCCL, the CPU ones (Group.agree) through gloo.
        torch.cuda.set_device(rank % torch.cuda.device_count())
        backend = "cpu:gloo,cuda:nccl"
    dist.init_process_group(
        backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size, timeout=TIMEOUT
    )
    if rank != 0:  # every worker reads the data, the leader speaks for all (as in training)
        warnings.filterwarnings("ignore", category=DataWarning)
    try:
        report = Report(rank, RESULT, worker(*args))
    except NlpplatError as error:
        report = Report(rank, type(error).__name__, str(error))
    except KeyboardInterrupt:  # stopped at once: nothing saved, nothing to show
        report = Report(rank, STOPPED, "")
    except Exception as error:
        traceback.print_exc()
        report = Report(rank, FAILURE, f"{type(error).__name__}: {error}")
    channel.send(report)
    if report.fatal:
        # Failing alone: wait here to be stopped with the others. Leaving would close this
        # worker's connections, and the others would fail on them with errors of their own.
        while True:
            time.sleep(60)
    # Leave together: one that tears its connections down while another still uses them
    # can abort that one (seen with gloo, once the leader finished a run alone).
    try:
        dist.barrier()
        dist.destroy_process_group()
    except BaseException as error:  # another crashed while leaving (or a late Ctrl-C)
        reason = str(error).strip().split("\n")[0] or type(error).__name__
        print(
            f"warning: training process {rank} of {size}: leaving the group failed: {reason}", file=sys.stderr
        )
        sys.stderr.flush()
        os._exit(1)
    # Then skip the interpreter's finalization: torch's native threads can still abort a
    # process there ("terminate called without an active exception", seen once in CI on a
    # worker after a finished run), and there is nothing left to clean up.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _receive(reader: Any) -> list[Report]:
    """The reports waiting in ``reader`` (none once every worker has closed its end)."""
    reports = []
    with contextlib.suppress(EOFError):
        while reader.poll():
            reports.append(reader.recv())
    return reports


def _free_port() -> int:
    """A TCP port on localhost that is free now, for the workers' rendezvous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
