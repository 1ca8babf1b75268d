"""The ner task and its datasets, checked with nlpplat's conformance kit."""

import os
from pathlib import Path

import pytest

import nlpplat_ner.plugin
from nlpplat import testing
from nlpplat_ner.datasets import CONLL2003, DEMO, UNER_EN_EWT
from nlpplat_ner.task import NERConfig, NERTask

# IOB1 like CoNLL-2003: four columns, sentences of different lengths, one of one token.
SAMPLE = """\
-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
to TO B-VP O
boycott VB I-VP O
British JJ B-NP I-MISC
lamb NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

BRUSSELS NNP B-NP I-LOC

Anna NNP B-NP I-PER
met VBD B-VP O
Bo NNP B-NP I-PER
Li NNP I-NP I-PER
and CC O O
Carl NNP B-NP I-PER
in IN B-PP O
New NNP B-NP I-LOC
York NNP I-NP I-LOC
. . O O
"""

MIRROR = Path(os.environ.get("NLPPLAT_DATA_DIR") or Path(__file__).resolve().parents[4] / "shared" / "data")


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.conll"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_task_conforms(sample: Path, head: str) -> None:
    testing.check_task(
        NERTask,
        sample,
        gold=lambda sentence: sentence.tags,
        config=NERConfig(head=head),
        text="Angela Merkel visited Paris. She met Emmanuel Macron.",
    )


def test_demo_dataset_conforms() -> None:
    testing.check_dataset(DEMO, task_cls=NERTask)


@pytest.mark.parametrize("spec", [CONLL2003, UNER_EN_EWT], ids=lambda spec: spec.name)
def test_real_dataset_specs_are_valid(spec) -> None:
    testing.check_dataset_spec(spec, NERTask)


@pytest.mark.parametrize("spec", [CONLL2003, UNER_EN_EWT], ids=lambda spec: spec.name)
def test_real_datasets_resolve_in_the_mirror(spec) -> None:
    if not (MIRROR / spec.folder).is_dir():
        pytest.skip(f"no {spec.folder}/ in the data mirror {MIRROR}")
    testing.check_dataset_files(spec, mirror=MIRROR, task_cls=NERTask)


def test_plugin_registers_the_task_and_its_datasets() -> None:
    testing.check_plugin(nlpplat_ner.plugin, tasks=["ner"], datasets=["conll2003", "uner-en-ewt", "demo"])
