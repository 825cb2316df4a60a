"""The console's Socket.IO namespace: every action, stale refusals, catch-up, presence, health.

Two kinds of client: Flask-SocketIO's test client (in process, fast) and a real python-socketio
client over WebSocket against ``live_server``, logged in through the real login form.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import requests
import socketio as sio
from flask import Flask
from flask.testing import FlaskClient

from aggregator.base.redis_server import client_from_url
from aggregator.core import queue_edit
from aggregator.core.actions import ACTIONS, Action, Param
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.public_ids import resolve
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.followers.ledger import Ledger
from aggregator.ingest.health import Health
from tests.fixtures.consoles import NS, Received, drop_client, real_console
from tests.moderators import KIM, MODERATOR
from tests.waiting import wait_until
from web.accounts import Accounts
from web.console import assess, health_report
from web.extensions import socketio

_ids = itertools.count(5000)


def _ingest(store: Store, *texts: str) -> list[str]:
    posts = [Post("x", str(next(_ids)), text, f"Author {i}", f"a{i}")
             for i, text in enumerate(texts)]
    return store.ingest("x", [(normalise(p), {"id": p.native_id}) for p in posts])


def _act(sock: Any, store: Store, action: str, qid: str, **params: Any) -> dict[str, Any]:
    """Act as the console does: with the version the moderator sees now."""
    question = store.question(qid)
    version = question.version if question else 0
    return sock.emit("act", {"action": action, "qid": qid, "version": version, "params": params},
                     namespace=NS, callback=True)


# -- auth ---------------------------------------------------------------------------------------

def test_test_client_refused_without_login(app: Flask, client: FlaskClient) -> None:
    sock = socketio.test_client(app, namespace=NS, flask_test_client=client)
    assert not sock.is_connected(NS)


def test_real_client_refused_without_login(live_server: str) -> None:
    client = sio.Client(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace=NS)
    # Long-polling: a refused WebSocket client waits seconds for its close handshake.
    with pytest.raises(sio.exceptions.ConnectionError, match="failed to connect: /console"):
        client.connect(live_server, namespaces=[NS], transports=["polling"], wait_timeout=5)
    client.disconnect()
    assert errors == [{"message": "log in as a moderator first"}]


def test_wrong_login_then_no_socket(live_server: str) -> None:
    http = requests.Session()
    response = http.post(f"{live_server}/login", data={"username": "sam", "password": "nope"})
    assert response.status_code == 401
    client = sio.Client(http_session=http, reconnection=False)
    with pytest.raises(sio.exceptions.ConnectionError):
        client.connect(live_server, namespaces=[NS], transports=["polling"], wait_timeout=5)
    client.disconnect()


def test_console_page_carries_config_and_strict_headers(moderator: FlaskClient) -> None:
    page = moderator.get("/console")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert '"reject_reasons": ["off topic", "duplicate", "abusive"' in page.text
    assert "console.css" in page.text and "console/main.js" in page.text


def test_login_page_is_private_and_skipped_when_logged_in(client: FlaskClient) -> None:
    page = client.get("/login")
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    client.post("/login", data={"username": MODERATOR[0], "password": MODERATOR[1]})
    again = client.get("/login?next=/console")
    assert (again.status_code, again.headers["Location"]) == (302, "/console")


def test_removed_moderator_cannot_act(socket_client: Any, store: Store, conn: redis.Redis,
                                      event: str) -> None:
    (qid,) = _ingest(store, "Is the pool reopening?")
    Accounts(conn, event).remove(MODERATOR[0])
    reply = _act(socket_client, store, "approve", qid)
    assert reply["ok"] is False and reply["logged_out"] is True
    assert "log in again" in reply["error"]
    assert store.question(qid).state == "new"


def test_a_question_s_public_id_on_request(socket_client: Any, store: Store, conn: redis.Redis,
                                           event: str) -> None:
    """The id the console shows on a selected card, the one every command takes."""
    first, later = _ingest(store, "Is the library open late?", "And on Sundays?")
    Ledger(conn, event).step(batch=1)  # the first question's entry is chained, not the second's
    reply = socket_client.emit("public_id", {"qid": first}, namespace=NS, callback=True)
    assert reply["ok"] is True and reply["id"].startswith("x-")
    assert resolve(conn, event, reply["id"]) == first
    reply = socket_client.emit("public_id", {"qid": later}, namespace=NS, callback=True)
    assert reply == {"ok": True, "id": None}
    Accounts(conn, event).remove(MODERATOR[0])
    reply = socket_client.emit("public_id", {"qid": first}, namespace=NS, callback=True)
    assert reply["ok"] is False and reply["logged_out"] is True and "id" not in reply


# -- every action through the test client --------------------------------------------------------

def test_approve_reject_and_reasons(socket_client: Any, store: Store) -> None:
    first, second = _ingest(store, "Why the delay?", "Buy followers now")
    assert _act(socket_client, store, "approve", first)["ok"]
    assert store.question(first).state == "approved"
    assert store.snapshot().queue == [first]
    refused = _act(socket_client, store, "reject", second)
    assert refused == {"ok": False, "error": "say why the question is rejected"}
    assert _act(socket_client, store, "reject", second, reason="off topic")["ok"]
    rejected = store.question(second)
    assert (rejected.state, rejected.reject_reason, rejected.last_actor) == \
        ("rejected", "off topic", "sam")


def test_edit_keeps_the_original_and_undo_restores(socket_client: Any, store: Store) -> None:
    (qid,) = _ingest(store, "why r the busses late??")
    assert _act(socket_client, store, "edit", qid, text="Why are the buses late?")["ok"]
    edited = store.question(qid)
    assert (edited.text, edited.original) == ("Why are the buses late?", "why r the busses late??")
    assert store.log_after()[-1].extra["previous"] == "why r the busses late??"
    assert _act(socket_client, store, "undo", qid)["ok"]
    assert store.question(qid).text == "why r the busses late??"
    assert _act(socket_client, store, "undo", qid) == \
        {"ok": False, "error": "there is nothing to undo on this question"}


def test_group_star_and_reorder(socket_client: Any, store: Store) -> None:
    a, b, c, dup = _ingest(store, "Parking?", "Libraries?", "Trams?", "parking??")
    for qid in (a, b, c):
        assert _act(socket_client, store, "approve", qid)["ok"]
    assert _act(socket_client, store, "group", dup, parent=a)["ok"]
    assert store.question(dup).state == "grouped"
    assert store.question(a).asked_by == 2
    assert _act(socket_client, store, "star", b)["ok"]
    assert store.question(b).starred
    assert _act(socket_client, store, "unstar", b)["ok"]
    assert not store.question(b).starred
    assert _act(socket_client, store, "reorder", c, index=0)["ok"]
    assert store.snapshot().queue == [c, a, b]
    assert _act(socket_client, store, "reorder", c) == \
        {"ok": False, "error": "say where in the queue the question goes"}


def test_screen_answer_unscreen_and_clear(socket_client: Any, store: Store) -> None:
    a, b, c = _ingest(store, "First?", "Second?", "Third?")
    for qid in (a, b, c):
        assert _act(socket_client, store, "approve", qid)["ok"]
    assert _act(socket_client, store, "screen", a)["ok"]
    assert store.snapshot().screen == a
    # The moderator chooses what happens to the one on screen: answered (default) ...
    assert _act(socket_client, store, "screen", b, then="answered")["ok"]
    assert store.question(a).state == "answered"
    # ... or back to the front of the queue.
    assert _act(socket_client, store, "screen", c, then="queue")["ok"]
    assert store.question(b).state == "approved"
    assert store.snapshot().queue[0] == b
    assert _act(socket_client, store, "unscreen", c)["ok"]
    assert store.snapshot().screen is None and store.snapshot().queue[0] == c
    assert _act(socket_client, store, "screen", c)["ok"]
    assert _act(socket_client, store, "answer", c)["ok"]
    assert store.question(c).state == "answered"
    assert _act(socket_client, store, "screen", b)["ok"]
    clear = socket_client.emit("act", {"action": "clear"}, namespace=NS, callback=True)
    assert clear["ok"] and store.snapshot().screen is None
    again = socket_client.emit("act", {"action": "clear"}, namespace=NS, callback=True)
    assert again == {"ok": False, "error": "the screen is already clear"}


def test_malformed_actions_are_refused_politely(socket_client: Any, store: Store) -> None:
    (qid,) = _ingest(store, "Anything?")
    emit = socket_client.emit
    assert emit("act", "approve", namespace=NS, callback=True) == \
        {"ok": False, "error": "malformed action"}
    assert emit("act", {"action": "approve", "qid": qid}, namespace=NS, callback=True)["error"] \
        == "the action must name the version you saw"
    assert emit("act", {"action": "launch", "qid": qid, "version": 1}, namespace=NS,
                callback=True) == {"ok": False, "error": "unknown action 'launch'"}
    assert emit("act", {"action": "approve", "qid": "x:nope", "version": 1}, namespace=NS,
                callback=True) == {"ok": False, "error": "there is no question x:nope"}


def test_stale_action_names_who_acted_first(socket_client: Any, store: Store, conn: redis.Redis,
                                            event: str) -> None:
    (qid,) = _ingest(store, "Who decides the budget?")
    Moderation(conn, event).apply("approve", qid, 1, "kim")
    reply = socket_client.emit("act", {"action": "reject", "qid": qid, "version": 1,
                                       "params": {"reason": "off topic"}},
                               namespace=NS, callback=True)
    assert reply == {"ok": False, "error": "kim approved this question first (it is now approved)"}
    assert store.question(qid).state == "approved"


def test_actions_reach_every_console_as_entries(app: Flask, socket_client: Any,
                                                store: Store) -> None:
    other_http = app.test_client()
    other_http.post("/login", data={"username": MODERATOR[0], "password": MODERATOR[1]})
    other = socketio.test_client(app, namespace=NS, flask_test_client=other_http)
    try:
        seen = Received(other)
        (qid,) = _ingest(store, "Will the meeting be subtitled?")
        wait_until(lambda: [e for e in seen.named("entry") if e["type"] == "received"])
        assert _act(socket_client, store, "approve", qid)["ok"]
        approved = wait_until(lambda: [e for e in seen.named("entry") if e["type"] == "approve"])
        assert approved[0]["qs"][0]["state"] == "approved"
        assert approved[0]["queue_edit"] == {"drop": [], "put": [[0, qid]], "length": 1}
        assert approved[0]["actor"] == "sam"
    finally:
        other.disconnect(NS)


# -- snapshot and catch-up -----------------------------------------------------------------------

def test_resuming_console_gets_no_snapshot(app: Flask, moderator: FlaskClient) -> None:
    sock = socketio.test_client(app, namespace=NS, flask_test_client=moderator,
                                auth={"after": "0-0"})
    try:
        names = [m["name"] for m in sock.get_received(NS)]
        assert "snapshot" not in names and "presence" in names and "health" in names
    finally:
        sock.disconnect(NS)


def test_the_snapshot_is_paged_and_the_rest_comes_by_page(app: Flask, moderator: FlaskClient,
                                                         store: Store) -> None:
    ids = _ingest(store, *(f"Question {n}?" for n in range(130)))
    Moderation(store.conn, store.keys.event).apply("approve", ids[0], 1, "kim")
    sock = socketio.test_client(app, namespace=NS, flask_test_client=moderator)
    try:
        (snap,) = [m["args"][0] for m in sock.get_received(NS) if m["name"] == "snapshot"]
        assert snap["counts"]["incoming"] == 129 and snap["counts"]["queue"] == 1
        assert snap["queue"] == [ids[0]] and len(snap["questions"]) == 101
        first = snap["lists"]["incoming"]
        assert first["ids"] == ids[1:101] and first["more"] is True
        reply = sock.emit("page", {"list": "incoming", "limit": 100,
                                   "after": [first["scores"][-1], first["ids"][-1]]},
                          namespace=NS, callback=True)
        assert reply["ok"] is True and reply["count"] == 129
        assert reply["page"]["ids"] == ids[101:] and reply["page"]["more"] is False
        assert [q["id"] for q in reply["questions"]] == ids[101:]
    finally:
        sock.disconnect(NS)


@pytest.mark.parametrize("payload", [
    {"list": "nowhere"}, {"list": "incoming", "after": "fb:1"}, {"list": "incoming", "limit": -5},
    {"list": "incoming", "limit": 10**9}, {"list": "queue", "after": "x"}, {"list": ["incoming"]},
    {"list": "incoming", "after": [None, None]}, {"after": None}, [], "incoming",
])
def test_a_bad_page_request_is_answered_not_crashed(socket_client: Any, payload: Any) -> None:
    reply = socket_client.emit("page", payload, namespace=NS, callback=True)
    assert reply["ok"] is False and reply["error"], reply
    assert "could not handle" not in reply["error"]  # named as a bad request, not a bug


def test_catch_up_with_a_bad_id_asks_for_a_reload(socket_client: Any) -> None:
    reply = socket_client.emit("catch_up", {"after": "not-an-id"}, namespace=NS, callback=True)
    assert reply == {"reload": True}


class Model:
    """The console's model, as web/static/console/state.js keeps it: questions by id, the queue,
    the screen."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.questions = {q["id"]: q for q in snapshot["questions"]}
        self.queue: list[str] = snapshot["queue"]
        self.screen: str | None = snapshot["screen"]
        self.last_id: str = snapshot["last_id"]

    def apply(self, entry: dict[str, Any]) -> None:
        key = tuple(map(int, entry["id"].split("-")))
        if key <= tuple(map(int, self.last_id.split("-"))):
            return
        self.last_id = entry["id"]
        for q in entry["qs"]:
            old = self.questions.get(q["id"])
            if old is None or q["version"] > old["version"]:
                self.questions[q["id"]] = q
        if "queue_edit" in entry:
            self.queue = queue_edit.apply(self.queue, entry["queue_edit"])
        if "screen" in entry:
            self.screen = entry["screen"] or None

    def same_as(self, truth: dict[str, Any]) -> bool:
        return (self.questions == {q["id"]: q for q in truth["questions"]}
                and self.queue == truth["queue"] and self.screen == truth["screen"])


