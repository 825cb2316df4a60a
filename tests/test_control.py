"""The remote control API: tokens, the four commands and the status, refusals, rate limits."""

from __future__ import annotations

import subprocess
import sys
import threading

import redis
from flask.testing import FlaskClient

from aggregator.base.settings import Settings
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.followers.ledger import Ledger
from web import create_app
from web.control import ControlTokens


def _ingest_and_queue(store: Store, count: int) -> list[str]:
    from aggregator.core.moderation import Moderation

    qids = store.ingest("web", [(normalise(Post("web", f"c{i}", f"Question number {i} about "
                                                 "the new hospital wing and its parking?")), {})
                                for i in range(count)])
    mod = Moderation(store.conn, store.keys.event)
    for qid in qids:
        question = store.question(qid)
        assert question is not None
        mod.apply("approve", qid, question.version, "ana")
    return qids


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_next_answer_back_clear_and_status(client: FlaskClient, store: Store,
                                           event: str) -> None:
    secret, _ = ControlTokens(store.conn, event).create("stream deck")
    auth = _bearer(secret)
    qids = _ingest_and_queue(store, 3)
    assert client.get("/control/status", headers=auth).json == {
        "ok": True, "on_air": False, "current": "", "id": "", "queue": 3}
    reply = client.post("/control/next", headers=auth)
    assert reply.status_code == 200 and reply.json["on_air"] is True
    assert reply.json["current"] == "Question number 0 about the new hospital wing"
    ledger = Ledger(store.conn, event)
    ledger.catch_up()  # the id the record shows, which `floor answer-note` takes
    assert client.get("/control/status", headers=auth).json["id"] == \
        ledger.public_ids([qids[0]])[qids[0]]
    assert store.conn.get(store.keys.screen) == qids[0]
    refused = client.post("/control/next", headers=auth)  # one on screen already
    assert refused.status_code == 409 and "on screen" in refused.json["error"]
    assert client.post("/control/answer", headers=auth).status_code == 200
    question = store.question(qids[0])
    assert question is not None and question.state == "answered"
    assert question.last_actor == "control:stream deck"
    stale = client.post("/control/answer", headers=auth)  # nothing on screen now
    assert stale.status_code == 409 and stale.json["error"] == "nothing is on screen"
    assert client.post("/control/next", headers=auth).status_code == 200
    assert client.post("/control/back", headers=auth).json["queue"] == 2
    assert store.conn.zrange(store.keys.queue, 0, 0) == [qids[1]]
    assert client.post("/control/next", headers=auth).status_code == 200
    assert client.post("/control/clear", headers=auth).json["on_air"] is False
    entries = [e for e in store.log_after("0-0", count=100) if e.actor.startswith("control:")]
    assert [e.type for e in entries] == ["screen", "answer", "screen", "unscreen", "screen",
                                         "clear"]


def test_status_names_the_question_in_its_public_text(client: FlaskClient, store: Store,
                                                      event: str) -> None:
    from aggregator.core.moderation import Moderation

    auth = _bearer(ControlTokens(store.conn, event).create("deck")[0])
    (qid,) = store.ingest("web", [(normalise(Post("web", "p1", "#APM2026 Ring 07911 123456 "
                                                  "about the wing?")), {})])
    Moderation(store.conn, event).apply("screen", qid, 1, "ana")
    assert client.get("/control/status", headers=auth).json["current"] == \
        "Ring ████████████ about the wing?"


def test_a_flood_of_presses_puts_one_question_on_screen(app: object, store: Store,
                                                        event: str) -> None:
    secret, _ = ControlTokens(store.conn, event).create("deck")
    _ingest_and_queue(store, 5)
    codes: list[int] = []

    def press() -> None:
        with app.test_client() as own:  # type: ignore[attr-defined]
            codes.append(own.post("/control/next", headers=_bearer(secret)).status_code)

    presses = [threading.Thread(target=press) for _ in range(12)]
    for thread in presses:
        thread.start()
    for thread in presses:
        thread.join()
    assert sorted(codes) == [200] + [409] * 11
    on_screen = [q for q in store.snapshot().questions if q["state"] == "on_screen"]
    assert len(on_screen) == 1


def test_a_revoked_or_wrong_token_is_refused(client: FlaskClient, store: Store,
                                             event: str) -> None:
    tokens = ControlTokens(store.conn, event)
    secret, token = tokens.create("deck")
    assert client.get("/control/status", headers=_bearer(secret)).status_code == 200
    assert tokens.revoke(token)
    for headers in (_bearer(secret), _bearer("floor-control-guess"), {}):
        reply = client.post("/control/next", headers=headers)
        assert reply.status_code == 401 and "control token" in reply.json["error"]
    assert store.conn.hlen(store.keys.control_tokens) == 0


def test_presses_are_rate_limited(settings: Settings, conn: redis.Redis, store: Store,
                                  event: str) -> None:
    app = create_app(settings, conn, test_config={"TESTING": True})  # limits on
    secret, _ = ControlTokens(conn, event).create("deck")
    client = app.test_client()
    replies = [client.get("/control/status", headers=_bearer(secret)) for _ in range(8)]
    replies += [client.post("/control/next", headers=_bearer(secret)) for _ in range(2)]
    app.extensions["floor"].feed.stop()
    codes = [reply.status_code for reply in replies]
    assert codes[:5] == [200] * 5 and 429 in codes[5:]
    for reply in replies:  # a limit is a control answer like any other: JSON with ok
        assert reply.is_json and reply.json["ok"] is (reply.status_code == 200), reply.data
    limited = next(reply for reply in replies if reply.status_code == 429)
    assert limited.json["error"].startswith("Too Many Requests")


def test_tokens_from_the_command_line(floor_env: dict[str, str], store: Store) -> None:
    floor = [sys.executable, "-m", "cli", "control-token"]
    made = subprocess.run([*floor, "create", "top table deck"], env=floor_env,
                          capture_output=True, text=True, timeout=60, check=True)
    secret = made.stdout.splitlines()[-1]
    assert secret.startswith("floor-control-")
    assert secret not in store.conn.hgetall(store.keys.control_tokens).__repr__()
    listed = subprocess.run([*floor, "list"], env=floor_env, capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert "top table deck" in listed and secret not in listed
    subprocess.run([*floor, "revoke", "top table deck"], env=floor_env, capture_output=True,
                   text=True, timeout=60, check=True)
    assert ControlTokens(store.conn, store.keys.event).find(secret) is None
