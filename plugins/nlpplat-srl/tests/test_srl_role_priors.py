"""Role priors: the roles a lemma takes in training, each sentence counting for the other half."""

from __future__ import annotations

from pathlib import Path

import pytest
from srl_samples import word

from nlpplat_srl.conllu import Sentence
from nlpplat_srl.instances import Instance
from nlpplat_srl.role_priors import half
from nlpplat_srl.task import SRLConfig, SRLTask

NAMES = ("Anna", "Boris", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Jun")


def intransitive(name: str, form: str, lemma: str, role: str) -> list[str]:
    """'<name> <form> .' with ``<name>`` the ``role`` of ``<lemma>.01``."""
    return [
        word(1, name, name, "PROPN", 2, "nsubj", "_", role),
        word(2, form, lemma, "VERB", 0, "root", f"{lemma}.01", "V"),
        word(3, ".", ".", "PUNCT", 2, "punct", "_", "_"),
        "",
    ]


def one_per_half(form: str) -> tuple[str, str]:
    """Two names whose sentences '<name> <form> .' fall in different halves."""
    return tuple(next(n for n in NAMES if half([n, form, "."]) == part) for part in (0, 1))  # type: ignore[return-value]


@pytest.fixture
def training(tmp_path: Path) -> Path:
    """'arrive' in each half (ARG1 subjects), 'sleep' in each half (no argument), 'eat' once (ARG0)."""
    lines = []
    for name in one_per_half("arrived"):
        lines += intransitive(name, "arrived", "arrive", "ARG1")
    for name in one_per_half("slept"):
        lines += intransitive(name, "slept", "sleep", "_")
    lines += intransitive("Kim", "ate", "eat", "ARG0")
    path = tmp_path / "train.conllu"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def fitted(path: Path) -> tuple[SRLTask, list[Instance]]:
    task = SRLTask(SRLConfig(role_prior=True))
    examples = task.read(path)
    task.fit(examples)
    return task, [e for e in examples if e.position is not None]


def prior(task: SRLTask, instance: Instance) -> list[float]:
    return task.role_priors.prior(instance)


def test_a_predicate_reads_the_roles_of_the_other_half_never_its_own(training: Path) -> None:
    task, (*arrive, sleep_a, sleep_b, eat) = fitted(training)
    assert task.tags == ["O", "B-ARG0", "B-ARG1"]
    # each 'arrived' sentence reads the other one: ARG1, never ARG0, from one predicate (1 / 2)
    assert prior(task, arrive[0]) == prior(task, arrive[1]) == [0.0, 0.0, 1.0, 0.5]
    # a predicate without arguments counts for O
    assert prior(task, sleep_a) == prior(task, sleep_b) == [1.0, 0.0, 0.0, 0.5]
    # 'eat' occurs once: its own sentence holds the only counts, so it reads nothing
    assert prior(task, eat) == [0.0, 0.0, 0.0, 0.0]


def test_raw_text_finds_the_lemma_through_the_form(training: Path) -> None:
    task, _ = fitted(training)
    for name in one_per_half("arrived"):  # whichever half a new sentence falls in
        raw = Instance(Sentence.from_tokens([name, "arrived", "."]), position=1)
        assert prior(task, raw) == [0.0, 0.0, 1.0, 0.5]


def test_priors_survive_a_save_and_a_load(training: Path) -> None:
    task, examples = fitted(training)
    restored = SRLTask(SRLConfig())
    restored.load_state_dict(task.state_dict())
    assert restored.config.role_prior
    assert [prior(restored, e) for e in examples] == [prior(task, e) for e in examples]
    state = task.state_dict()
    del state["role_prior"], state["role_priors"]  # a run saved before role priors
    old = SRLTask(SRLConfig(role_prior=True))
    old.load_state_dict(state)
    assert not old.config.role_prior
    assert old.build_head(12).argument[0].in_features == 2 * 12