@pytest.mark.slow
def test_real_client_acts_and_is_refused_when_stale(live_server: str, http: requests.Session,
                                                    real_clients: list[sio.Client],
                                                    store: Store) -> None:
    client, received = real_console(live_server, http, real_clients)
    wait_until(lambda: received.get("snapshot"))
    (qid,) = _ingest(store, "Can we see the minutes?")
    wait_until(lambda: received.get("entry"))
    version = received["entry"][-1]["qs"][0]["version"]
    reply = client.call("act", {"action": "approve", "qid": qid, "version": version},
                        namespace=NS, timeout=5)
    assert reply["ok"]
    stale = client.call("act", {"action": "star", "qid": qid, "version": version},
                        namespace=NS, timeout=5)
    assert stale == {"ok": False, "error": "sam approved this question first (it is now approved)"}
    entry = wait_until(lambda: [e for e in received["entry"] if e["type"] == "approve"])[0]
    assert entry["id"] == reply["id"]


@pytest.mark.slow
def test_catch_up_after_reconnect_converges(live_server: str, http: requests.Session,
                                            real_clients: list[sio.Client], store: Store,
                                            conn: redis.Redis, event: str) -> None:
    a, b, c = _ingest(store, "Before the drop?", "Also before?", "And this one?")
    client, received = real_console(live_server, http, real_clients)
    model = Model(wait_until(lambda: received.get("snapshot"))[0])
    drop_client(client)

    # While it is away, kim acts and new posts arrive.
    moderation = Moderation(conn, event)
    moderation.apply("approve", a, 1, "kim")
    moderation.apply("approve", b, 1, "kim")
    moderation.apply("screen", a, 2, "kim")
    moderation.apply("reject", c, 1, "kim", reason="duplicate")
    (d,) = _ingest(store, "Arrived while away?")
    moderation.apply("reorder", b, 2, "kim", index=0)

    again, received_again = real_console(live_server, http, real_clients,
                                         auth={"after": model.last_id})
    reply = again.call("catch_up", {"after": model.last_id}, namespace=NS, timeout=5)
    for entry in reply["entries"]:
        model.apply(entry)
    assert "snapshot" not in received_again
    assert model.same_as(store.snapshot().to_dict())
    assert model.screen == a and model.questions[d]["state"] == "new"


