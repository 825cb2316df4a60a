"""Fairness, live (aggregator/followers/fairness.py) and the console's record panel
(web/record_panel.py): the incremental counts equal a recount from scratch after any sequence of
changes, and a console is sent the ledger's head and the counts on connect and again when they
move."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import STATES, Post
from aggregator.core.store import Store
from aggregator.followers.fairness import REPEAT_SHOWN, WAITING, Fairness, author_of
from aggregator.followers.ledger import Ledger
from tests.fixtures.browser import open_console, serious
from tests.waiting import wait_until
from web.extensions import socketio

NS = "/console"


def recount(questions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The summary computed the slow, obvious way, from every question's last state."""
    platforms = []
    for platform in sorted({q["platform"] for q in questions.values()}):
        mine = [q for q in questions.values() if q["platform"] == platform]
        states = Counter(q["state"] for q in mine)
        waiting = sorted((q["received_at"], q["id"]) for q in mine if q["state"] in WAITING)
        oldest = None
        if waiting:
            q = questions[waiting[0][1]]
            oldest = {"qid": q["id"], "received_at": q["received_at"], "state": q["state"],
                      "text": q["text"][:100]}
        platforms.append({"platform": platform, "received": len(mine),
                          "answered": states["answered"], "on_screen": states["on_screen"],
                          "waiting": sum(states[s] for s in WAITING),
                          "rejected": states["rejected"], "grouped": states["grouped"],
                          "oldest_waiting": oldest})
    by_author: dict[Any, list[dict[str, Any]]] = {}
    for q in questions.values():
        author = author_of(q)
        if author is not None:
            by_author.setdefault(author, []).append(q)
    repeat = sorted((a for a, qs in by_author.items() if len(qs) > 1),
                    key=lambda a: (-len(by_author[a]), a))
    return {"total": len(questions), "platforms": platforms, "repeat_count": len(repeat),
            "repeat_askers": [
                {"platform": a[0], "author": a[1], "questions": len(by_author[a]),
                 "answered": sum(q["state"] == "answered" for q in by_author[a]),
                 "waiting": sum(q["state"] in WAITING for q in by_author[a])}
                for a in repeat[:REPEAT_SHOWN]]}


@pytest.mark.parametrize("seed", range(20))
def test_the_counts_kept_as_changes_come_equal_a_recount(seed: int) -> None:
    rng = random.Random(seed)
    fairness = Fairness()
    truth: dict[str, dict[str, Any]] = {}
    handles = ["@loud", "@Loud", "@quiet", "", "@third"]
    for step in range(400):
        if not truth or rng.random() < 0.3:
            qid = f"{rng.choice(['x', 'yt', 'fb'])}:{step}"
            q = {"id": qid, "platform": qid.split(":")[0], "state": "new", "version": 1,
                 "author_handle": rng.choice(handles), "author_name": rng.choice(["Ann", ""]),
                 "received_at": f"2026-05-14T10:{rng.randrange(60):02d}:00.000Z",
                 "text": f"question {step} " * 20}
        else:
            q = dict(truth[rng.choice(sorted(truth))])
            q["version"] += 1
            q["state"] = rng.choice(STATES)
            if rng.random() < 0.05:  # a purge empties the handle and name
                q["author_handle"] = q["author_name"] = ""
        truth[q["id"]] = q
        fairness.take(q)
        if rng.random() < 0.1 and q["version"] > 1:  # an old copy arriving late changes nothing
            assert not fairness.take({**q, "version": q["version"] - 1, "state": "rejected"})
        if step % 37 == 0:
            assert fairness.summary() == recount(truth)
    assert fairness.summary() == recount(truth)


