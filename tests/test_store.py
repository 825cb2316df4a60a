"""The store: each post once, batches and checkpoints together, snapshot + log = the truth."""

from __future__ import annotations

import json

import pytest
import redis

from aggregator.normalise import normalise
from aggregator.question import Post
from aggregator.store import DeadLetter, Store


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