# -- presence and soft locks ---------------------------------------------------------------------

@pytest.mark.slow
def test_presence_and_edit_locks(live_server: str, http: requests.Session,
                                 real_clients: list[sio.Client], store: Store,
                                 conn: redis.Redis, event: str) -> None:
    Accounts(conn, event).add(*KIM)
    (qid,) = _ingest(store, "Who is editing me?")
    sam, sam_got = real_console(live_server, http, real_clients)
    wait_until(lambda: sam_got.get("presence"))
    kim_http = requests.Session()
    kim_http.post(f"{live_server}/login", data={"username": KIM[0], "password": KIM[1]})
    kim, kim_got = real_console(live_server, kim_http, real_clients)
    wait_until(lambda: [p for p in sam_got["presence"] if p["online"] == ["kim", "sam"]])

    reply = kim.call("editing", {"qid": qid}, namespace=NS, timeout=5)
    assert reply == {"ok": True, "others": []}
    assert wait_until(lambda: sam_got.get("editing")) == [{"qid": qid, "moderator": "kim"}]
    # sam starts editing too: discouraged, not blocked; told who else is at it.
    assert sam.call("editing", {"qid": qid}, namespace=NS, timeout=5) == \
        {"ok": True, "others": ["kim"]}

    drop_client(kim)
    done = wait_until(lambda: sam_got.get("editing_done"))
    assert done == [{"qid": qid, "moderator": "kim"}]
    wait_until(lambda: sam_got["presence"][-1]["online"] == ["sam"])
    assert sam_got["presence"][-1]["editing"] == {qid: ["sam"]}


