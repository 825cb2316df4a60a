"""The web backbone: login, the /console namespace's snapshot, actions and catch-up."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import socketio as sio
from flask import Flask
from flask.testing import FlaskClient

from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from tests.moderators import MODERATOR
from web.extensions import socketio


def _ingest(store: Store, *texts: str) -> list[str]:
    posts = [Post("x", str(1000 + i), text, "Ann", "ann") for i, text in enumerate(texts)]
    return store.ingest("x", [(normalise(p), {"id": p.native_id}) for p in posts])


def test_console_needs_login(client: FlaskClient) -> None:
    response = client.get("/console")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_wrong_password_is_refused_with_a_message(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": MODERATOR[0], "password": "wrong"})
    assert response.status_code == 401
    assert "do not match" in response.text
    assert client.get("/console").status_code == 302


def test_login_then_console_and_logout(moderator: FlaskClient) -> None:
    page = moderator.get("/console")
    assert page.status_code == 200
    assert "socket.io-4.8.1.min.js" in page.text
    moderator.post("/logout")
    assert moderator.get("/console").status_code == 302


def test_login_never_redirects_off_site(client: FlaskClient) -> None:
    response = client.post("/login?next=//evil.example/x",
                           data={"username": MODERATOR[0], "password": MODERATOR[1]})
    assert response.headers["Location"] == "/console"


def test_socket_refused_without_login(app: Flask, client: FlaskClient) -> None:
    sock = socketio.test_client(app, namespace="/console", flask_test_client=client)
    assert not sock.is_connected("/console")


def test_socket_gets_snapshot_and_applies_actions(socket_client, store: Store) -> None:
    snapshot = [m for m in socket_client.get_received("/console") if m["name"] == "snapshot"]
    assert len(snapshot) == 1 and snapshot[0]["args"][0]["questions"] == []
    (qid,) = _ingest(store, "Why are response times longer in the north?")
    reply = socket_client.emit("act", {"action": "approve", "qid": qid, "version": 1},
                               namespace="/console", callback=True)
    assert reply["ok"] is True
    assert store.question(qid).state == "approved"
    stale = socket_client.emit("act", {"action": "reject", "qid": qid, "version": 1,
                                       "params": {"reason": "off topic"}},
                               namespace="/console", callback=True)
    assert stale == {"ok": False, "error": "sam approved this question first (it is now approved)"}


def test_catch_up_returns_entries_after_an_id(socket_client, store: Store) -> None:
    first, second = _ingest(store, "first?", "second?")
    entries = store.log_after()
    reply = socket_client.emit("catch_up", {"after": entries[0].id}, namespace="/console",
                               callback=True)
    assert [e["qid"] for e in reply["entries"]] == [second]


@pytest.mark.slow
def test_real_client_sees_live_entries(live_server: str, store: Store) -> None:
    """A real python-socketio client over WebSocket, logged in through the real login form."""
    import requests

    http = requests.Session()
    http.post(f"{live_server}/login", data={"username": MODERATOR[0], "password": MODERATOR[1]})
    received: list[dict] = []
    client = sio.Client(http_session=http)
    client.on("entry", received.append, namespace="/console")
    client.connect(live_server, namespaces=["/console"], transports=["websocket"])
    try:
        (qid,) = _ingest(store, "Is the new station on time?")
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [e["qid"] for e in received] == [qid]
        assert received[0]["qs"][0]["text"] == "Is the new station on time?"
    finally:
        client.disconnect()


def test_a_removed_moderator_is_shut_out_at_once(app: Flask, moderator: FlaskClient,
                                                 store: Store) -> None:
    """The signed session cookie lives on; the account behind it does not."""
    from web.accounts import Accounts

    Accounts(store.conn, store.keys.event).remove(MODERATOR[0])
    assert moderator.get("/console").status_code == 302
    sock = socketio.test_client(app, namespace="/console", flask_test_client=moderator)
    assert not sock.is_connected("/console")


@pytest.fixture
def guarded(settings, conn) -> Iterator[Flask]:
    """The app as served: CSRF and rate limits on."""
    from web import create_app

    app = create_app(settings, conn, test_config={"TESTING": True})
    yield app
    app.extensions["floor"].feed.stop()


def test_login_and_logout_refuse_a_post_without_the_csrf_token(guarded: Flask) -> None:
    client = guarded.test_client()
    response = client.post("/login", data={"username": MODERATOR[0], "password": MODERATOR[1]})
    assert response.status_code == 400
    assert "open the page again" in response.text
    assert client.post("/logout").status_code == 400


def test_login_attempts_are_limited_per_client_across_processes(
        guarded: Flask, settings, conn) -> None:
    """Counts live in Redis, so a second web process of the event shares them."""
    from web import create_app

    def attempt(app: Flask) -> int:
        client = app.test_client()
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token
        return client.post("/login", data={"csrf_token": token[1], "username": "sam",
                                           "password": "wrong"}).status_code

    assert [attempt(guarded) for _ in range(6)] == [401] * 6
    other = create_app(settings, conn, test_config={"TESTING": True})
    try:
        assert [attempt(other) for _ in range(4)] == [401] * 4
        assert attempt(other) == 429
        assert attempt(guarded) == 429
    finally:
        other.extensions["floor"].feed.stop()
