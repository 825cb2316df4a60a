"""The public question form: the ``web`` source, CSRF, the length cap and the rate limit."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aggregator.store import Store
from web.ask import ASK_LIMIT, MAX_QUESTION

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
