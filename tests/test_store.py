"""The store: each post once, batches and checkpoints together, snapshot + log = the truth."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest
import redis

from aggregator.normalise import normalise
from aggregator.question import Post
from aggregator.store import DeadLetter, LogEntry, Store


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
        for key in conn.scan_iter(f"floor:{other.keys.event}:*"):
            conn.delete(key)


def test_a_dead_letter_is_kept_whole_whatever_its_payload(store: Store, monkeypatch:
                                                          pytest.MonkeyPatch) -> None:
    """Payloads from SDKs carry dates and accents; each is kept as text, under an id made of its
    source and a digest of the payload, oldest first."""
    # Each ingest asks the time for its batch, then for its dead letter.
    moments = iter(["2026-05-14T10:00:02.000Z"] * 2 + ["2026-05-14T10:00:01.000Z"] * 2)
    monkeypatch.setattr("aggregator.store.utc_now", lambda: next(moments))
    payload = {"when": datetime(2026, 5, 14, 10, 0), "text": "Café"}
    store.ingest("ig", [], [DeadLetter("ig", "no text", payload)])
    store.ingest("x", [], [DeadLetter("x", "no id", {"id": None})])
    first, second = store.dead_letters()
    assert (first["source"], first["reason"], first["at"]) == (
        "x", "no id", "2026-05-14T10:00:01.000Z")
    raw = '{"when": "2026-05-14 10:00:00", "text": "Café"}'
    assert (second["source"], second["raw"]) == ("ig", raw)
    digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    assert store.conn.hexists(store.keys.dead_letters, f"ig:{digest}")


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
                               "at": first.at, "qs": first.qs}
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
