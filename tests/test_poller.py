"""The poller loop with a scripted source: storing, dead letters, pauses, backoff, health."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.ingest.health import Health
from aggregator.ingest.poller import BACKOFF_CAP, STOPPED_RETRY, Poller
from aggregator.ingest.sources import (
    Batch,
    RateLimited,
    Source,
    SourceError,
    SourceStopped,
    registry,
)
from tests.sources import ScriptedSource


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_source_without_a_name_fails_at_import() -> None:
    with pytest.raises(TypeError, match="must declare a source name"):
        class Nameless(Source):
            def fetch(self, checkpoint: str | None) -> Batch:
                return Batch([], None)

            def parse(self, item: Any) -> Post | None:
                return None


def test_registry_finds_the_rehearsal_source() -> None:
    assert "rehearsal" in registry()


def test_batches_are_stored_with_checkpoints_and_bad_items_become_dead_letters(
        store: Store) -> None:
    source = ScriptedSource([
        Batch([{"id": "1", "text": "First?"}, {"id": "2", "text": 7}, {"skip": True}], "c1"),
        Batch([{"id": "1", "text": "First?"}, {"id": "3", "text": "Third?"}], "c2"),
    ])
    poller = Poller(source, store)
    first = poller.poll_once()
    assert (first.stored, first.dead, first.skipped, first.error) == (1, 1, 1, "")
    assert first.delay == 10
    second = poller.poll_once()
    assert (second.stored, second.dead) == (1, 0)
    assert source.seen == [None, "c1"]
    assert store.question_ids() == ["x:1", "x:3"]
    assert store.checkpoint("scripted") == "c2"
    (letter,) = store.dead_letters()
    assert letter["reason"] == "field 'text': expected text, got int"
    health = Health(store.conn, store.keys.event).all()["scripted"]
    assert (health["state"], health["items_total"], health["dead_letters"]) == ("ok", 2, 1)


def test_rate_limits_pause_until_the_reset_time(store: Store) -> None:
    clock = Clock()
    source = ScriptedSource([RateLimited(clock.now + 900, "429 Too Many Requests")])
    result = Poller(source, store, clock=clock).poll_once()
    assert result.delay == 900
    health = Health(store.conn, store.keys.event).all()["scripted"]
    assert health["state"] == "paused"
    assert health["last_error"] == "429 Too Many Requests"
    assert health["paused_until"].endswith("Z")


def test_a_source_that_needs_a_person_says_so_and_waits(store: Store) -> None:
    source = ScriptedSource([SourceStopped("the Page token has expired"), Batch([], "c")])
    poller = Poller(source, store)
    assert poller.poll_once().delay == STOPPED_RETRY
    health = Health(store.conn, store.keys.event).all()["scripted"]
    assert (health["state"], health["last_error"]) == ("stopped", "the Page token has expired")
    poller.poll_once()
    health = Health(store.conn, store.keys.event).all()["scripted"]
    assert health["state"] == "ok" and "last_error" not in health


def test_errors_back_off_exponentially_with_jitter_and_a_cap(store: Store) -> None:
    failures = [SourceError("503 Service Unavailable") for _ in range(12)]
    poller = Poller(ScriptedSource([*failures, Batch([], None)]), store)
    delays = [poller.poll_once().delay for _ in range(12)]
    for n, delay in enumerate(delays[:5]):
        assert 10 * 2**n * 0.5 <= delay <= 10 * 2**n
    assert all(delay <= BACKOFF_CAP for delay in delays)
    assert Health(store.conn, store.keys.event).all()["scripted"]["state"] == "failing"
    assert poller.poll_once().delay == 10  # one success resets the backoff


def test_run_stops_on_request_and_keeps_a_heartbeat(store: Store) -> None:
    stop = threading.Event()
    source = ScriptedSource([Batch([{"id": "1", "text": "Hello?"}], "c")] +
                            [Batch([], "c") for _ in range(100)])
    poller = Poller(source, store)
    thread = threading.Thread(target=poller.run, args=(stop,))
    thread.start()
    health = Health(store.conn, store.keys.event)
    for _ in range(200):
        if health.all().get("scripted", {}).get("alive"):
            break
        stop.wait(0.01)
    assert health.all()["scripted"]["alive"] is True
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert health.all()["scripted"]["state"] == "offline"
    assert store.question_ids() == ["x:1"]


def test_secrets_in_error_text_never_reach_logs_or_health(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """requests quotes the URL in a connection error, and facebook-sdk puts the token there."""
    failure = ConnectionError("HTTPSConnectionPool(host='graph.facebook.com'): Max retries "
                              "exceeded with url: /v21.0/1/comments?fields=id&access_token="
                              "EAAsecret123&limit=100 (Caused by NameResolutionError)")
    poller = Poller(ScriptedSource([failure, SourceStopped("bad key=AIzaSECRET)")]), store)
    with caplog.at_level("DEBUG", logger="floor.poller"):
        first = poller.poll_once()
        second = poller.poll_once()
    health = Health(store.conn, store.keys.event).all()["scripted"]
    assert "access_token=***&limit=100" in first.error
    assert second.error == "bad key=***)"
    for text in (first.error, second.error, health["last_error"], caplog.text):
        assert "EAAsecret123" not in text and "AIzaSECRET" not in text


def test_a_redis_outage_pauses_the_poller_instead_of_killing_it(store: Store) -> None:
    """The poller's own store goes away (here: its connection is pointed at a closed port) and
    comes back; the loop waits and then stores as if nothing happened."""
    import redis

    good = store.conn.connection_pool
    source = ScriptedSource([Batch([{"id": "1", "text": "Still here?"}], "c1")] +
                            [Batch([], "c1") for _ in range(100)])
    poller = Poller(source, store)
    store.conn.connection_pool = redis.ConnectionPool(port=1, decode_responses=True)
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,))
    thread.start()
    stop.wait(1.5)  # at least one failed attempt, then a wait
    assert thread.is_alive(), "the poller died with its store"
    store.conn.connection_pool = good
    for _ in range(100):
        if store.question_ids():
            break
        stop.wait(0.05)
    stop.set()
    thread.join(timeout=10)
    assert store.question_ids() == ["x:1"]
    assert store.checkpoint("scripted") == "c1"
