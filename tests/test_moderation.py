"""The moderators' state machine: each action atomic, versioned, and the log always the truth."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aggregator.actions import ACTIONS
from aggregator.keys import Keys
from aggregator.moderation import Moderation, Refused
from aggregator.normalise import normalise
from aggregator.question import Post
from aggregator.redis_server import client_from_url
from aggregator.store import Store


def seed(store: Store, count: int) -> list[str]:
    posts = [(normalise(Post("yt", f"m{i}", f"Question number {i}?", "Viewer")), {})
             for i in range(count)]
    return store.ingest("youtube", posts)


@pytest.fixture
def mod(conn: redis.Redis, event: str) -> Moderation:
    return Moderation(conn, event)


def version(store: Store, qid: str) -> int:
    question = store.question(qid)
    assert question is not None
    return question.version


def test_approve_screen_answer_and_the_queue(store: Store, mod: Moderation) -> None:
    a, b, c = seed(store, 3)
    for qid in (a, b, c):
        mod.apply("approve", qid, 1, "sam")
    assert store.snapshot().queue == [a, b, c]
    mod.apply("screen", a, 2, "kim")
    mod.apply("screen", b, 2, "kim", then="queue")  # a goes back to the front of the queue
    snap = store.snapshot()
    assert (snap.screen, snap.queue) == (b, [a, c])
    mod.apply("answer", b, version(store, b), "kim")
    assert store.snapshot().screen is None
    assert store.question(b).state == "answered"


def test_stale_versions_are_refused_naming_who_acted_first(store: Store, mod: Moderation) -> None:
    (qid,) = seed(store, 1)
    mod.apply("approve", qid, 1, "sam")
    with pytest.raises(Refused, match=r"^sam approved this question first \(it is now approved\)"):
        mod.apply("reject", qid, 1, "kim", reason="off topic")
    assert store.question(qid).state == "approved"


def test_reject_needs_a_reason_and_keeps_it(store: Store, mod: Moderation) -> None:
    (qid,) = seed(store, 1)
    with pytest.raises(Refused, match="say why"):
        mod.apply("reject", qid, 1, "sam")
    entry_id = mod.apply("reject", qid, 1, "sam", reason="abusive")
    question = store.question(qid)
    assert (question.state, question.reject_reason) == ("rejected", "abusive")
    (entry,) = store.log_after(store.log_after()[0].id)
    assert (entry.id, entry.type, entry.actor, entry.extra["reason"]) == (
        entry_id, "reject", "sam", "abusive")


def test_edit_keeps_the_original_and_undo_restores(store: Store, mod: Moderation) -> None:
    (qid,) = seed(store, 1)
    mod.apply("edit", qid, 1, "sam", text="  What is <b>the</b> plan?  ")
    question = store.question(qid)
    assert (question.text, question.original) == ("What is the plan?", "Question number 0?")
    assert store.log_after()[-1].extra["previous"] == "Question number 0?"
    with pytest.raises(Refused, match="cannot be empty"):
        mod.apply("edit", qid, 2, "sam", text="<p></p>")
    mod.apply("undo", qid, 2, "kim")
    assert store.question(qid).text == "Question number 0?"
    with pytest.raises(Refused, match="nothing to undo"):
        mod.apply("undo", qid, 3, "kim")


def test_grouping_counts_askers_and_undo_ungroups(store: Store, mod: Moderation) -> None:
    a, b, c = seed(store, 3)
    mod.apply("approve", b, 1, "sam")
    mod.apply("group", b, 2, "sam", parent=a)
    mod.apply("group", c, 1, "sam", parent=a)
    assert store.question(a).asked_by == 3
    assert store.snapshot().queue == []
    with pytest.raises(Refused, match="under itself"):
        mod.apply("group", a, version(store, a), "sam", parent=a)
    mod.apply("undo", b, 3, "kim")
    assert (store.question(a).asked_by, store.question(b).state) == (2, "approved")
    assert store.snapshot().queue == [b]


def test_groups_stay_one_level_deep_so_counts_stay_true(store: Store, mod: Moderation) -> None:
    a, b, c = seed(store, 3)
    mod.apply("group", c, 1, "sam", parent=b)  # b asked by 2
    with pytest.raises(Refused, match="has duplicates grouped under it"):
        mod.apply("group", b, version(store, b), "sam", parent=a)
    with pytest.raises(Refused, match="cannot group under a question that is grouped"):
        mod.apply("group", a, 1, "sam", parent=c)
    mod.apply("undo", c, version(store, c), "sam")
    assert [store.question(q).asked_by for q in (a, b, c)] == [1, 1, 1]


def test_reorder_and_clear_screen(store: Store, mod: Moderation) -> None:
    a, b, c = seed(store, 3)
    for qid in (a, b, c):
        mod.apply("approve", qid, 1, "sam")
    mod.apply("reorder", c, 2, "sam", index=0)
    assert store.snapshot().queue == [c, a, b]
    with pytest.raises(Refused, match="where in the queue"):
        mod.apply("reorder", a, 2, "sam", index="top")
    mod.apply("screen", c, 3, "sam")
    mod.apply("star", c, 4, "kim")
    mod.clear_screen("kim")  # whatever version anyone saw
    snap = store.snapshot()
    assert (snap.screen, snap.queue) == (None, [c, a, b])
    with pytest.raises(Refused, match="already clear"):
        mod.clear_screen("kim")


def test_undo_cannot_put_a_second_question_on_screen(store: Store, mod: Moderation) -> None:
    a, b = seed(store, 2)
    mod.apply("screen", a, 1, "sam")
    mod.apply("screen", b, 1, "sam")  # a -> answered
    mod.apply("undo", b, 2, "sam")  # b back to new, screen clear
    mod.apply("screen", b, 3, "sam")
    with pytest.raises(Refused, match="another question is on screen"):
        mod.apply("undo", a, version(store, a), "sam")  # a's last step was leaving the screen


def test_retract_rejects_unshown_questions_once(store: Store, mod: Moderation) -> None:
    a, b = seed(store, 2)
    mod.apply("screen", b, 1, "sam")
    assert mod.retract(a, "source:youtube") is not None
    assert mod.retract(a, "source:youtube") is None
    assert mod.retract("yt:never-seen", "source:youtube") is None
    mod.retract(b, "source:youtube")
    assert store.question(a).state == "rejected"
    assert store.question(a).reject_reason == "deleted by its author"
    assert (store.question(b).state, "deleted" in store.question(b).flags) == ("on_screen", True)


def test_racing_moderators_apply_exactly_one_action(store: Store, mod: Moderation) -> None:
    (qid,) = seed(store, 1)
    outcomes: list[str] = []

    def act(who: str, action: str) -> None:
        try:
            mod.apply(action, qid, 1, who, reason="off topic")
            outcomes.append("applied")
        except Refused:
            outcomes.append("refused")

    threads = [threading.Thread(target=act, args=(f"m{i}", ("approve", "reject")[i % 2]))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["applied"] + ["refused"] * 7
    assert len(store.log_after()) == 2  # received + the one applied action


ROUNDS = 150


def _state_invariants(store: Store) -> None:
    snap = store.snapshot()
    by_id = {q["id"]: q for q in snap.questions}
    on_screen = [q for q in by_id if by_id[q]["state"] == "on_screen"]
    assert len(on_screen) <= 1, "two questions on screen"
    assert snap.screen == (on_screen[0] if on_screen else None)
    approved = {q for q in by_id if by_id[q]["state"] == "approved"}
    assert len(snap.queue) == len(set(snap.queue)) and set(snap.queue) == approved


def test_screening_and_clearing_at_once_never_drops_an_action(
        store: Store, mod: Moderation) -> None:
    """Two moderators screen different questions while a third clears the screen: every call
    is applied or refused in words, never lost to an error, and the queue and screen stay true."""
    errors: list[BaseException] = []
    applied = 0
    lock = threading.Lock()

    def call(barrier: threading.Barrier, action: Any) -> None:
        nonlocal applied
        barrier.wait()
        try:
            action()
        except Refused:
            return
        except Exception as exc:  # noqa: BLE001 - the test's point: report any other error
            with lock:
                errors.append(exc)
            return
        with lock:
            applied += 1

    for round_ in range(ROUNDS):
        # Two fresh approved questions each round; the last round's question may be on screen.
        a, b = store.ingest("youtube", [
            (normalise(Post("yt", f"r{round_}-{n}", f"Round {round_} question {n}?", "V")), {})
            for n in (0, 1)])
        mod.apply("approve", a, 1, "sam")
        mod.apply("approve", b, 1, "sam")
        then = ("answered", "queue")[round_ % 2]
        barrier = threading.Barrier(3)
        threads = [
            threading.Thread(target=call, args=(barrier, lambda q=a, t=then: mod.apply(
                "screen", q, 2, "ana", then=t))),
            threading.Thread(target=call, args=(barrier, lambda q=b, t=then: mod.apply(
                "screen", q, 2, "ben", then=t))),
            threading.Thread(target=call, args=(barrier, lambda: mod.clear_screen("cai"))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, f"round {round_}: {errors[0]!r}"
        _state_invariants(store)
    assert applied >= ROUNDS  # at least one of each round's three calls applies


class ModeratorsAtWork(RuleBasedStateMachine):
    """Several moderators with stale views act in any order; the invariants always hold."""

    QUESTIONS = 5
    MODERATORS = ("ana", "ben", "cai")

    def __init__(self) -> None:
        super().__init__()
        self.conn = client_from_url(ModeratorsAtWork.redis_url)
        self.event = "t-sm-" + uuid.uuid4().hex[:10]
        self.store = Store(self.conn, self.event)
        self.mod = Moderation(self.conn, self.event)
        self.views: dict[str, dict[str, int]] = {}

    @initialize()
    def seed(self) -> None:
        self.qids = seed(self.store, self.QUESTIONS)
        for name in self.MODERATORS:
            self.refresh(name)

    @rule(name=st.sampled_from(MODERATORS))
    def refresh(self, name: str) -> None:
        self.views[name] = {q["id"]: q["version"] for q in self.store.snapshot().questions}

    @precondition(lambda self: hasattr(self, "qids"))
    @rule(name=st.sampled_from(MODERATORS), action=st.sampled_from(sorted(ACTIONS)),
          index=st.integers(0, QUESTIONS - 1), other=st.integers(0, QUESTIONS - 1),
          then=st.sampled_from(["answered", "queue"]), position=st.integers(-1, QUESTIONS))
    def act(self, name: str, action: str, index: int, other: int, then: str,
            position: int) -> None:
        qid = self.qids[index]
        seen = self.views[name][qid]
        params: dict[str, Any] = {"reason": "off topic", "text": f"Edited by {name}?",
                                  "parent": self.qids[other], "index": position, "then": then}
        fresh = self.store.question(qid).version == seen
        try:
            self.mod.apply(action, qid, seen, name, **params)
        except Refused as exc:
            assert fresh or "first" in str(exc), "a fresh action was refused as stale"
        else:
            assert fresh, "a stale action was applied"

    @precondition(lambda self: hasattr(self, "qids"))
    @rule(name=st.sampled_from(MODERATORS))
    def clear(self, name: str) -> None:
        try:
            self.mod.clear_screen(name)
        except Refused:
            assert self.store.snapshot().screen is None

    @invariant()
    def nothing_lost_one_screen_queue_true(self) -> None:
        if not hasattr(self, "qids"):
            return
        snap = self.store.snapshot()
        by_id = {q["id"]: q for q in snap.questions}
        assert sorted(by_id) == sorted(self.qids), "a question was lost"
        on_screen = [q for q in by_id if by_id[q]["state"] == "on_screen"]
        assert len(on_screen) <= 1, "two questions on screen"
        assert snap.screen == (on_screen[0] if on_screen else None)
        approved = {q for q in by_id if by_id[q]["state"] == "approved"}
        assert len(snap.queue) == len(set(snap.queue)) and set(snap.queue) == approved
        for q in by_id.values():
            children = [c for c in by_id.values()
                        if c["state"] == "grouped" and c["parent"] == q["id"]]
            assert q["asked_by"] == 1 + sum(c["asked_by"] for c in children)

    @invariant()
    def the_log_replays_to_the_projection(self) -> None:
        if not hasattr(self, "qids"):
            return
        replayed: dict[str, dict[str, Any]] = {}
        queue: list[str] = []
        screen = None
        for entry in self.store.log_after():
            for q in entry.qs:
                replayed[q["id"]] = q
            queue = entry.extra.get("queue", queue)
            screen = entry.extra.get("screen", screen)
        snap = self.store.snapshot()
        assert replayed == {q["id"]: q for q in snap.questions}
        assert queue == snap.queue and (screen or None) == snap.screen

    def teardown(self) -> None:
        keys = list(self.conn.scan_iter(Keys(self.event).pattern))
        if keys:
            self.conn.delete(*keys)
        self.conn.close()


@pytest.mark.slow
def test_no_sequence_of_actions_breaks_the_rules(redis_url: str) -> None:
    ModeratorsAtWork.redis_url = redis_url  # type: ignore[attr-defined]
    runner = ModeratorsAtWork.TestCase
    runner.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                               suppress_health_check=[HealthCheck.too_slow])
    runner().runTest()
