"""The store: each post once, batches and checkpoints together, snapshot + log = the truth."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, defaultdict
from datetime import datetime

import pytest
import redis

from aggregator.core.columns import PageError, millis
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import DeadLetter, LogEntry, Store


def questions(*ids: str) -> list[tuple]:
    return [(normalise(Post("fb", i, f"Question {i}?", "Ann")), {"id": i, "raw": True})
            for i in ids]


def test_a_post_seen_twice_is_stored_once(store: Store) -> None:
    assert store.ingest("facebook", questions("1", "2"), checkpoint="a") == ["fb:1", "fb:2"]
    assert store.ingest("facebook", questions("2", "3", "3"), checkpoint="b") == ["fb:3"]
    assert store.question_ids() == ["fb:1", "fb:2", "fb:3"]
    received = [e.qid for e in store.log_after() if e.type == "received"]
    assert received == ["fb:1", "fb:2", "fb:3"]
    assert store.checkpoint("facebook") == "b"
    assert store.raw("fb:3") == {"id": "3", "raw": True}


def test_checkpoint_none_keeps_the_old_one(store: Store) -> None:
    store.ingest("x", [], checkpoint="17")
    store.ingest("x", questions("4"))
    assert store.checkpoint("x") == "17"
    assert store.checkpoint("instagram") is None


def test_dead_letters_are_kept_once_with_raw_and_reason(store: Store) -> None:
    letter = DeadLetter("x", "field 'text': expected text, got int", {"id": "9", "text": 5})
    store.ingest("x", [], [letter], checkpoint="1")
    store.ingest("x", [], [letter], checkpoint="1")  # a replay
    (record,) = store.dead_letters()
    assert record["reason"] == "field 'text': expected text, got int"
    assert json.loads(record["raw"]) == {"id": "9", "text": 5}


def test_the_checkpoint_never_moves_without_its_batch(store: Store, conn: redis.Redis) -> None:
    """Redis does not roll a failed script back, so the checkpoint is its last write: a batch
    that fails part-way leaves the old checkpoint, and the replay stores nothing twice."""
    conn.set(store.keys.checkpoints, "not a hash")  # makes the script's last step fail
    with pytest.raises(redis.ResponseError):
        store.ingest("x", questions("1"), checkpoint="5")
    conn.delete(store.keys.checkpoints)
    assert store.checkpoint("x") is None
    assert store.ingest("x", questions("1"), checkpoint="5") == []
    assert store.checkpoint("x") == "5"
    assert store.question_ids() == ["fb:1"]
    assert [e.type for e in store.log_after()] == ["received"]


def test_snapshot_then_log_after_is_the_truth(store: Store) -> None:
    store.ingest("x", questions("1"))
    snap = store.snapshot()
    store.ingest("x", questions("2"))
    later = store.log_after(snap.last_id)
    assert [q["id"] for q in snap.questions] == ["fb:1"]
    assert [e.qid for e in later] == ["fb:2"]
    assert later[0].qs[0]["text"] == "Question 2?"
    assert store.log_after(later[-1].id) == []


def test_two_events_never_mix(conn: redis.Redis, store: Store) -> None:
    other = Store(conn, store.keys.event + "-other")
    store.ingest("x", questions("1"))
    try:
        assert other.question_ids() == []
        assert other.question("fb:1") is None
    finally:
        for key in conn.scan_iter(other.keys.pattern):
            conn.delete(key)


def test_a_dead_letter_is_kept_whole_whatever_its_payload(store: Store, monkeypatch:
                                                          pytest.MonkeyPatch) -> None:
    """Payloads from SDKs carry dates and accents; each is kept as text, under an id made of its
    source and a digest of the payload, oldest first."""
    # Each ingest asks the time for its batch, then for its dead letter.
    moments = iter(["2026-05-14T10:00:02.000Z"] * 2 + ["2026-05-14T10:00:01.000Z"] * 2)
    monkeypatch.setattr("aggregator.core.store.utc_now", lambda: next(moments))
    payload = {"when": datetime(2026, 5, 14, 10, 0), "text": "Café"}
    store.ingest("ig", [], [DeadLetter("ig", "no text", payload)])
    store.ingest("x", [], [DeadLetter("x", "no id", {"id": None})])
    first, second = store.dead_letters()
    assert (first["source"], first["reason"], first["at"]) == (
        "x", "no id", "2026-05-14T10:00:01.000Z")
    raw = '{"when":"2026-05-14 10:00:00","text":"Café"}'
    assert (second["source"], second["raw"]) == ("ig", raw)
    digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    assert store.conn.hexists(store.keys.dead_letters, f"ig:{digest}")


def test_raw_payloads_keep_their_shape_whatever_types_the_sdk_used(store: Store) -> None:
    """SDKs hand over dict subclasses, big ids as ints and NaN; each stays what it was in JSON."""
    post = normalise(Post("fb", "8", "Question 8?", "Ann"))
    raw = OrderedDict(id="8", data=defaultdict(list, likes=[1]), score=float("nan"))
    big = normalise(Post("fb", "9", "Question 9?", "Ann"))
    store.ingest("facebook", [(post, raw), (big, {"id": 2 ** 70})])
    assert store.raw("fb:8") == {"id": "8", "data": {"likes": [1]}, "score": None}
    assert store.raw("fb:9") == {"id": 2 ** 70}


def test_a_dead_letter_with_a_lone_surrogate_is_kept(store: Store) -> None:
    store.ingest("ig", [], [DeadLetter("ig", "no text", {"text": "broken emoji \ud83d"})])
    (record,) = store.dead_letters()
    assert json.loads(record["raw"]) == {"text": "broken emoji \ufffd"}


def test_raw_payloads_keep_what_json_cannot_say(store: Store) -> None:
    post = normalise(Post("fb", "7", "Question 7?", "Ann"))
    store.ingest("facebook", [(post, {"created": datetime(2026, 5, 14, 10, 0)})])
    assert store.raw("fb:7") == {"created": "2026-05-14 10:00:00"}
    assert store.raw("fb:never") is None


def test_log_entries_read_back_in_their_shape(store: Store) -> None:
    assert store.last_log_id() == "0-0"
    store.ingest("x", questions("1", "2"))
    first, second = store.log_after()
    assert store.last_log_id() == second.id
    assert store.log_after(count=1) == [first]
    assert first.at and first.actor == "x"
    assert first.to_dict() == {"id": first.id, "type": "received", "qid": "fb:1", "actor": "x",
                               "at": first.at, "qs": first.qs, "arrival": "1"}
    bare = LogEntry.from_stream("5-0", {"queue": '["fb:2"]', "reason": "off topic"})
    assert bare == LogEntry("5-0", "", "", "", "", [], {"queue": ["fb:2"], "reason": "off topic"})


def test_wait_log_gives_what_came_after(store: Store) -> None:
    assert store.wait_log("0-0", block_ms=1) == []
    store.ingest("x", questions("1", "2", "3"))
    entries = store.wait_log("0-0", block_ms=1, count=2)
    assert [e.qid for e in entries] == ["fb:1", "fb:2"]
    assert [e.qid for e in store.wait_log(entries[-1].id, block_ms=1)] == ["fb:3"]


def test_snapshot_to_dict_is_what_a_console_loads(store: Store) -> None:
    store.ingest("x", questions("1"))
    snap = store.snapshot()
    assert snap.to_dict() == {"last_id": snap.last_id, "questions": snap.questions,
                              "queue": [], "screen": None}


def test_a_flag_is_added_once_and_logged_like_any_change(store: Store) -> None:
    posts = [Post("yt", "a1", "First?", "Ann", "ann"), Post("yt", "b1", "Second?", "Bo", "bo")]
    a, b = store.ingest("youtube", [(normalise(p), {}) for p in posts])
    entry_id = store.flag(a, "author_banned", "source:youtube")
    assert entry_id is not None
    flagged = store.question(a)
    assert flagged is not None
    assert (flagged.flags, flagged.version, flagged.last_action, flagged.last_actor) == (
        ["author_banned", "question"], 2, "flag", "source:youtube")
    (entry,) = store.log_after(store.log_after()[1].id)
    assert (entry.id, entry.type, entry.qid, entry.actor, entry.extra["flag"]) == (
        entry_id, "flag", a, "source:youtube", "author_banned")
    assert entry.qs == [flagged.to_dict()] and entry.at == flagged.updated_at
    assert store.flag(a, "author_banned", "source:youtube") is None  # once
    assert store.flag(a, "paid", "source:youtube") is not None
    assert store.question(a).flags == ["author_banned", "paid", "question"]  # type: ignore[union-attr]
    assert store.flag("yt:never-stored", "paid", "source:youtube") is None
    assert store.question(b).flags == ["question"]  # type: ignore[union-attr]
    assert len(store.log_after()) == 4


def test_questions_by_one_author_on_one_platform(store: Store) -> None:
    posts = [Post("yt", "a1", "One?", "Ann", "ann"), Post("x", "a2", "Two?", "Ann", "ann"),
             Post("yt", "b1", "Three?", "Bo", "bo"), Post("yt", "a3", "Four?", "Ann", "ann")]
    store.ingest("mixed", [(normalise(p), {}) for p in posts])
    assert [q.id for q in store.questions_by("yt", "ann")] == ["yt:a1", "yt:a3"]
    assert [q.text for q in store.questions_by("x", "ann")] == ["Two?"]
    assert store.questions_by("yt", "nobody") == []


# -- the state indexes and the console's pages (aggregator/core/columns.py) ------------------------

def _indexes_are_true(store: Store) -> None:
    """Each state's index holds exactly the questions in that state, scored as the console
    orders them: "new" by arrival, the others by the ms of their last change."""
    k = store.keys
    snap = store.snapshot()
    arrival = dict(store.conn.zrange(k.questions, 0, -1, withscores=True))
    for state in ("new", "approved", "on_screen", "answered", "held", "rejected", "grouped"):
        want = {q["id"]: (arrival[q["id"]] if state == "new" else millis(q["updated_at"]))
                for q in snap.questions if q["state"] == state}
        assert dict(store.conn.zrange(k.state(state), 0, -1, withscores=True)) == want, state


def test_state_indexes_follow_every_move(store: Store) -> None:
    a, b, c, d, e = store.ingest("x", questions("1", "2", "3", "4", "5"))
    moderation = Moderation(store.conn, store.keys.event)
    _indexes_are_true(store)
    version = lambda qid: store.question(qid).version  # noqa: E731 - as the console sees it
    moderation.apply("approve", a, 1, "kim")
    moderation.apply("approve", b, 1, "kim")
    moderation.apply("reject", c, 1, "kim", reason="off topic")
    moderation.apply("hold", d, 1, "kim")
    moderation.apply("group", e, 1, "kim", parent=b)
    _indexes_are_true(store)
    moderation.apply("screen", a, version(a), "kim")
    moderation.apply("screen", b, version(b), "kim", then="answered")  # a is answered
    moderation.apply("undo", c, version(c), "kim")  # back to new, at its arrival place
    moderation.apply("star", d, version(d), "kim")  # no move, but a later change
    _indexes_are_true(store)
    store.flag(d, "author_banned", "x")
    _indexes_are_true(store)


def test_entries_name_the_state_left_and_the_arrival_number(store: Store) -> None:
    a, b = store.ingest("x", questions("1", "2"))
    moderation = Moderation(store.conn, store.keys.event)
    moderation.apply("reject", b, 1, "kim", reason="off topic")
    moderation.apply("undo", b, 2, "kim")
    received, reject, undo = store.log_after()[1:]
    assert received.extra["arrival"] == "2" and "seq" not in received.extra
    assert reject.extra["was"] == {b: "new"} and "seq" not in reject.extra
    assert undo.extra["was"] == {b: "rejected"} and undo.extra["seq"] == {b: 2}


def test_a_paged_snapshot_and_its_pages_walk_each_list_whole(store: Store) -> None:
    ids = store.ingest("x", questions(*(str(n) for n in range(250))))
    moderation = Moderation(store.conn, store.keys.event)
    for qid in ids[:30]:
        moderation.apply("reject", qid, 1, "kim", reason="off topic")
    moderation.apply("approve", ids[30], 1, "kim")
    snap = store.columns.snapshot(limit=100)
    assert snap["counts"] == {"incoming": 219, "queue": 1, "screen": 0, "answered": 0,
                              "held": 0, "rejected": 30, "grouped": 0}
    assert snap["last_id"] == store.last_log_id() and snap["queue"] == [ids[30]]
    assert len(snap["questions"]) == 100 + 30 + 1  # the first pages, nothing more
    first = snap["lists"]["incoming"]
    assert first["ids"] == ids[31:131] and first["more"] is True
    walked = list(first["ids"])
    after: list | None = [first["scores"][-1], first["ids"][-1]]
    while after is not None:
        page = store.columns.page("incoming", after, 70)
        assert [q["id"] for q in page["questions"]] == page["page"]["ids"]
        walked += page["page"]["ids"]
        after = [page["page"]["scores"][-1], page["page"]["ids"][-1]] if page["page"]["more"] \
            else None
    assert walked == ids[31:]
    # The set-aside lists: the most recently changed first.
    assert snap["lists"]["rejected"]["ids"] == ids[29::-1] or \
        snap["lists"]["rejected"]["scores"] == sorted(snap["lists"]["rejected"]["scores"],
                                                      reverse=True)


def test_pages_step_over_cards_changed_in_the_same_millisecond(store: Store) -> None:
    ids = store.ingest("x", questions(*(str(n) for n in range(7))))
    store.columns.build()
    store.conn.zadd(store.keys.state("rejected"), dict.fromkeys(ids, 5))  # one bulk reject
    walked: list[str] = []
    after = None
    for _ in range(10):
        page = store.columns.page("rejected", after, 2)["page"]
        walked += page["ids"]
        if not page["more"]:
            break
        after = [page["scores"][-1], page["ids"][-1]]
    assert walked == sorted(ids, reverse=True)


def test_the_queue_is_paged_by_position(store: Store) -> None:
    ids = store.ingest("x", questions(*(str(n) for n in range(5))))
    moderation = Moderation(store.conn, store.keys.event)
    for qid in ids:
        moderation.apply("approve", qid, 1, "kim")
    page = store.columns.page("queue", 2, 2)
    assert page["page"]["ids"] == ids[2:4] and page["page"]["more"] is True
    assert [q["id"] for q in page["questions"]] == ids[2:4] and page["count"] == 5


@pytest.mark.parametrize(("name", "after", "limit"), [
    ("nope", None, 10), ("incoming", "x", 10), ("incoming", [1], 10), ("incoming", [1, 2], 10),
    ("incoming", [True, "a"], 10), ("incoming", [float("nan"), "a"], 10),
    ("incoming", [1e300, "a"], 10), ("queue", -1, 10), ("queue", None, 10),
    ("incoming", None, 0), ("incoming", None, 10**6), ("incoming", None, "10"),
])
def test_a_bad_page_request_is_refused(store: Store, name: str, after: object,
                                       limit: object) -> None:
    with pytest.raises(PageError):
        store.columns.page(name, after, limit)  # type: ignore[arg-type]


def test_an_event_stored_before_the_indexes_is_indexed_on_first_use(store: Store) -> None:
    ids = store.ingest("x", questions("1", "2", "3"))
    Moderation(store.conn, store.keys.event).apply("approve", ids[0], 1, "kim")
    k = store.keys
    store.conn.delete(k.indexed, *(k.state(s) for s in ("new", "approved")))
    snap = store.columns.snapshot()
    assert snap["counts"]["incoming"] == 2 and snap["lists"]["incoming"]["ids"] == ids[1:]
    _indexes_are_true(store)


def test_the_questions_in_chunks_are_every_question_once_in_arrival_order(store: Store) -> None:
    store.ingest("x", questions(*(f"c{n}" for n in range(7))))
    chunks = store.questions_in_chunks(3)
    first = next(chunks)
    store.ingest("x", questions("late"))  # arrives while a reader is part way through
    rest = [q for chunk in chunks for q in chunk]
    assert [len(first), len(rest)] == [3, 5]
    assert [q["id"] for q in first + rest] == [*(f"fb:c{n}" for n in range(7)), "fb:late"]
    assert [q["id"] for chunk in store.questions_in_chunks(100) for q in chunk] == \
        [q["id"] for q in store.snapshot().questions]