def test_presence_expires_without_cleanup(conn: redis.Redis, event: str) -> None:
    """A web process that dies leaves no one online for long: entries carry their expiry."""
    from web.presence import ONLINE_TTL, Presence

    now = [1000.0]
    presence = Presence(conn, event, clock=lambda: now[0])
    presence.join("sam", "sid-1")
    presence.join("kim", "sid-2")
    presence.start_editing("x:1", "kim", "sid-2")
    assert presence.state() == {"online": ["kim", "sam"], "editing": {"x:1": ["kim"]}}
    now[0] += ONLINE_TTL / 2
    presence.refresh([("sam", "sid-1")])
    now[0] += ONLINE_TTL / 2 + 1
    assert presence.state() == {"online": ["sam"], "editing": {}}
    assert presence.leave("sam", "sid-1") == []
    assert presence.online() == []


# -- health ---------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize(("record", "verdict", "words"), [
    ({"state": "ok", "alive": True, "interval": 15, "last_poll": _iso(NOW - timedelta(seconds=20))},
     "ok", "polling normally"),
    ({"state": "ok", "alive": True, "interval": 15, "last_poll": _iso(NOW - timedelta(seconds=46))},
     "failing", "no poll for over 3 intervals (it should poll every 15 s)"),
    ({"state": "ok", "alive": False, "interval": 15, "last_poll": _iso(NOW)},
     "failing", "its poller is not running (no heartbeat)"),
    ({"state": "paused", "alive": True, "interval": 15,
      "last_poll": _iso(NOW - timedelta(minutes=10)),
      "paused_until": _iso(NOW + timedelta(minutes=5))},
     "paused", "rate limited by the platform until 12:05:00 UTC"),
    ({"state": "stopped", "alive": True, "last_error": "the access token has expired"},
     "failing", "stopped until someone fixes it: the access token has expired"),
    ({"state": "failing", "alive": True, "interval": 15, "last_poll": _iso(NOW),
      "last_error": "the platform answered 503"},
     "failing", "the last poll failed: the platform answered 503"),
    ({"state": "starting", "alive": False}, "starting", "waiting for its first poll"),
    ({"state": "offline", "alive": False}, "failing", "its poller was shut down"),
])
def test_health_verdicts(record: dict[str, Any], verdict: str, words: str) -> None:
    assert assess(record, NOW) == (verdict, words)


