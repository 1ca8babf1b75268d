"""Generate the reference pages that must never drift from the code.

``python -m nlpplat.docgen`` rewrites ``docs/plugin-hooks.md`` from the hook docstrings
and ``docs/cli.md`` from ``--help``; tests fail when the committed pages differ.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

from nlpplat import hookspecs

HOOKS_INTRO = """\
# Plugin hooks

Generated from `nlpplat/hookspecs.py` by `python -m nlpplat.docgen`; do not edit by hand.

A plugin is a module listed under the `nlpplat` entry-point group of its distribution:

```toml
[project.entry-points.nlpplat]
my_plugin = "my_package.plugin"
```

Each hook below is *collect-all*: nlpplat calls every plugin's implementation and
validates the combined results in one place (`nlpplat/registry.py`). A plugin whose
hook raises, returns the wrong type or registers a name that another plugin also
registers is reported by `nlpplat plugins` and left out; the others keep working.
Set `NLPPLAT_LOAD_PLUGINS=dist-a,dist-b` to load only those distributions (empty: none),
and `NLPPLAT_TRACE_PLUGINS=1` to log every hook call, with its result and duration, to stderr.

A plugin module may state the plugin API versions it supports, `NLPPLAT_API = ">=1,<2"`
(this nlpplat provides `nlpplat.PLUGIN_API`); outside that range it is skipped, and
`nlpplat plugins` says why. Tutorials: [writing a backbone](plugins/writing-a-backbone.md),
[writing a task](plugins/writing-a-task.md), [testing with the kit](plugins/testing.md).
"""


def hook_names() -> list[str]:
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if name.startswith("register_") and inspect.isfunction(value)
    )


def plugin_hooks_page() -> str:
    parts = [HOOKS_INTRO]
    for name in hook_names():
        function = getattr(hookspecs, name)
        signature = str(inspect.signature(function)).replace("'", "")
        parts.append(f"## `{name}{signature}`\n\n{inspect.cleandoc(function.__doc__ or '')}\n")
    return "\n".join(parts)


def cli_page() -> str:
    from nlpplat.cli import cli

    parts = [
        "# Command line\n",
        "Generated from `--help` by `python -m nlpplat.docgen`; do not edit by hand.\n",
    ]
    with click.Context(cli, info_name="nlpplat", terminal_width=100, max_content_width=100) as context:
        parts.append(f"## `nlpplat`\n\n```\n{cli.get_help(context)}\n```\n")
        for name in sorted(cli.commands):  # built-in commands only: plugins document their own
            command = cli.commands[name]
            with click.Context(command, info_name=name, parent=context) as sub:
                parts.append(f"## `nlpplat {name}`\n\n```\n{command.get_help(sub)}\n```\n")
                for child in sorted(getattr(command, "commands", {})):  # a group's subcommands
                    subcommand = command.commands[child]
                    with click.Context(subcommand, info_name=child, parent=sub) as leaf:
                        parts.append(
                            f"### `nlpplat {name} {child}`\n\n```\n{subcommand.get_help(leaf)}\n```\n"
                        )
    return "\n".join(parts)


PAGES = {"plugin-hooks.md": plugin_hooks_page, "cli.md": cli_page}
DOCS = Path(__file__).resolve().parent.parent / "docs"


def main(docs: Path = DOCS) -> None:
    for name, make in PAGES.items():
        (docs / name).write_text(make(), encoding="utf-8")
        print(f"wrote {docs / name}", file=sys.stderr)


if __name__ == "__main__":
    main()
