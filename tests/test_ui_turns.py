"""Answers in the app take turns at the model, in arrival order, while searching runs for everyone."""

from __future__ import annotations

import itertools
import threading

from assistant.answer import Event
from assistant.ui import ModelTurns, taking_turns


def answer_events(name: str, hold: threading.Event | None = None):
    """The events an answer produces: passages, then the model's part (held until `hold` is set)."""
    yield Event("passages", name)
    yield Event("status", "writing the answer")
    if hold is not None:
        assert hold.wait(10)
    yield Event("answer", name)


def kinds(events) -> list[str]:
    return [e.kind for e in events]


def test_an_answer_waits_for_the_model_but_not_for_its_passages():
    turns, hold = ModelTurns(), threading.Event()
    first = taking_turns(answer_events("first", hold), turns)
    assert kinds(itertools.islice(first, 2)) == ["passages", "status"]  # the model is free: no wait

    second = taking_turns(answer_events("second"), turns)
    assert next(second).data == "second"  # its passages, while the first answer holds the model
    waiting = next(second)
    assert waiting.kind == "waiting" and waiting.data == 1  # one answer ahead

    finishing = threading.Thread(target=lambda: (hold.set(), list(first)))
    finishing.start()
    rest = list(second)  # goes on once the first answer is done
    finishing.join()
    assert [k for k in kinds(rest) if k != "waiting"] == ["status", "answer"]
    assert rest[-1].data == "second"


def test_a_stopped_answer_leaves_the_line():
    turns, hold = ModelTurns(), threading.Event()
    first = taking_turns(answer_events("first", hold), turns)
    list(itertools.islice(first, 2))
    second = taking_turns(answer_events("second"), turns)
    third = taking_turns(answer_events("third"), turns)
    list(itertools.islice(second, 2))
    assert kinds(itertools.islice(third, 2)) == ["passages", "waiting"]
    second.close()  # Stop pressed while waiting
    assert next(third).data == 1  # now only the first answer is ahead
    first.close()  # Stop pressed while writing
    assert [k for k in kinds(third) if k != "waiting"] == ["status", "answer"]