def test_health_rows_carry_rate_limits_and_dead_letters() -> None:
    rows = health_report({
        "x": {"state": "ok", "alive": True, "interval": 15, "last_poll": _iso(NOW),
              "rate_remaining": 12, "rate_limit": 180, "items_total": 40, "last_items": 3,
              "dead_letters": 2},
        "facebook": {"state": "ok", "alive": True, "interval": 30, "last_poll": _iso(NOW),
                     "api_usage_pct": 81.5},
    }, NOW)
    assert [r["name"] for r in rows] == ["facebook", "x"]
    assert rows[0]["rate"] == "82% of the API allowance used"
    assert rows[1]["rate"] == "12 of 180 calls left"
    assert (rows[1]["label"], rows[1]["dead_letters"], rows[1]["items_total"]) == ("X", 2, 40)


def test_health_on_request_and_pushed_when_it_changes(app: Flask, moderator: FlaskClient,
                                                      conn: redis.Redis, event: str) -> None:
    app.config["FLOOR_CONSOLE_TICK"] = 0.05
    health = Health(conn, event)
    health.record("x", state="ok", last_poll=_iso(datetime.now(UTC)), interval=15, items=3,
                  last_items=3)
    health.beat("x", 60)
    sock = socketio.test_client(app, namespace=NS, flask_test_client=moderator)
    try:
        seen = Received(sock)
        first = wait_until(lambda: seen.named("health"))[0]
        assert [(s["name"], s["verdict"]) for s in first["sources"]] == [("x", "ok")]
        health.record("x", state="failing", last_error="the platform answered 503")
        pushed = wait_until(lambda: [h for h in seen.named("health")
                                if h["sources"][0]["verdict"] == "failing"])
        assert pushed[0]["sources"][0]["summary"] == \
            "the last poll failed: the platform answered 503"
        asked = sock.emit("health", {}, namespace=NS, callback=True)
        assert asked["sources"][0]["verdict"] == "failing"
    finally:
        sock.disconnect(NS)