def test_an_author_is_one_voice_per_platform_and_handles_ignore_case() -> None:
    fairness = Fairness()
    for i, (platform, handle) in enumerate([("x", "@Loud"), ("x", "@loud"), ("yt", "@loud")]):
        fairness.take({"id": f"{platform}:{i}", "platform": platform, "state": "answered",
                       "version": 1, "author_handle": handle, "received_at": "", "text": ""})
    summary = fairness.summary()
    assert summary["repeat_count"] == 1
    assert summary["repeat_askers"] == [{"platform": "x", "author": "@loud", "questions": 2,
                                         "answered": 2, "waiting": 0}]


def _ingest(store: Store, *posts: tuple[str, str, str]) -> list[str]:
    made = [Post(platform, native, f"Question {native}?", "Someone", handle)
            for platform, native, handle in posts]
    return store.ingest("rehearsal", [(normalise(p), {}) for p in made])


def _panels(sock: Any, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen += [m["args"][0] for m in sock.get_received(NS) if m["name"] == "record"]
    return seen


def test_a_console_is_sent_the_head_and_fairness_and_then_their_changes(
        app: Flask, moderator: FlaskClient, store: Store, conn: redis.Redis, event: str) -> None:
    qids = _ingest(store, ("x", "1", "@loud"), ("x", "2", "@loud"), ("yt", "3", "@other"))
    ledger = Ledger(conn, event)
    ledger.catch_up()
    sock = socketio.test_client(app, namespace=NS, flask_test_client=moderator)
    try:
        seen: list[dict[str, Any]] = []
        first = wait_until(lambda: _panels(sock, seen))[0]
        assert first["head"] == {"count": 3, "hash": ledger.head().hash}
        assert first["lag"] == 0
        x = first["fairness"]["platforms"][0]
        assert (x["platform"], x["received"], x["waiting"], x["answered"]) == ("x", 2, 2, 0)
        assert x["oldest_waiting"]["qid"] == qids[0]
        assert first["fairness"]["repeat_askers"][0]["author"] == "@loud"

        moderation = Moderation(conn, event)
        moderation.apply("approve", qids[0], 1, "sam")
        moderation.apply("screen", qids[0], 2, "sam", then="answered")
        moderation.apply("answer", qids[0], 3, "sam")
        # The panel says entries wait to be chained, then (the writer caught up) the new head.
        wait_until(lambda: any(p["lag"] == 3 for p in _panels(sock, seen)))
        ledger.catch_up()
        last = wait_until(lambda: [p for p in _panels(sock, seen) if p["head"]["count"] == 6])[-1]
        assert last["head"]["hash"] == ledger.head().hash and last["lag"] == 0
        x = last["fairness"]["platforms"][0]
        assert (x["answered"], x["waiting"]) == (1, 1)
        assert x["oldest_waiting"]["qid"] == qids[1]
    finally:
        sock.disconnect(NS)


@pytest.mark.browser
def test_the_console_draws_the_panel_live_and_accessibly(
        browser: Any, live_server: str, store: Store, conn: redis.Redis, event: str) -> None:

    qids = _ingest(store, ("x", "11", "@loud"), ("x", "12", "@loud"), ("yt", "13", ""))
    ledger = Ledger(conn, event)
    ledger.catch_up()
    contexts: list[Any] = []
    try:
        page = open_console(browser, contexts, live_server, bypass_csp=True)
        panel = page.locator("#record-panel")
        head = panel.locator("[data-head]")
        head.filter(has_text=str(ledger.head())).wait_for()
        assert panel.locator("[data-lag]").is_hidden()
        rows = panel.locator("[data-platforms] tr")
        rows.nth(1).wait_for()
        assert rows.nth(0).locator("th").inner_text() == "X"
        assert "@loud (X): 2 questions, 0 answered, 2 waiting" in panel.locator(
            "[data-askers]").inner_text()
        assert serious(page) == []
        Moderation(conn, event).apply("approve", qids[0], 1, "kim")
        panel.locator("[data-lag]").filter(has_text="1 entry not chained yet").wait_for()
        ledger.catch_up()
        head.filter(has_text=str(ledger.head())).wait_for()
        assert panel.locator("[data-lag]").is_hidden()
    finally:
        for context in contexts:
            context.close()
