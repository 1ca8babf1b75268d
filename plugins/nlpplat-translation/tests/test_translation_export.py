"""``nlpplat export ctranslate2``: the same weights in CTranslate2 give the same greedy translations.

Skipped when CTranslate2 (an optional extra) is not installed.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlpplat.cli import cli
from nlpplat.runs import load_run
from nlpplat.training import default_registry

ctranslate2 = pytest.importorskip("ctranslate2")


@pytest.fixture(scope="module")
def transformer_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NLPPLAT_CACHE", str(folder / "cache"))
        patch.setenv("NLPPLAT_DB", str(folder / "board.sqlite"))
        small = ["backbone.d_model=32", "backbone.heads=2", "backbone.layers=2", "backbone.ff=64"]
        small += [
            "embeddings.word_dim=32",
            "train.batch_tokens=800",
            "train.threads=1",
            "task.decoding=greedy",
        ]
        command = [
            "run",
            "--task",
            "translation",
            "--backbone",
            "transformer",
            "--dataset",
            "demo",
            "--epochs",
            "1",
        ]
        command += ["--output", str(folder / "run"), *[part for s in small for part in ("--set", s)]]
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, result.output
    return folder / "run"


def test_export_gives_the_same_greedy_translations(transformer_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", "ctranslate2", str(transformer_run), "--output", str(tmp_path / "ct2")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ct2" / "model.bin").is_file()
    loaded = load_run(transformer_run, default_registry())
    task = loaded.task
    examples = task.read(transformer_run.parent / "cache" / "datasets" / "translation-demo" / "dev.en")[:12]
    ours = loaded.predict(examples)
    translator = ctranslate2.Translator(str(tmp_path / "ct2"), device="cpu", intra_threads=1)
    settings = task.config
    for example, translation in zip(examples, ours, strict=True):
        pieces = task.tokens(example)
        # Our limit counts EOS; CTranslate2's max_decoding_length does not.
        limit = math.ceil(settings.max_length_ratio * len(pieces) + settings.max_length_offset) - 1
        [theirs] = translator.translate_batch([pieces], beam_size=1, max_decoding_length=limit)
        assert task.subwords.target.decode(theirs.hypotheses[0]) == translation


def test_only_transformer_translation_runs_export(tmp_path: Path) -> None:
    from nlpplat.errors import NlpplatError
    from nlpplat_translation.export import export_ctranslate2

    with pytest.raises(NlpplatError, match=r"no config\.toml"):
        export_ctranslate2(tmp_path, tmp_path / "out", default_registry())
