"""The public question form: the ``web`` source, CSRF, the length cap, the rate limit and the
same question sent twice."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from aggregator.base.settings import Settings
from aggregator.core.store import Store
from web import create_app
from web.ask import ASK_LIMIT, MAX_QUESTION, REPEAT_WINDOW

AGREED = {"consent": "y"}


def _web_questions(store: Store) -> list[dict]:
    return [q for q in store.snapshot().questions if q["platform"] == "web"]


def test_the_form_has_labels_and_says_how_questions_are_used(client: FlaskClient) -> None:
    page = client.get("/ask").text
    for field in ("name", "question", "consent"):
        assert re.search(rf'<label for="{field}"', page), field
    assert "read out at the meeting" in page and "live stream" in page
    assert f'maxlength="{MAX_QUESTION}"' in page
    policy = client.get("/ask").headers["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_a_question_enters_the_pipeline_as_the_web_source(client: FlaskClient,
                                                          store: Store) -> None:
    response = client.post("/ask", data={"name": "Rhiannon Price",
                                         "question": "Will the  minor injuries unit reopen?",
                                         **AGREED})
    assert response.status_code == 303 and response.headers["Location"] == "/ask?sent=1"
    assert "your question was sent" in client.get(response.headers["Location"]).text
    (question,) = _web_questions(store)
    assert re.fullmatch(r"web:[0-9a-f]{32}", question["id"])
    assert question["text"] == "Will the minor injuries unit reopen?"  # normalised
    assert question["author_name"] == "Rhiannon Price" and question["state"] == "new"
    assert "question" in question["flags"]
    (entry,) = store.log_after()
    assert (entry.type, entry.actor, entry.qid) == ("received", "web", question["id"])
    assert store.raw(question["id"])["question"] == "Will the  minor injuries unit reopen?"


def test_the_name_is_optional(client: FlaskClient, store: Store) -> None:
    assert client.post("/ask", data={"question": "Why?", **AGREED}).status_code == 303
    assert _web_questions(store)[0]["author_name"] == ""


def test_hostile_text_is_cleaned_and_kept(client: FlaskClient, store: Store) -> None:
    client.post("/ask", data={"name": "<b>Eve</b>", "question": "<script>x()</script>Why?",
                              **AGREED})
    (question,) = _web_questions(store)
    assert question["text"] == "Why?" and question["author_name"] == "Eve"
    assert question["original"] == "<script>x()</script>Why?" and "markup" in question["flags"]


@pytest.mark.parametrize("data, problem", [
    ({"question": "Why?"}, "tick the box"),
    ({"question": "", **AGREED}, "write your question"),
    ({"question": "   ", **AGREED}, "write your question"),
    ({"question": "<p></p>", **AGREED}, "write your question"),
    ({"question": "x" * (MAX_QUESTION + 1), **AGREED}, f"under {MAX_QUESTION} characters"),
    ({"question": "Why?", "name": "n" * 101, **AGREED}, "Field cannot be longer"),
])
def test_what_cannot_be_sent(client: FlaskClient, store: Store, data: dict,
                             problem: str) -> None:
    response = client.post("/ask", data=data)
    assert response.status_code == 400
    assert problem in response.text and 'aria-invalid="true"' in response.text
    assert _web_questions(store) == []


def test_the_form_needs_its_csrf_token(strict_app: Flask, store: Store) -> None:
    client = strict_app.test_client()
    refused = client.post("/ask", data={"question": "Forged?", **AGREED})
    assert refused.status_code == 400 and "security check" in refused.text
    assert _web_questions(store) == []
    page = client.get("/ask").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    sent = client.post("/ask", data={"question": "Genuine?", "csrf_token": token[1], **AGREED})
    assert sent.status_code == 303
    assert [q["text"] for q in _web_questions(store)] == ["Genuine?"]


def test_the_form_is_rate_limited_per_client(strict_app: Flask, store: Store) -> None:
    strict_app.config["WTF_CSRF_ENABLED"] = False
    per_minute = int(ASK_LIMIT.split()[0])
    me = strict_app.test_client()
    for i in range(per_minute):
        assert me.post("/ask", data={"question": f"Question {i}?", **AGREED}).status_code == 303
    refused = me.post("/ask", data={"question": "One too many?", **AGREED})
    assert refused.status_code == 429 and "wait a few minutes" in refused.text
    assert len(_web_questions(store)) == per_minute
    someone_else = me.post("/ask", data={"question": "From elsewhere?", **AGREED},
                           environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert someone_else.status_code == 303


# -- the same question twice ------------------------------------------------------------------

def test_the_same_question_twice_from_one_browser_is_one(client: FlaskClient,
                                                         store: Store) -> None:
    first = client.post("/ask", data={"question": "Will the library open on Sundays?", **AGREED})
    assert first.headers["Location"] == "/ask?sent=1"
    # Normalised as every post is: the same words with another space are the same question.
    again = client.post("/ask", data={"question": "Will the library  open on Sundays? ",
                                      "name": "Sam", **AGREED})
    assert again.status_code == 303 and again.headers["Location"] == "/ask?sent=again"
    page = client.get(again.headers["Location"]).text
    assert "this question was already received" in page
    assert "your question was sent" not in page
    assert [q["text"] for q in _web_questions(store)] == ["Will the library open on Sundays?"]


def test_another_browser_or_another_question_is_another_question(app: Flask,
                                                                 store: Store) -> None:
    me, someone_else = app.test_client(), app.test_client()
    for browser, text in [(me, "Why is the bridge closed?"), (someone_else,
                          "Why is the bridge closed?"), (me, "When will the bridge reopen?")]:
        sent = browser.post("/ask", data={"question": text, **AGREED})
        assert sent.headers["Location"] == "/ask?sent=1", text
    assert sorted(q["text"] for q in _web_questions(store)) == [
        "When will the bridge reopen?", "Why is the bridge closed?", "Why is the bridge closed?"]


def test_the_mark_of_a_question_keeps_no_text_and_expires(client: FlaskClient, store: Store,
                                                          conn: redis.Redis) -> None:
    text = "Who audits the parking contract?"
    client.post("/ask", data={"question": text, **AGREED})
    (question,) = _web_questions(store)
    marks = [key for key in conn.scan_iter(store.keys.pattern)
             if key.startswith(store.keys.recently_asked(""))]
    assert len(marks) == 1 and 0 < conn.ttl(marks[0]) <= REPEAT_WINDOW
    holding = set()  # every key whose name or value holds the text
    for key in conn.scan_iter(store.keys.pattern):
        kind = conn.type(key)
        value = {"string": conn.get, "hash": conn.hgetall, "set": conn.smembers,
                 "zset": lambda k: conn.zrange(k, 0, -1), "stream": conn.xrange}[kind](key)
        if "parking contract" in f"{key} {value}":
            holding.add(key)
    assert holding == {store.keys.question(question["id"]), store.keys.log}


def test_a_double_click_across_web_processes_is_one_question(settings: Settings,
                                                             conn: redis.Redis,
                                                             store: Store) -> None:
    """Two web processes (apps that share only the event's Redis and the secret key) take
    the posts of one browser at the same moment: one question is stored."""
    config = {"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
              "SECRET_KEY": "shared by every web process"}
    apps = [create_app(settings, conn, test_config=config) for _ in range(2)]
    opened = apps[0].test_client()
    opened.get("/ask")  # the form: the browser's id is in its cookie before the first send
    cookie = opened.get_cookie("session")
    assert cookie is not None
    clients = []
    for i in range(8):
        browser = apps[i % 2].test_client()
        browser.set_cookie("session", cookie.value)
        clients.append(browser)
    start = threading.Barrier(len(clients))

    def send(browser: FlaskClient, text: str) -> str:
        start.wait()
        return browser.post("/ask", data={"question": text, **AGREED}).headers["Location"]

    texts = [f"Can we have more buses on route {n}?" for n in range(5)]
    with ThreadPoolExecutor(len(clients)) as pool:  # a few rounds: a race shows in one of them
        answers = [sorted(pool.map(send, clients, [text] * len(clients))) for text in texts]
    for app in apps:
        app.extensions["floor"].feed.stop()
    assert answers == [["/ask?sent=1"] + ["/ask?sent=again"] * 7] * len(texts)
    assert sorted(q["text"] for q in _web_questions(store)) == texts


def test_a_question_that_was_not_stored_can_be_sent_again(client: FlaskClient, store: Store,
                                                          conn: redis.Redis) -> None:
    client.get("/ask")  # the browser's id, in its cookie
    conn.set(store.keys.log, "not a stream")  # the store's script fails: WRONGTYPE
    with pytest.raises(redis.ResponseError):
        client.post("/ask", data={"question": "Is the pool reopening?", **AGREED})
    conn.delete(store.keys.log)
    again = client.post("/ask", data={"question": "Is the pool reopening?", **AGREED})
    assert again.headers["Location"] == "/ask?sent=1"
    assert [q["text"] for q in _web_questions(store)] == ["Is the pool reopening?"]
