"""The ``nlpplat`` command line: thin wrappers over importable functions.

User errors (:class:`~nlpplat.errors.NlpplatError`) are printed as one line on stderr
with exit status 1; plugin commands are attached when the CLI starts, never at import.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from nlpplat import __version__
from nlpplat.errors import NlpplatError

stdout = Console()
stderr = Console(stderr=True)


class Context:
    """What commands share: the plugin host and registry, built once on first use."""

    def __init__(self) -> None:
        self._host: Any = None
        self._registry: Any = None
        self._plugin_commands: dict[str, click.Command] | None = None

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

            self._registry = build_registry(self.host)
        return self._registry

    @property
    def plugin_commands(self) -> dict[str, click.Command]:
        """Commands from ``register_commands``, collected on a scratch group.

        Plugins see a group of their own, so the module-level ``cli`` is never mutated
        and a plugin cannot replace a built-in command.
        """
        if self._plugin_commands is None:
            self._plugin_commands = {}
            for impl in self.host.pm.hook.register_commands.get_hookimpls():
                scratch = click.Group()
                try:
                    impl.function(cli=scratch)
                except Exception as error:  # a broken plugin command must not break the CLI
                    self.host.statuses[impl.plugin_name].errors.append(f"register_commands raised {error!r}")
                    continue
                self._plugin_commands.update(scratch.commands)
        return self._plugin_commands


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
    }  # fmt: skip
    layer: dict[str, dict[str, Any]] = {}
    for option, value in options.items():
        if value is not None:
            section, key = places[option]
            layer.setdefault(section, {})[key] = value
    return layer


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option(
    "--test", "test_path", type=click.Path(), help="Evaluate on this file instead of the run's test set."
)
@click.option("--output", type=click.Path(), help="Write predictions here.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.pass_context
def evaluate(
    ctx: click.Context, run_dir: str, test_path: str | None, output: str | None, as_json: bool
) -> None:
    """Evaluate a trained run on its test set or on another file."""
    from nlpplat.inference import evaluate_run

    metrics = evaluate_run(run_dir, _registry(ctx), test_path, output)
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
@click.pass_context
def predict(ctx: click.Context, run_dir: str, text: str | None, input_file: str | None) -> None:
    """Run a trained model on raw text; prints one JSON object per input."""
    from nlpplat.inference import predict_lines

    if (text is None) == (input_file is None):
        raise NlpplatError("give either TEXT or --file FILE")
    if input_file:
        lines = sys.stdin if input_file == "-" else Path(input_file).read_text(encoding="utf-8").splitlines()
    else:
        lines = [text]
    for result in predict_lines(run_dir, _registry(ctx), lines):
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List plugins: distribution, version, hooks, what they register, load errors."""
    ctx.ensure_object(Context).plugin_commands  # noqa: B018 - collect them first, to list their errors
    statuses = _registry(ctx).plugins
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(status) for status in statuses], indent=2))
        return
    table = Table("plugin", "distribution", "version", "hooks", "registers", "status")
    for status in statuses:
        registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in status.registered.items())
        state = "[green]ok[/]" if status.ok else "[red]" + " | ".join(status.errors) + "[/]"
        table.add_row(
            status.name, status.distribution, status.version, ", ".join(status.hooks), registered, state
        )
    stdout.print(table)


@cli.command()
@click.option("--task", help="Only this task.")
@click.option("--dataset", help="Only this dataset.")
@click.option("--db", type=click.Path(), envvar="NLPPLAT_DB", help="Leaderboard database.")
def leaderboard(task: str | None, dataset: str | None, db: str | None) -> None:
    """Show recorded runs, best first per task and dataset."""
    from nlpplat.leaderboard import Leaderboard

    rows = Leaderboard(db).rows(task, dataset)
    table = Table("task", "dataset", "backbone", "metric", "test", "dev", "params", "train s", "tok/s", "run")
    for row in rows:
        table.add_row(
            row["task"],
            row["dataset"],
            row["backbone"],
            row["primary_metric"],
            f"{row['test_score']:.2f}",
            f"{row['dev_score']:.2f}",
            f"{row['parameters']:,}",
            f"{row['train_seconds']:.0f}",
            f"{row['train_tokens_per_second']:,.0f}",
            row["run_id"],
        )
    stdout.print(table)


def main() -> None:
    cli(prog_name="nlpplat")
