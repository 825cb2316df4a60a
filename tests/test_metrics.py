"""/metrics: the event's figures and the web process's own, for this machine or a token."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.ingest.health import Health
from aggregator.ingest.poller import Poller
from aggregator.ingest.sources import Batch, RateLimited, SourceError


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client: FlaskClient, **kwargs: object) -> dict[tuple[str, tuple[tuple[str, str],
                                                                        ...]], float]:
    response = client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/plain"
    return samples(response.text)


def test_figures_of_the_event_and_of_the_process(client: FlaskClient, store: Store,
                                                  event: str) -> None:
    (qid,) = store.ingest("web", [(normalise(Post("web", "m1", "Is the budget public?")), {})])
    question = store.question(qid)
    assert question is not None
    Moderation(store.conn, event).apply("approve", qid, question.version, "ana")
    Health(store.conn, event).record("x", items=3, counts={"polls_total": 2, "errors_total": 1,
                                                           "pauses_total": 1},
                                     last_item_at="2026-01-01T00:00:00+00:00")
    found = scrape(client)
    assert found[("floor_questions", (("event", event),))] == 1
    assert found[("floor_log_entries_total", (("event", event), ("type", "received")))] == 1
    assert found[("floor_log_entries_total", (("event", event), ("type", "approve")))] == 1
    assert found[("floor_log_length", (("event", event),))] == 2
    assert found[("floor_source_polls_total", (("source", "x"),))] == 2
    assert found[("floor_source_items_total", (("source", "x"),))] == 3
    assert found[("floor_source_errors_total", (("source", "x"),))] == 1
    assert found[("floor_source_rate_limit_pauses_total", (("source", "x"),))] == 1
    assert found[("floor_source_seconds_since_last_item", (("source", "x"),))] > 3600
    assert ("floor_follower_alive", (("follower", "ledger"),)) not in found
    Health(store.conn, event).follower_beat("ledger", 60, state="following", lag=4)
    Health(store.conn, event).follower_beat("triage", 60, state="following")
    Health(store.conn, event).follower_gone("triage")
    found = scrape(client)
    assert found[("floor_follower_alive", (("follower", "ledger"),))] == 1
    assert found[("floor_follower_lag", (("follower", "ledger"),))] == 4
    assert found[("floor_follower_alive", (("follower", "triage"),))] == 0
    assert found[("floor_clients_connected", (("namespace", "/screen"),))] == 0
    assert found[("process_resident_memory_bytes", ())] > 0
    # Counted once: a second scrape reads only the entries written since.
    again = scrape(client)
    assert again[("floor_log_entries_total", (("event", event), ("type", "received")))] == 1


def test_a_poller_counts_polls_errors_and_pauses(store: Store, event: str) -> None:
    from tests.sources import ScriptedSource

    source = ScriptedSource([Batch(items=[{"id": "1", "text": "Why?"}], checkpoint="1"),
                             SourceError("platform down"),
                             RateLimited(until=0.0),
                             Batch(items=[], checkpoint="1")])
    poller = Poller(source, store)
    for _ in range(4):
        poller.poll_once()
    record = Health(store.conn, event).all()["scripted"]
    assert (record["polls_total"], record["errors_total"], record["pauses_total"]) == (4, 1, 1)
    assert record["items_total"] == 1 and record["last_item_at"]


@pytest.mark.parametrize("headers, status", [
    ({}, 200),
    ({"X-Forwarded-For": "203.0.113.9"}, 403),  # through a local proxy: not this machine
    ({"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer metrics-secret"}, 200),
    ({"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer wrong"}, 403),
])
def test_only_this_machine_or_the_token_reads_it(client: FlaskClient, headers: dict[str, str],
                                                  status: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOOR_METRICS_TOKEN", "metrics-secret")
    assert client.get("/metrics", headers=headers).status_code == status


def test_another_machine_needs_the_token(client: FlaskClient,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    away = {"REMOTE_ADDR": "198.51.100.7"}
    assert client.get("/metrics", environ_base=away).status_code == 403
    monkeypatch.setenv("FLOOR_METRICS_TOKEN", "metrics-secret")
    assert client.get("/metrics", environ_base=away,
                      headers={"Authorization": "Bearer metrics-secret"}).status_code == 200
