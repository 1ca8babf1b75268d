"""Talking with a trained ``dialogue`` run: the loop behind ``nlpplat chat RUN_DIR``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from nlpplat.errors import NlpplatError
from nlpplat.runs import LoadedRun
from nlpplat_dialogue.reader import Dialogue
from nlpplat_dialogue.task import DialogueTask, Exchange

HELP = "Type a message; /reset starts a new conversation, /quit (or end of input) stops."


def converse(run: LoadedRun, lines: Iterable[str], say: Callable[[str], None]) -> list[str]:
    """Answer each line of ``lines`` in turn, keeping the conversation; return its turns.

    ``/reset`` forgets the conversation, ``/quit`` ends it. The user's text is split into
    tokens as the training data was (spaCy), and the model reads its last turns as it
    was trained to (``task.context_turns``, ``task.context_tokens``).
    """
    task = run.task
    if not isinstance(task, DialogueTask):
        raise NlpplatError(f"{run.run_dir} is a {run.config.run.task!r} run; chat needs a 'dialogue' run")
    history: list[str] = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if text == "/quit":
            break
        if text == "/reset":
            history.clear()
            say("(new conversation)")
            continue
        history.extend(task.parse_text(text).turns)
        [reply] = run.predict([Exchange(Dialogue(tuple(history)), len(history))])
        history.append(reply.text)
        say(reply.text)
    return history


def prompted_lines(prompt: str = "you> ") -> Iterator[str]:
    """Lines typed at the terminal, until end of input (Ctrl-D) or Ctrl-C."""
    while True:
        try:
            yield input(prompt)
        except (EOFError, KeyboardInterrupt):
            return
