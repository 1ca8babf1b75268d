"""The ``nlpplat`` command line: thin wrappers over importable functions.

User errors (:class:`~nlpplat.errors.NlpplatError`) are printed as one line on stderr
with exit status 1; plugin commands are attached when the CLI starts, never at import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from nlpplat import __version__, allocator
from nlpplat.errors import NlpplatError, show_data_warnings_in_one_line

stdout = Console()
stderr = Console(stderr=True)


class Context:
    """What commands share: the plugin host and registry, built once on first use."""

    def __init__(self) -> None:
        self._host: Any = None
        self._registry: Any = None

    @property
    def host(self) -> Any:
        if self._host is None:
            from nlpplat.plugins import make_plugin_host

            self._host = make_plugin_host()
        return self._host

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from nlpplat.registry import build_registry

            # Built-in commands are reserved: a plugin cannot replace them.
            self._registry = build_registry(self.host, reserved_commands=cli.commands)
        return self._registry

    @property
    def plugin_commands(self) -> dict[str, click.Command]:
        """Commands from ``register_commands`` (collected and checked by the registry).

        Plugins see a group of their own, so the module-level ``cli`` is never mutated
        and a plugin cannot replace a built-in command.
        """
        return self.registry.commands


class NlpplatGroup(click.Group):
    """A group that adds plugin commands lazily and turns user errors into one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        plugin_commands = ctx.ensure_object(Context).plugin_commands
        return sorted(set(super().list_commands(ctx)) | set(plugin_commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or ctx.ensure_object(Context).plugin_commands.get(name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NlpplatError as error:
            stderr.print(f"[red]Error:[/] {error}", highlight=False, soft_wrap=True)
            sys.exit(1)


@click.group(cls=NlpplatGroup)
@click.version_option(__version__, prog_name="nlpplat")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """nlpplat: train, compare and ship NLP models built from plugins."""
    ctx.ensure_object(Context)
    show_data_warnings_in_one_line()


def _registry(ctx: click.Context) -> Any:
    return ctx.ensure_object(Context).registry


@cli.command()
@click.option("--task", help="Task name, e.g. ner (see `nlpplat tasks`).")
@click.option("--backbone", help="Backbone name, e.g. lstm (see `nlpplat backbones`).")
@click.option("--dataset", help="Dataset name (see `nlpplat datasets`); default: the task's first available.")
@click.option("--train", "train_path", type=click.Path(), help="Training file, instead of the dataset's.")
@click.option("--dev", "dev_path", type=click.Path(), help="Development file, instead of the dataset's.")
@click.option("--test", "test_path", type=click.Path(), help="Test file, instead of the dataset's.")
@click.option("--epochs", type=int, help="Maximum number of epochs.")
@click.option("--max-time", help="Training time budget, e.g. 90s, 30m, 2h.")
@click.option("--seed", type=int, help="Random seed (same seed on CPU => same result).")
@click.option("--batch-size", type=int, help="Sentences per training batch.")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), help="bf16 uses autocast.")
@click.option("--device", help="auto (default), cpu, cuda, cuda:1 ...")
@click.option("--processes", type=int, help="Train data-parallel in N processes (torch.distributed).")
@click.option(
    "--config", "config_file", type=click.Path(), help="TOML file with [run], [train], ... sections."
)
@click.option(
    "--set", "assignments", multiple=True, metavar="SECTION.KEY=VALUE", help="Override any setting."
)
@click.option(
    "--output", type=click.Path(), help="Run directory (default runs/<task>-<backbone>-<dataset>-<time>)."
)
@click.option("--resume", type=click.Path(), help="Continue an interrupted run directory.")
@click.option(
    "--db", type=click.Path(), envvar="NLPPLAT_DB", help="Leaderboard database (default: user data dir)."
)
@click.pass_context
def run(
    ctx: click.Context,
    config_file: str | None,
    assignments: tuple[str, ...],
    resume: str | None,
    db: str | None,
    **options: Any,
) -> None:
    """Train, evaluate and record one run."""
    from nlpplat import config as cfg
    from nlpplat import training

    registry = _registry(ctx)
    if resume:
        given = [name for name, value in options.items() if value is not None]
        if given or config_file or assignments:
            raise NlpplatError(
                "--resume continues a run exactly as configured (its config.toml); it takes no other "
                f"settings (given: {', '.join(given + (['--config'] if config_file else []) + (['--set'] if assignments else []))})"
            )
        training.resume(resume, registry, stderr, db=db)
        return
    layers = [cfg.load_toml(config_file)] if config_file else []
    layers.append(_option_layer(options))
    layers.append(cfg.assignments_to_layer(assignments))
    config = cfg.resolve(registry, layers)
    training.train(config, registry, stderr, db=db)


def _option_layer(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Command-line options as a configuration layer (only those given)."""
    places = {
        "task": ("run", "task"), "backbone": ("run", "backbone"), "dataset": ("run", "dataset"),
        "train_path": ("run", "train"), "dev_path": ("run", "dev"), "test_path": ("run", "test"),
        "output": ("run", "output"), "epochs": ("train", "epochs"), "max_time": ("train", "max_time"),
        "seed": ("train", "seed"), "batch_size": ("train", "batch_size"),
        "precision": ("train", "precision"), "device": ("train", "device"),
        "processes": ("train", "processes"),
    }  # fmt: skip
    layer: dict[str, dict[str, Any]] = {}
    for option, value in options.items():
        if value is not None:
            section, key = places[option]
            layer.setdefault(section, {})[key] = value
    return layer


# --set for commands that use a trained run: only what does not change the model's shape.
USE_SETTINGS = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Change a task.* or train.* setting of the run, e.g. task.decoding=greedy or task.beam=10.",
)


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option(
    "--test", "test_path", type=click.Path(), help="Evaluate on this file instead of the run's test set."
)
@click.option("--output", type=click.Path(), help="Write predictions here.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@USE_SETTINGS
@click.pass_context
def evaluate(
    ctx: click.Context,
    run_dir: str,
    test_path: str | None,
    output: str | None,
    as_json: bool,
    assignments: tuple[str, ...],
) -> None:
    """Evaluate a trained run on its test set or on another file."""
    from nlpplat.config import assignments_to_layer
    from nlpplat.inference import evaluate_run

    overrides = assignments_to_layer(assignments)
    metrics = evaluate_run(run_dir, _registry(ctx), test_path, output, overrides)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    table = Table("metric", "value")
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    stdout.print(table)


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.argument("text", required=False)
@click.option(
    "--file", "input_file", type=click.Path(), help="Predict for each line of this file ('-' = stdin)."
)
@USE_SETTINGS
@click.pass_context
def predict(
    ctx: click.Context, run_dir: str, text: str | None, input_file: str | None, assignments: tuple[str, ...]
) -> None:
    """Run a trained model on raw text; prints one JSON object per input."""
    from nlpplat.config import assignments_to_layer
    from nlpplat.inference import predict_lines

    if (text is None) == (input_file is None):
        raise NlpplatError("give either TEXT or --file FILE")
    if input_file and input_file != "-" and not Path(input_file).is_file():
        raise NlpplatError(f"--file {input_file}: no such file")
    with (
        click.open_file(input_file or "-", encoding="utf-8")
        if input_file
        else contextlib.nullcontext() as handle
    ):
        lines = handle if input_file else [text]  # streamed, one line at a time
        for result in predict_lines(run_dir, _registry(ctx), lines, assignments_to_layer(assignments)):
            click.echo(json.dumps(result, ensure_ascii=False))


@cli.command()
@click.pass_context
def tasks(ctx: click.Context) -> None:
    """List the tasks that plugins provide."""
    table = Table("task", "primary metric", "datasets", "description")
    registry = _registry(ctx)
    for name, task in sorted(registry.tasks.items()):
        datasets = ", ".join(spec.name for spec in registry.datasets_for(name))
        table.add_row(name, task.primary_metric, datasets, task.description)
    stdout.print(table)


@cli.command()
@click.pass_context
def backbones(ctx: click.Context) -> None:
    """List the backbones that plugins provide, with their settings."""
    table = Table("backbone", "settings (defaults)", "description")
    for name, backbone in sorted(_registry(ctx).backbones.items()):
        settings = ", ".join(
            f"{f.name}={getattr(backbone.Config(), f.name)!r}" for f in dataclasses.fields(backbone.Config)
        )
        table.add_row(name, settings, backbone.description)
    stdout.print(table)


@cli.command()
@click.option("--task", help="Only datasets of this task.")
@click.pass_context
def datasets(ctx: click.Context, task: str | None) -> None:
    """List the datasets that plugins provide and where each is found."""
    from nlpplat.data import resolve_files
    from nlpplat.errors import MissingDataError

    table = Table("task", "dataset", "available", "license", "description")
    for (spec_task, name), spec in sorted(_registry(ctx).datasets.items()):
        if task and spec_task != task:
            continue
        try:
            paths = resolve_files(spec, download=False) if spec.generate is None else {}
            where = str(next(iter(paths.values())).parent) if paths else "generated"
        except MissingDataError:
            where = "download" if spec.urls else "[yellow]manual import[/]"
        table.add_row(spec_task, name, where, spec.license, spec.description)
    stdout.print(table)


@cli.command()
@click.option(
    "--all", "show_all", is_flag=True, help="Also list plugins that NLPPLAT_LOAD_PLUGINS leaves out."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--restore", is_flag=True, help="Reinstall every plugin recorded by `nlpplat install`.")
@click.pass_context
def plugins(ctx: click.Context, show_all: bool, as_json: bool, restore: bool) -> None:
    """List plugins: distribution, version, hooks, what they register, load errors.

    A plugin made for another plugin API version is listed as skipped, with the
    range it supports. With --restore, first reinstall the plugins in the manifest
    (after upgrading nlpplat or in a new environment). NLPPLAT_TRACE_PLUGINS=1 logs
    every hook call to stderr.
    """
    if restore:
        from nlpplat import installer

        restored = installer.restore()
        for line in installer.describe(restored):
            stderr.print(line, highlight=False)
        if not restored:
            stderr.print(f"{installer.manifest_path()} lists no plugins: nothing to restore", highlight=False)
        ctx.ensure_object(Context)._host = None  # list what is installed now
        ctx.ensure_object(Context)._registry = None
    statuses = [status for status in _registry(ctx).plugins if show_all or not status.disabled]
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(status) for status in statuses], indent=2))
        return
    table = Table("plugin", "distribution", "version", "hooks", "registers", "status")
    for status in statuses:
        registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in status.registered.items())
        if status.errors:
            state = "[red]" + " | ".join(status.errors) + "[/]"
        elif status.skipped:
            state = f"[yellow]skipped: {status.skipped}[/]"
        else:
            state = "[green]ok[/]"
        table.add_row(
            status.name, status.distribution, status.version, ", ".join(status.hooks), registered, state
        )
    stdout.print(table)


@cli.command()
@click.argument("requirements", nargs=-1)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade to the newest version.")
@click.option("-e", "--editable", is_flag=True, help="Install local folders in editable (development) mode.")
@click.option(
    "-r",
    "--requirement",
    "requirement_files",
    multiple=True,
    type=click.Path(),
    help="Install from this file.",
)
@click.option(
    "--pip-arg",
    "pip_args",
    multiple=True,
    metavar="ARG",
    help="Pass ARG to pip, e.g. --pip-arg=--no-build-isolation (repeatable).",
)
def install(
    requirements: tuple[str, ...],
    upgrade: bool,
    editable: bool,
    requirement_files: tuple[str, ...],
    pip_args: tuple[str, ...],
) -> None:
    """Install plugins with pip, into the Python that runs nlpplat.

    REQUIREMENTS are anything pip accepts: a name (nlpplat-gru), a local folder,
    a wheel, a git+https:// URL. Each install is recorded in the plugin manifest
    ($NLPPLAT_PLUGIN_MANIFEST, default ~/.local/share/nlpplat/plugins.json), so
    `nlpplat plugins --restore` can reinstall them after an upgrade.
    """
    from nlpplat import installer

    entries = installer.install(
        requirements,
        upgrade=upgrade,
        editable=editable,
        requirement_files=requirement_files,
        pip_args=pip_args,
    )
    for line in installer.describe(entries):
        stderr.print(line, highlight=False)


@cli.command()
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall(name: str, yes: bool) -> None:
    """Uninstall the plugin distribution NAME and remove it from the manifest."""
    from nlpplat import installer

    version = installer.uninstall(name, yes=yes)
    stderr.print(f"{name} {version}: uninstalled", highlight=False)


@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--kind", type=click.Choice(["backbone", "task"]), required=True, help="What the plugin provides."
)
@click.option(
    "--output", type=click.Path(), default=".", show_default=True, help="Folder to create the plugin in."
)
def new_plugin(name: str, kind: str, output: str) -> None:
    """Write a ready plugin distribution (package, entry point, README, tests).

    NAME is the registered name (gru) or the distribution name (nlpplat-gru).
    The result installs with `nlpplat install -e FOLDER` and passes its own tests.
    """
    from nlpplat import scaffold

    folder = scaffold.new_plugin(name, kind, Path(output))
    stderr.print(
        f"wrote {folder}; next: nlpplat install -e {folder} && pytest {folder}",
        highlight=False,
        soft_wrap=True,
    )


def _db_option(function: Any) -> Any:
    return click.option(
        "--db", type=click.Path(), envvar="NLPPLAT_DB", help="Leaderboard database (default: user data dir)."
    )(function)


def _show_options(function: Any) -> Any:
    from nlpplat.report import FORMATS

    function = _db_option(function)  # innermost, so that --help lists it last
    for option in reversed(
        [
            click.option("--task", help="Only this task."),
            click.option("--dataset", help="Only this dataset."),
            click.option(
                "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                help="Output format.",
            ),
            click.option("--output", type=click.Path(), help="Write to this file instead of the terminal."),
            click.option("--runs", "by_run", is_flag=True, help="One line per run instead of per seed group."),
        ]
    ):  # fmt: skip
        function = option(function)
    return function


@cli.group(invoke_without_command=True)
@_show_options
@click.pass_context
def leaderboard(ctx: click.Context, **options: Any) -> None:
    """Recorded runs ranked per task and dataset; without a subcommand: `show`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(show, **options)


@leaderboard.command()
@_show_options
@click.pass_context
def show(
    ctx: click.Context,
    task: str | None,
    dataset: str | None,
    fmt: str,
    output: str | None,
    by_run: bool,
    db: str | None,
) -> None:
    """Rank runs by the task's primary metric, one table per task and dataset.

    Seeds of one configuration are grouped: mean ± standard deviation, seed count and a
    95% bootstrap interval over test examples (see docs/leaderboard.md).
    """
    from nlpplat import report
    from nlpplat.confidence import metric_function
    from nlpplat.leaderboard import FAILED, INTERRUPTED, Leaderboard
    from nlpplat.ranking import build_boards

    board = Leaderboard(db)
    boards = build_boards(
        board.rows(task, dataset),
        by_run=by_run,
        load_statistics=board.statistics,
        metric_for=lambda name, settings: metric_function(_registry(ctx), name, settings),
    )
    failed = [row for row in board.rows(task, dataset, status=None) if row["status"] in (FAILED, INTERRUPTED)]
    if output is None and fmt == "table" and stdout.is_terminal:
        report.print_tables(boards, failed, stdout)
        return
    text = report.render(boards, failed, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    from nlpplat.io import atomic_writer

    with atomic_writer(output) as handle:
        handle.write(text)
    stderr.print(f"wrote {output}", highlight=False)


@leaderboard.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--resamples", type=int, default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=12345, show_default=True, help="Resampling seed (sacrebleu's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_db_option
@click.pass_context
def compare(
    ctx: click.Context, run_a: str, run_b: str, resamples: int, seed: int, as_json: bool, db: str | None
) -> None:
    """Paired bootstrap test of RUN_B against RUN_A (run ids or run directories).

    Both runs' test examples are resampled together; p is the two-sided p-value of
    sacrebleu's paired bootstrap (Koehn 2004), exact definition in docs/leaderboard.md.
    """
    from nlpplat.comparison import compare_runs
    from nlpplat.leaderboard import Leaderboard

    comparison = compare_runs(run_a, run_b, Leaderboard(db), _registry(ctx), resamples, seed)
    click.echo(json.dumps(comparison.to_dict(), indent=2) if as_json else comparison.text())


@leaderboard.command("export")
@click.option("--task", help="Only this task.")
@click.option("--dataset", help="Only this dataset.")
@click.option("--output", type=click.Path(), help="Write to this file instead of stdout.")
@_db_option
def export_runs(task: str | None, dataset: str | None, output: str | None, db: str | None) -> None:
    """Write runs (with their example statistics) as JSON lines, for `leaderboard import`."""
    from nlpplat.leaderboard import Leaderboard

    lines = Leaderboard(db).export_lines(task, dataset)
    if output is None:
        for line in lines:
            click.echo(line)
        return
    from nlpplat.io import atomic_writer

    with atomic_writer(output) as handle:
        count = 0
        for count, line in enumerate(lines, 1):  # noqa: B007 - the count is reported below
            handle.write(line + "\n")
    stderr.print(f"wrote {count} runs to {output}", highlight=False)


@leaderboard.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_db_option
def import_runs(files: tuple[str, ...], db: str | None) -> None:
    """Merge runs exported on other machines; a run id already present is kept as it is."""
    from nlpplat.leaderboard import Leaderboard

    board = Leaderboard(db)
    for name in files:
        try:
            handle = sys.stdin if name == "-" else open(name, encoding="utf-8")  # noqa: SIM115
        except OSError as error:
            raise NlpplatError(f"{name}: {error.strerror}") from None
        with handle:
            result = board.import_lines(handle, name)
        stderr.print(
            f"{name}: {result.added} added, {result.replaced} replaced a failed run, "
            f"{result.duplicates} already present",
            highlight=False,
        )
        for run_id in result.conflicts:
            stderr.print(
                f"[yellow]{name}: {run_id} is present with another test score; kept the stored one[/]",
                highlight=False,
            )


@cli.command()
@click.argument("grid_file", required=False, type=click.Path())
@click.option("--task", help="Tasks, comma-separated (e.g. ner,translation).")
@click.option("--backbone", help="Backbones, comma-separated (e.g. rnn,lstm,transformer).")
@click.option("--dataset", help="Datasets, comma-separated; default: each task's default dataset.")
@click.option("--seeds", help="Number of seeds (3 = seeds 1,2,3) or a comma-separated list of seeds.")
@click.option("--max-time", help="Training time budget of each cell, e.g. 30m.")
@click.option("--epochs", type=int, help="Maximum number of epochs of each cell.")
@click.option(
    "--set", "assignments", multiple=True, metavar="SECTION.KEY=VALUE", help="A setting for every cell."
)
@click.option("--jobs", type=int, default=1, show_default=True, help="Cells run at the same time.")
@click.option(
    "--output",
    type=click.Path(),
    default="runs",
    show_default=True,
    help="Folder of the cell run directories.",
)
@click.option("--dry-run", is_flag=True, help="List the cells and what would happen to each; run nothing.")
@_db_option
@click.pass_context
def bench(
    ctx: click.Context,
    grid_file: str | None,
    task: str | None,
    backbone: str | None,
    dataset: str | None,
    seeds: str | None,
    max_time: str | None,
    epochs: int | None,
    assignments: tuple[str, ...],
    jobs: int,
    output: str,
    dry_run: bool,
    db: str | None,
) -> None:
    """Run a grid of task × dataset × backbone × seed, each cell in its own process.

    Give the grid with options or in GRID_FILE (TOML: [grid], shared settings,
    [[override]] per cell; options given here take precedence). Finished cells are
    skipped when the grid is run again, interrupted ones resumed; a failed cell is
    recorded with its error and the grid goes on. See docs/leaderboard.md.
    """
    from nlpplat import bench as grid
    from nlpplat import config as cfg
    from nlpplat.leaderboard import default_path

    spec = grid.load_grid(grid_file) if grid_file else grid.GridSpec(tasks=[], backbones=[])
    spec.tasks = grid.split_names(task) or spec.tasks
    spec.backbones = grid.split_names(backbone) or spec.backbones
    spec.datasets = grid.split_names(dataset) or spec.datasets
    if seeds:
        numbers = grid.split_names(seeds)
        if not all(number.isdigit() for number in numbers):
            raise NlpplatError(f"--seeds {seeds!r}: give a count such as 3 or a list such as 1,7,42")
        spec.seeds = grid.seed_list(int(numbers[0]) if len(numbers) == 1 else [int(n) for n in numbers])
    cli_layer = {
        "train": {k: v for k, v in {"max_time": max_time, "epochs": epochs}.items() if v is not None}
    }
    spec.command_line = grid.merge(cli_layer, cfg.assignments_to_layer(assignments))
    cells = grid.expand(spec, _registry(ctx), stderr)
    runs = grid.plan(cells, Path(output))
    if dry_run:
        table = Table("task", "dataset", "backbone", "seed", "action", "run directory")
        for row in grid.cell_rows(runs):
            table.add_row(*row)
        stdout.print(table)
        return
    database = Path(db).resolve() if db else default_path()
    finished = grid.Bench(runs, database, jobs, stderr).run()
    stderr.print(f"bench: {grid.summary(finished)} · nlpplat leaderboard --db {database}", highlight=False)
    failed = [run for run in finished if run.status == "failed"]
    if failed:
        raise NlpplatError(
            f"{len(failed)} of {len(finished)} cells failed: "
            + "; ".join(f"{run.run_dir.name}: {run.error}" for run in failed)
        )


# The commands that train or evaluate: they run under a faster allocator when one is installed
# (nlpplat.allocator). The others start in a second and would only pay the relaunch.
HEAVY_COMMANDS = ("run", "evaluate", "bench")


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in HEAVY_COMMANDS:
        allocator.relaunch()
    cli(prog_name="nlpplat")
