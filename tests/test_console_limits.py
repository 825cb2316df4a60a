"""Every free text a console sends has a limit it is told of and is refused past in words, and
the socket lives on (issue #19, item 5): an edit is as long as a question from /ask may be;
reasons, answer notes, notes to the chair and agenda titles have theirs. A message longer than
the socket takes at all is refused by the console before it is sent (tests/js/socket.test.mjs,
and in Chromium in tests/test_console_browser.py)."""

from __future__ import annotations

import html
import itertools
import json
import re
from typing import Any

import pytest
import redis
import requests
import socketio as sio
from flask.testing import FlaskClient

from aggregator.core.actions import ACTIONS, Refused
from aggregator.core.agenda import MAX_TITLE
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.notes import NOTE_MAX
from aggregator.core.question import Post
from aggregator.core.store import Store
from web import REQUEST_LIMIT
from web.ask import MAX_QUESTION

NS = "/console"
# The limits are the table's (each row's params: Param.max), and these tests take them from it.
REJECT_REASON_MAX = ACTIONS["reject"].limits["reason"]
ANSWER_NOTE_MAX = ACTIONS["answer_note"].limits["note"]
ASIDE_REASON_MAX = ACTIONS["set_aside"].limits["reason"]
_ids = itertools.count(50_000)


def _question(store: Store) -> str:
    post = Post("x", str(next(_ids)), "Will the library open on Sundays?", "Ann", "ann")
    (qid,) = store.ingest("x", [(normalise(post), {"id": post.native_id})])
    return qid


def _act(sock: Any, store: Store, qid: str, action: str, **params: Any) -> dict[str, Any]:
    question = store.question(qid)
    return sock.emit("act", {"action": action, "qid": qid, "params": params,  # type: ignore[no-any-return]
                             "version": question.version if question else 0},
                     namespace=NS, callback=True)


def test_the_console_is_told_every_limit_from_the_server(moderator: FlaskClient) -> None:
    page = moderator.get("/console").text
    found = re.search(r'<script id="floor-config" type="application/json">(.*?)</script>', page,
                      re.S)
    assert found is not None
    config = json.loads(html.unescape(found.group(1)))
    assert config["max_message"] == REQUEST_LIMIT
    assert config["actions"]["edit"]["limits"] == {"text": MAX_QUESTION}
    assert config["actions"]["reject"]["limits"] == {"reason": REJECT_REASON_MAX}
    assert config["actions"]["answer_note"]["limits"] == {"note": ANSWER_NOTE_MAX}
    assert config["actions"]["set_aside"]["limits"] == {"reason": ASIDE_REASON_MAX}
    assert (REJECT_REASON_MAX, ANSWER_NOTE_MAX, ASIDE_REASON_MAX) == (200, 1_000, 120)
    assert config["chair"]["note_max"] == NOTE_MAX
    assert config["chair"]["title_max"] == MAX_TITLE
    assert f'id="agenda-title" autocomplete="off" placeholder="New item" maxlength="{MAX_TITLE}"' \
        in page


# (action, parameter, limit, the refusal's words)
ACTS = [
    ("edit", "text", MAX_QUESTION, "an edited question is at most 1,000 characters, as long as "
                                   "a question from the form may be; this one has 1,001"),
    ("reject", "reason", REJECT_REASON_MAX, "a reason is at most 200 characters; this one has "
                                            "201"),
    ("set_aside", "reason", ASIDE_REASON_MAX, "a reason for setting it aside is at most 120 "
                                              "characters; this one has 121"),
]


@pytest.mark.parametrize(("action", "param", "limit", "words"), ACTS)
def test_a_free_text_just_over_its_limit_is_refused_in_words(
        socket_client: Any, store: Store, action: str, param: str, limit: int,
        words: str) -> None:
    qid = _question(store)
    before = store.last_log_id()
    reply = _act(socket_client, store, qid, action, **{param: "w" * (limit + 1)})
    assert reply == {"ok": False, "error": words}
    assert store.last_log_id() == before  # nothing was written
    reply = _act(socket_client, store, qid, action, **{param: "w" * limit})
    assert reply["ok"], reply
    entry = store.log_after(before)[-1]
    assert entry.type == action
    kept = store.question(qid).text if action == "edit" else entry.extra["reason"]  # type: ignore[union-attr]
    assert kept == "w" * limit  # taken whole, not cut short


def test_an_answer_note_too_long_is_refused_in_words(store: Store, conn: redis.Redis,
                                                     event: str) -> None:
    # Not sent by the console yet (`floor answer-note`): the same rule, in the engine.
    qid = _question(store)
    moderation = Moderation(conn, event)
    with pytest.raises(Refused, match="^an answer note is at most 1,000 characters; this one "
                                      "has 1,001$"):
        moderation.apply("answer_note", qid, 1, "sam", note="a" * (ANSWER_NOTE_MAX + 1))
    moderation.apply("answer_note", qid, 1, "sam", note="a" * ANSWER_NOTE_MAX)
    assert store.question(qid).answer_note == "a" * ANSWER_NOTE_MAX  # type: ignore[union-attr]


def test_a_reject_of_several_checks_its_reason_too(socket_client: Any, store: Store) -> None:
    qids = [_question(store), _question(store)]
    reply = socket_client.emit("act", {"action": "reject", "params": {
        "reason": "r" * (REJECT_REASON_MAX + 1)}, "targets": [
        {"qid": qid, "version": store.question(qid).version} for qid in qids]},  # type: ignore[union-attr]
        namespace=NS, callback=True)
    assert reply == {"ok": False, "error": "a reason is at most 200 characters; this one has 201"}


def test_a_note_to_the_chair_and_an_agenda_title_too_long_are_refused_in_words(
        socket_client: Any) -> None:
    reply = socket_client.emit("note", {"text": "n" * (NOTE_MAX + 1)}, namespace=NS,
                               callback=True)
    assert reply == {"ok": False, "error": "a note to the chair is at most 200 characters, so "
                                           "the chair sees it whole; this one has 201"}
    reply = socket_client.emit("agenda_change", {"op": "add", "title": "t" * (MAX_TITLE + 1)},
                               namespace=NS, callback=True)
    assert reply == {"ok": False, "error": "an agenda item's title is at most 80 characters, "
                                           "so the board shows it whole; this one has 81"}
    reply = socket_client.emit("agenda_change", {"op": "add", "title": "t" * MAX_TITLE},
                               namespace=NS, callback=True)
    assert reply["ok"], reply


@pytest.mark.slow
def test_after_an_edit_refused_as_too_long_the_socket_goes_on(
        live_server: str, http: requests.Session, store: Store,
        real_clients: list[sio.Client]) -> None:
    client = sio.Client(http_session=http, reconnection=False)
    client.connect(live_server, namespaces=[NS], transports=["websocket"], wait_timeout=5)
    real_clients.append(client)
    qid = _question(store)
    version = store.question(qid).version  # type: ignore[union-attr]
    reply = client.call("act", {"action": "edit", "qid": qid, "version": version,
                                "params": {"text": "é" * (MAX_QUESTION + 1)}},
                        namespace=NS, timeout=5)
    assert reply["ok"] is False and "at most 1,000 characters" in reply["error"]
    assert client.connected
    reply = client.call("act", {"action": "approve", "qid": qid, "version": version},
                        namespace=NS, timeout=5)
    assert reply["ok"], reply
    assert store.question(qid).state == "approved"  # type: ignore[union-attr]
