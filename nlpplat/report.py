"""Rendering ranked boards (:mod:`nlpplat.ranking`): terminal table, Markdown, JSON, CSV, HTML.

Every format shows the same numbers: per entry the test score (mean ± standard
deviation over seeds), its 95 % bootstrap interval, the number of seeds, the dev score
and the efficiency columns (parameters, training time, training tokens/s, evaluation
sentences/s, peak memory). The HTML page is self-contained and works offline: inline
CSS, a few lines of inline JavaScript to sort the tables, and matplotlib plots of score
against training time embedded as base64 PNG.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from nlpplat.ranking import Board, Entry

FORMATS = ("table", "markdown", "json", "csv", "html")


# -- numbers as text --------------------------------------------------------------------
def score_text(entry: Entry) -> str:
    return f"{entry.mean:.2f}" if entry.std is None else f"{entry.mean:.2f} ± {entry.std:.2f}"


def interval_text(entry: Entry) -> str:
    return "—" if entry.interval is None else f"{entry.interval[0]:.2f}–{entry.interval[1]:.2f}"


def count_text(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    return f"{value / 1e3:.1f}k" if value >= 1e4 else f"{value:,.0f}"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def runs_text(entry: Entry) -> str:
    return entry.run_ids[0] + (f" (+{entry.seeds - 1})" if entry.seeds > 1 else "")


def _optional(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def cells(entry: Entry, rank: int) -> list[str]:
    """The text of one entry's row, in the order of :func:`headers`."""
    return [
        str(rank),
        entry.backbone,
        entry.config_id,
        score_text(entry),
        interval_text(entry),
        str(entry.seeds),
        _optional(entry.average("dev_score")),
        count_text(entry.average("parameters")),
        duration_text(entry.average("train_seconds")),
        count_text(entry.average("train_tokens_per_second")),
        count_text(entry.average("eval_sentences_per_second")),
        _optional(entry.average("peak_memory_mb"), 0),
        runs_text(entry),
    ]


def headers(board: Board) -> list[str]:
    arrow = "↑" if board.higher_is_better else "↓"
    return [
        "#", "backbone", "config", f"test {board.metric} {arrow}", "95% CI", "seeds", "dev",
        "params", "train time", "train tok/s", "eval sent/s", "peak MB", "run",
    ]  # fmt: skip


def title(board: Board) -> str:
    data = f" (data {board.dataset_checksum[:8]})" if board.dataset_checksum else ""
    return f"{board.task} · {board.dataset}{data}"


def caption(board: Board) -> str:
    order = "higher is better" if board.higher_is_better else "lower is better"
    signature = "; ".join(board.signatures) or "no signature recorded"
    return f"ranked by test {board.metric} ({order}); {signature}"


FAILED_HEADERS = ["task", "dataset", "backbone", "status", "run", "error"]


def failed_cells(row: dict[str, Any]) -> list[str]:
    return [row["task"], row["dataset"], row["backbone"], row["status"], row["run_id"], row["error"] or ""]


# -- records (JSON, CSV) ---------------------------------------------------------------------
def entry_record(entry: Entry, rank: int) -> dict[str, Any]:
    return {
        "rank": rank,
        "backbone": entry.backbone,
        "config": entry.config_id,
        "seeds": entry.seeds,
        "test_mean": entry.mean,
        "test_std": entry.std,
        "test_scores": entry.scores,
        "ci_low": entry.interval[0] if entry.interval else None,
        "ci_high": entry.interval[1] if entry.interval else None,
        "dev_mean": entry.average("dev_score"),
        "parameters": entry.average("parameters"),
        "train_seconds": entry.average("train_seconds"),
        "train_tokens_per_second": entry.average("train_tokens_per_second"),
        "eval_sentences_per_second": entry.average("eval_sentences_per_second"),
        "peak_memory_mb": entry.average("peak_memory_mb"),
        "decoding": entry.decoding,
        "runs": entry.run_ids,
    }


def board_record(board: Board) -> dict[str, Any]:
    return {
        "task": board.task,
        "dataset": board.dataset,
        "dataset_checksum": board.dataset_checksum,
        "metric": board.metric,
        "higher_is_better": board.higher_is_better,
        "signatures": board.signatures,
        "entries": [entry_record(entry, rank) for rank, entry in enumerate(board.entries, 1)],
    }


