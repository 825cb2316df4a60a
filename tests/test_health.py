"""``/healthz`` and ``/readyz`` (web/health.py): no login, JSON, a short reason for each problem,
and nothing secret."""

from __future__ import annotations

import socket

import redis
from flask import Flask
from flask.testing import FlaskClient

from aggregator.base.redis_server import client_from_url
from aggregator.base.settings import EventSettings, Settings, TriageSettings
from aggregator.base.source_settings import SourceSettings
from aggregator.ingest.health import Health
from web import create_app


def beat(conn: redis.Redis, event: str, *, sources: tuple[str, ...] = (),
         followers: tuple[str, ...] = ()) -> None:
    health = Health(conn, event)
    for name in sources:
        health.beat(name, 10)
    for name in followers:
        health.follower_beat(name, 10, state="following")


def test_healthz_answers_without_a_login(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_names_each_process_that_does_not_beat(conn: redis.Redis, event: str) -> None:
    settings = Settings(event=EventSettings(slug=event),
                        sources={"rehearsal": SourceSettings(enabled=True),
                                 "x": SourceSettings(enabled=False)})
    app = create_app(settings, conn, test_config={"TESTING": True})
    try:
        client = app.test_client()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json == {"status": "not ready", "reasons": [
            "source rehearsal: no fresh heartbeat (is `floor poll rehearsal` running?)",
            "ledger: no fresh heartbeat (is `floor ledger` running?)",
            "triage: no fresh heartbeat (is `floor triage` running?)"]}
        assert response.headers["Cache-Control"] == "no-store"

        beat(conn, event, sources=("rehearsal",), followers=("ledger",))
        assert client.get("/readyz").json["reasons"] == [  # type: ignore[index]
            "triage: no fresh heartbeat (is `floor triage` running?)"]
        beat(conn, event, followers=("triage",))  # x is not enabled: nobody waits for it
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json) == (200, {"status": "ready"})
        assert app.extensions["floor"].feed.running  # started by the check itself

        app.extensions["floor"].feed.stop()
        assert client.get("/readyz").json["reasons"] == ["log tail: not running"]  # type: ignore[index]
    finally:
        app.extensions["floor"].feed.stop()


def test_readyz_needs_no_triage_worker_when_triage_is_off(conn: redis.Redis, event: str) -> None:
    settings = Settings(event=EventSettings(slug=event), triage=TriageSettings(enabled=False))
    app = create_app(settings, conn, test_config={"TESTING": True})
    try:
        beat(conn, event, followers=("ledger",))
        assert app.test_client().get("/readyz").status_code == 200
    finally:
        app.extensions["floor"].feed.stop()


def test_readyz_without_redis_says_so_and_nothing_of_its_address(event: str) -> None:
    with socket.socket() as holder:  # a port nothing listens on
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    conn = client_from_url(f"redis://:hunter2-secret@127.0.0.1:{port}/0")  # as Floor makes it
    app: Flask = create_app(Settings(event=EventSettings(slug=event)), conn,
                            test_config={"TESTING": True})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "not ready",
                             "reasons": ["redis: not reachable (ConnectionError)"]}
    assert str(port) not in response.text and "hunter2" not in response.text
    assert app.test_client().get("/healthz").status_code == 200