# -- every handler answers -----------------------------------------------------------------------

HANDLED = ("act", "catch_up", "editing", "editing_done", "page", "places", "public_id")


@pytest.mark.parametrize("event_name", HANDLED)
@pytest.mark.parametrize("payload", [(), ("approve",), ({"qid": 12},), (None,)],
                         ids=["missing", "a string", "a bad qid", "null"])
def test_every_handler_answers_a_missing_or_malformed_payload(socket_client: Any,
                                                              event_name: str,
                                                              payload: tuple[Any, ...]) -> None:
    reply = socket_client.emit(event_name, *payload, namespace=NS, callback=True)
    assert reply["ok"] is False and reply["error"], reply
    if event_name == "catch_up":
        assert reply["reload"] is True  # what the page does then: start from a snapshot


def test_unexpected_details_are_refused_by_name_not_by_a_crash(socket_client: Any,
                                                               store: Store) -> None:
    (qid,) = _ingest(store, "Who pays?")
    reply = socket_client.emit("act", {"action": "approve", "qid": qid, "version": 1,
                                       "params": {"actor": "kim", "qid": "x:other"}},
                               namespace=NS, callback=True)
    assert reply == {"ok": False, "error": "unexpected details for approve: actor, qid"}
    assert store.question(qid).state == "new"


@pytest.mark.parametrize("action", sorted(set(ACTIONS) - {"clear"}))
def test_an_action_may_carry_the_params_its_row_names_and_no_others(socket_client: Any,
                                                                     store: Store,
                                                                     action: str) -> None:
    (qid,) = _ingest(store, "Who pays?")
    named = {param.name: "" for param in ACTIONS[action].params}
    reply = socket_client.emit("act", {"action": action, "qid": qid, "version": 0,
                                       "params": {**named, "shout": "now"}},
                               namespace=NS, callback=True)
    assert reply == {"ok": False, "error": f"unexpected details for {action}: shout"}
    reply = _act(socket_client, store, action, qid, **named)
    assert "unexpected details" not in reply.get("error", ""), reply