def to_json(boards: Sequence[Board], failed: Sequence[dict[str, Any]]) -> str:
    data = {
        "boards": [board_record(board) for board in boards],
        "failed": [dict(zip(FAILED_HEADERS, failed_cells(row), strict=True)) for row in failed],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


CSV_FIELDS = [
    "task", "dataset", "dataset_checksum", "metric", "rank", "backbone", "config", "seeds",
    "test_mean", "test_std", "ci_low", "ci_high", "dev_mean", "parameters", "train_seconds",
    "train_tokens_per_second", "eval_sentences_per_second", "peak_memory_mb", "runs",
]  # fmt: skip


def to_csv(boards: Sequence[Board]) -> str:
    """One line per entry; failed runs are not in the CSV (it is for analysis)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for board in boards:
        for rank, entry in enumerate(board.entries, 1):
            record = entry_record(entry, rank)
            record.update(
                task=board.task,
                dataset=board.dataset,
                dataset_checksum=board.dataset_checksum,
                metric=board.metric,
                runs=" ".join(entry.run_ids),
            )
            writer.writerow(record)
    return buffer.getvalue()


# -- text ----------------------------------------------------------------------------------
def print_tables(boards: Sequence[Board], failed: Sequence[dict[str, Any]], console: Console) -> None:
    """Rich tables, one per board, then the failed runs."""
    if not boards and not failed:
        console.print("No runs recorded yet: train one with `nlpplat run` or `nlpplat bench`.")
    for board in boards:
        table = Table(*headers(board), title=title(board), caption=caption(board), title_justify="left")
        for rank, entry in enumerate(board.entries, 1):
            table.add_row(*cells(entry, rank))
        console.print(table)
    if failed:
        table = Table(*FAILED_HEADERS, title="runs that did not finish", title_justify="left")
        for row in failed:
            table.add_row(*failed_cells(row))
        console.print(table)


def to_markdown(boards: Sequence[Board], failed: Sequence[dict[str, Any]]) -> str:
    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(value.replace("|", "\\|") for value in values) + " |"

    parts = []
    for board in boards:
        parts += [f"### {title(board)}", "", caption(board), "", line(headers(board))]
        parts.append(line(["---"] * len(headers(board))))
        parts += [line(cells(entry, rank)) for rank, entry in enumerate(board.entries, 1)]
        parts.append("")
    if failed:
        parts += [
            "### Runs that did not finish",
            "",
            line(FAILED_HEADERS),
            line(["---"] * len(FAILED_HEADERS)),
        ]
        parts += [line(failed_cells(row)) for row in failed]
        parts.append("")
    return "\n".join(parts)


# -- HTML -------------------------------------------------------------------------------------
# Numeric sort keys per column (None: sort by text), in the order of headers().
def _sort_keys(entry: Entry, rank: int) -> list[float | None]:
    return [
        rank, None, None, entry.mean, entry.interval[0] if entry.interval else None, entry.seeds,
        entry.average("dev_score"), entry.average("parameters"), entry.average("train_seconds"),
        entry.average("train_tokens_per_second"), entry.average("eval_sentences_per_second"),
        entry.average("peak_memory_mb"), None,
    ]  # fmt: skip


COLUMN_KEYS = [
    "rank", "backbone", "config", "test", "ci", "seeds", "dev", "params", "train_time",
    "train_tps", "eval_sps", "memory", "run",
]  # fmt: skip

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { cursor: pointer; user-select: none; background: #f4f4f4; }
th[aria-sort=ascending]::after { content: " ▲"; } th[aria-sort=descending]::after { content: " ▼"; }
td:nth-child(2), td:nth-child(3), td:last-child, th:nth-child(2) { text-align: left; }
.caption { color: #666; font-size: 0.85em; } img { max-width: 100%; }
table.plain td, table.plain th { text-align: left; cursor: auto; }
"""

# Click a header to sort by it (again to reverse). A URL fragment such as
# #sort=<table id>:<column>:<asc|desc> sorts on load, which is how tests drive it.
SCRIPT = """
function sortTable(table, column, direction) {
  const body = table.tBodies[0], index = [...table.tHead.rows[0].cells].findIndex(
    (th) => th.dataset.key === column);
  if (index < 0) return;
  const value = (row) => {
    const cell = row.cells[index], key = cell.dataset.value;
    return key === undefined ? cell.textContent : parseFloat(key);
  };
  const rows = [...body.rows].sort((a, b) => {
    const x = value(a), y = value(b);
    const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return direction === "asc" ? order : -order;
  });
  rows.forEach((row) => body.appendChild(row));
  for (const th of table.tHead.rows[0].cells) th.removeAttribute("aria-sort");
  table.tHead.rows[0].cells[index].setAttribute("aria-sort", direction === "asc" ? "ascending" : "descending");
}
document.querySelectorAll("table.sortable").forEach((table) => {
  for (const th of table.tHead.rows[0].cells) {
    th.addEventListener("click", () => sortTable(table, th.dataset.key,
      th.getAttribute("aria-sort") === "ascending" ? "desc" : "asc"));
  }
});
const wanted = /^#sort=([^:]+):([^:]+):(asc|desc)$/.exec(decodeURIComponent(location.hash));
if (wanted) { const table = document.getElementById(wanted[1]); if (table) sortTable(table, wanted[2], wanted[3]); }
document.body.dataset.ready = "yes";
"""


def _plot(task: str, boards: Sequence[Board]) -> str:
    """Score against training time for one task, one panel per dataset; a base64 PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5 * len(boards), 3.6), layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes_list = figure.subplots(1, len(boards), squeeze=False)[0]
    for axes, board in zip(axes_list, boards, strict=True):
        backbones = sorted({entry.backbone for entry in board.entries})
        colours = {name: f"C{index % 10}" for index, name in enumerate(backbones)}
        for entry in board.entries:
            times = [row["train_seconds"] or 0.0 for row in entry.runs]
            axes.scatter(
                [t / 60 for t in times], entry.scores, color=colours[entry.backbone], s=18, alpha=0.6
            )
            low, high = entry.interval or (entry.mean, entry.mean)
            axes.errorbar(
                [(entry.average("train_seconds") or 0.0) / 60],
                [entry.mean],
                yerr=[[max(0.0, entry.mean - low)], [max(0.0, high - entry.mean)]],  # percentile bounds
                color=colours[entry.backbone],
                marker="D",
                capsize=3,
            )
        for name in backbones:
            axes.scatter([], [], color=colours[name], label=name)
        axes.set(xlabel="training time (minutes)", ylabel=f"test {board.metric}", title=title(board))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(f"{task}: score against training time (diamonds: mean with 95% CI)")
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def to_html(
    boards: Sequence[Board], failed: Sequence[dict[str, Any]], heading: str = "nlpplat leaderboard"
) -> str:
    escape = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(heading)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(heading)}</h1>",
    ]
    if not boards:
        parts.append("<p>No finished runs.</p>")
    tasks = sorted({board.task for board in boards})
    for task in tasks:
        task_boards = [board for board in boards if board.task == task]
        parts.append(f"<h2>{escape(task)}</h2>")
        for board in task_boards:
            parts.append(f"<h3>{escape(title(board))}</h3><p class=caption>{escape(caption(board))}</p>")
            parts.append(f'<table class="sortable" id="{escape(board.key)}"><thead><tr>')
            parts += [
                f'<th data-key="{key}">{escape(text)}</th>'
                for key, text in zip(COLUMN_KEYS, headers(board), strict=True)
            ]
            parts.append("</tr></thead><tbody>")
            for rank, entry in enumerate(board.entries, 1):
                parts.append(f'<tr data-runs="{escape(" ".join(entry.run_ids))}">')
                for text, key in zip(cells(entry, rank), _sort_keys(entry, rank), strict=True):
                    value = "" if key is None else f' data-value="{key!r}"'
                    parts.append(f"<td{value}>{escape(text)}</td>")
                parts.append("</tr>")
            parts.append("</tbody></table>")
        image = _plot(task, task_boards)
        parts.append(
            f'<img alt="{escape(task)}: score against training time" src="data:image/png;base64,{image}">'
        )
    if failed:
        parts.append('<h2>Runs that did not finish</h2><table class="plain"><thead><tr>')
        parts += [f"<th>{escape(text)}</th>" for text in FAILED_HEADERS]
        parts.append("</tr></thead><tbody>")
        for row in failed:
            parts.append("<tr>" + "".join(f"<td>{escape(text)}</td>" for text in failed_cells(row)) + "</tr>")
        parts.append("</tbody></table>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def render(boards: Sequence[Board], failed: Sequence[dict[str, Any]], fmt: str) -> str:
    """``boards`` (and the failed runs) in ``fmt``; "table" is plain text without colour."""
    if fmt == "markdown":
        return to_markdown(boards, failed)
    if fmt == "json":
        return to_json(boards, failed)
    if fmt == "csv":
        return to_csv(boards)
    if fmt == "html":
        return to_html(boards, failed)
    buffer = io.StringIO()
    print_tables(boards, failed, Console(file=buffer, width=200, no_color=True, force_terminal=False))
    return buffer.getvalue()
