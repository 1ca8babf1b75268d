"""The command line end to end, on the first-party plugins and generated data."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlpplat.cli import cli
from nlpplat.errors import DataWarning
from nlpplat.leaderboard import Leaderboard


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short lstm run on the generated demo set, shared by the tests below."""
    folder = tmp_path_factory.mktemp("demo-run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NLPPLAT_CACHE", str(folder / "cache"))
        patch.delenv("NLPPLAT_DATA_DIR", raising=False)
        code, _, err = invoke(
            "run", "--task", "ner", "--backbone", "lstm", "--dataset", "demo", "--epochs", "6",
            "--output", str(folder / "run"), "--db", str(folder / "board.sqlite"),
            "--set", "backbone.hidden=64", "--set", "train.lr=0.005",
        )  # fmt: skip
    assert code == 0, err
    return folder / "run"


def test_run_trains_a_working_recogniser(demo_run: Path) -> None:
    results = json.loads((demo_run / "results.json").read_text())
    assert results["dataset"] == "demo" and results["backbone"] == "lstm"
    assert results["test"]["f1"] > 60  # the demo is easy: a broken pipeline scores near 0
    assert results["metric_signature"].startswith("seqeval=")
    assert (demo_run / "predictions.test.conll").read_text().count("\n\n") >= 150
    assert len(Leaderboard(demo_run.parent / "board.sqlite").rows(task="ner")) == 1


def test_predict_returns_entities_with_offsets(demo_run: Path) -> None:
    text = "Yesterday John Smith flew to Berlin ."
    code, out, err = invoke("predict", str(demo_run), text)
    assert code == 0, err
    [sentence] = json.loads(out)
    for entity in sentence["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]


def test_evaluate_reports_metrics(demo_run: Path) -> None:
    code, out, err = invoke("evaluate", str(demo_run), "--json")
    assert code == 0, err
    results = json.loads((demo_run / "results.json").read_text())
    assert json.loads(out)["f1"] == pytest.approx(results["test"]["f1"])


def test_evaluate_and_predict_change_only_task_and_train_settings(demo_run: Path) -> None:
    code, out, err = invoke("evaluate", str(demo_run), "--json", "--set", "train.eval_batch_size=3")
    assert code == 0, err
    results = json.loads((demo_run / "results.json").read_text())
    assert json.loads(out)["f1"] == pytest.approx(results["test"]["f1"])
    code, _, err = invoke("predict", str(demo_run), "Hi .", "--set", "backbone.hidden=8")
    assert code == 1 and "backbone settings are fixed by its weights" in err
    assert len(err.strip().splitlines()) == 1
    # A task setting that builds another head (no CRF) cannot take the run's weights: one line.
    code, _, err = invoke("evaluate", str(demo_run), "--set", "task.head=softmax")
    assert code == 1 and "do not fit the model" in err and len(err.strip().splitlines()) == 1


def test_unknown_backbone_is_one_line_listing_the_available_ones() -> None:
    code, _, err = invoke("run", "--task", "ner", "--backbone", "lstmm")
    assert code == 1
    assert err.strip() == "Error: No backbone named 'lstmm'. Available: lstm, rnn, transformer."


def test_unknown_dataset_lists_the_task_datasets() -> None:
    code, _, err = invoke("run", "--task", "ner", "--backbone", "lstm", "--dataset", "conll2030")
    assert (
        code == 1 and "Available: conll2003, demo, uner-en-ewt." in err and len(err.strip().splitlines()) == 1
    )


def test_missing_conll2003_explains_the_manual_import() -> None:
    code, _, err = invoke("run", "--task", "ner", "--backbone", "lstm", "--dataset", "conll2003")
    assert code == 1
    assert "missing train.conll.gz, dev.conll, test.conll" in err and "eng.testa" in err
    assert "Traceback" not in err


def test_malformed_data_is_reported_with_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "good.conll"
    good.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n")
    bad = tmp_path / "bad.conll"
    bad.write_text("EU NNP B-NP B-ORG\nrejects VBZ O\n\n")
    code, _, err = invoke(
        "run",
        "--task",
        "ner",
        "--backbone",
        "lstm",
        "--train",
        str(good),
        "--dev",
        str(bad),
        "--test",
        str(good),
    )
    assert code == 1
    assert err.startswith(f"Error: {bad}:2: ") and "Traceback" not in err


def test_a_data_warning_is_one_line_naming_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert invoke("tasks")[0] == 0  # the CLI sets the format for the rest of the process
        warnings.warn("data.txt:3: an odd line, kept", DataWarning, stacklevel=1)
    assert capsys.readouterr().err == "warning: data.txt:3: an odd line, kept\n"  # no code line


def test_listing_commands(demo_run: Path) -> None:
    assert "transformer" in invoke("backbones")[1]
    assert "ner" in invoke("tasks")[1]
    assert "conll2003" in invoke("datasets")[1]
    code, out, _ = invoke("plugins", "--json")
    assert code == 0
    statuses = {status["name"]: status for status in json.loads(out)}
    assert (
        statuses["ner"]["registered"]["task"] == ["ner"] and statuses["rnn"]["distribution"] == "nlpplat-rnn"
    )