def test_a_row_added_to_the_table_has_its_params_accepted(socket_client: Any, store: Store,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pin = Action(name="pin", sources=frozenset({"new"}), asks="text",
                 params=(Param(name="words", kind="text", max=80, what="a pinned note"),),
                 label="Pin a note", done="pinned a note to")
    monkeypatch.setitem(ACTIONS, "pin", pin)
    (qid,) = _ingest(store, "Who pays?")
    # Its cap is its param's one field: refused past it in words, and the console is told it.
    assert _act(socket_client, store, "pin", qid, words="w" * 81) == {
        "ok": False, "error": "a pinned note is at most 80 characters; this one has 81"}
    assert pin.to_config(0)["limits"] == {"words": 80}
    assert _act(socket_client, store, "pin", qid, words="seen before")["ok"] is True
    assert _act(socket_client, store, "pin", qid, note="seen before") == {
        "ok": False, "error": "unexpected details for pin: note"}


def test_an_internal_error_is_answered_and_logged(app: Flask, socket_client: Any, store: Store,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    (qid,) = _ingest(store, "Is it on?")

    def broken(*args: Any, **kwargs: Any) -> str:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(app.extensions["floor"].moderation, "apply", broken)
    reply = _act(socket_client, store, "approve", qid)
    assert reply == {"ok": False, "error": "the server could not handle act (the error is in its "
                                           "log)"}
    assert "socket: act failed" in caplog.text and "a bug of ours" in caplog.text


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def outage(redis_url: str, settings: Any) -> Iterator[tuple[Flask, Callable[[], None]]]:
    """An app on its own Redis client, and a switch that takes that Redis away."""
    from web import create_app

    own = client_from_url(redis_url)
    app = create_app(settings, own, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False,
                                                 "RATELIMIT_ENABLED": False})
    Accounts(own, settings.event.slug).add(*MODERATOR)

    alive = own.connection_pool

    def cut() -> None:
        own.connection_pool = redis.ConnectionPool(host="127.0.0.1", port=_closed_port(),
                                                   decode_responses=True)

    yield app, cut
    app.extensions["floor"].feed.stop()
    alive.disconnect()


def test_every_handler_answers_while_redis_is_down(outage: tuple[Flask, Callable[[], None]],
                                                   store: Store) -> None:
    app, cut = outage
    (qid,) = _ingest(store, "Is the river clean?")
    http = app.test_client()
    assert http.post("/login", data={"username": MODERATOR[0],
                                     "password": MODERATOR[1]}).status_code == 302
    sock = socketio.test_client(app, namespace=NS, flask_test_client=http)
    assert sock.is_connected(NS)
    cut()
    payloads = {"act": {"action": "approve", "qid": qid, "version": 1},
                "catch_up": {"after": "0-0"}, "editing": {"qid": qid},
                "editing_done": {"qid": qid}, "health": {},
                "page": {"list": "incoming", "after": None}, "places": {"qids": [qid]},
                "public_id": {"qid": qid}}
    for name, payload in payloads.items():
        reply = sock.emit(name, payload, namespace=NS, callback=True)
        assert reply["ok"] is False and reply["retry"] is True, (name, reply)
        assert "store is unavailable" in reply["error"]
    sock.disconnect(NS)


# -- an ended session is cut off -----------------------------------------------------------------

def test_every_handler_refuses_a_removed_moderator(app: Flask, socket_client: Any, store: Store,
                                                  conn: redis.Redis, event: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked at each event, not only by the sweep (held off here to see the check alone)."""
    from web import console

    monkeypatch.setattr(console._Consoles, "sweep", lambda self, server: [])
    (qid,) = _ingest(store, "Will it rain?")
    Accounts(conn, event).remove(MODERATOR[0])
    payloads = {"act": {"action": "approve", "qid": qid, "version": 1},
                "catch_up": {"after": "0-0"}, "editing": {"qid": qid},
                "editing_done": {"qid": qid}, "health": {},
                "page": {"list": "incoming", "after": None}, "places": {"qids": [qid]},
                "public_id": {"qid": qid}}
    for name, payload in payloads.items():
        reply = socket_client.emit(name, payload, namespace=NS, callback=True)
        assert reply["ok"] is False and reply["logged_out"] is True, (name, reply)


def test_removing_a_moderator_cuts_off_their_open_console(
        live_server: str, http: requests.Session, real_clients: list[sio.Client],
        store: Store, conn: redis.Redis, event: str) -> None:
    Accounts(conn, event).add(*KIM)
    kim_http = requests.Session()
    assert kim_http.post(f"{live_server}/login",
                         data={"username": KIM[0], "password": KIM[1]}).ok
    sam, sam_got = real_console(live_server, http, real_clients)
    kim, kim_got = real_console(live_server, kim_http, real_clients)
    Accounts(conn, event).remove(MODERATOR[0])
    wait_until(lambda: not sam.connected)  # the sweep, within about a second
    (qid,) = _ingest(store, "Does the removed moderator still see this?")
    wait_until(lambda: [e for e in kim_got.get("entry", []) if e["qid"] == qid])
    assert kim.connected
    assert not [e for e in sam_got.get("entry", []) if e["qid"] == qid]
