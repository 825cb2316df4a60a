"""The queue's edits in the log (aggregator/core/queue_edit.py): any change made from the edit, only
the ids that left, joined or moved named, and the console's copy (state.js) run on the same
cases (tests/js/fixtures/queue_edits.json)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from aggregator.core import queue_edit

CASES = json.loads((Path(__file__).parent / "js" / "fixtures" / "queue_edits.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_shared_cases_are_what_the_server_writes(case: dict) -> None:
    edit = json.loads(json.dumps(queue_edit.diff(case["before"], case["after"])))  # as logged
    assert edit == case["edit"]
    assert queue_edit.apply(case["before"], edit) == case["after"]


def test_any_change_is_made_again_from_its_edit() -> None:
    rng = random.Random(13)
    pool = [f"x:{n}" for n in range(30)]
    for _ in range(3000):
        before = rng.sample(pool, rng.randint(0, 15))
        after = rng.sample(pool, rng.randint(0, 15)) if rng.random() < 0.2 else list(before)
        for _ in range(rng.randint(0, 3)):
            if after and rng.random() < 0.5:
                after.insert(rng.randint(0, len(after) - 1), after.pop(rng.randrange(len(after))))
            elif missing := [qid for qid in pool if qid not in after]:
                after.insert(rng.randint(0, len(after)), rng.choice(missing))
        assert queue_edit.apply(before, queue_edit.diff(before, after)) == after


def test_one_card_moved_in_a_long_queue_names_only_that_card() -> None:
    before = [f"x:{n}" for n in range(5000)]
    for origin, target in ((10, 4000), (4000, 10), (0, 4999), (4999, 0)):
        after = list(before)
        after.insert(target, after.pop(origin))
        assert queue_edit.diff(before, after) == {
            "drop": [before[origin]], "put": [(target, before[origin])], "length": 5000}
    assert queue_edit.diff(before, [*before, "x:new"])["put"] == [(5000, "x:new")]
    assert queue_edit.diff(before, before[1:]) == {"drop": ["x:0"], "put": [], "length": 4999}


def test_an_edit_made_from_another_queue_is_refused() -> None:
    edit = queue_edit.diff(["x:1", "x:2"], ["x:2", "x:3"])
    with pytest.raises(ValueError, match="expects 2 ids, the queue has 3"):
        queue_edit.apply(["x:1", "x:2", "x:4"], edit)
