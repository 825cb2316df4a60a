"""Search and filters on the server: the predicate (the same verdicts as the console's, on a
shared fixture), filtered pages walked in chunks across long lists (continued by cursor, no
question missed or sent twice against a filter over everything), and bad filters refused."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aggregator.core.columns import Columns
from aggregator.core.filters import TEXT_MAX, FilterError, Filters, parse, passes
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.search_index import TextIndex
from aggregator.core.store import Store
from web.extensions import socketio

NS = "/console"
FIXTURE = Path(__file__).parent / "js" / "fixtures" / "filters.json"
_ids = itertools.count(1)


def _ingest(store: Store, texts: list[str]) -> list[str]:
    posts = [Post(["x", "fb", "ig"][n % 3], f"s{next(_ids)}", text, f"Author {n}", f"a{n}")
             for n, text in enumerate(texts)]
    ids: list[str] = []
    for start in range(0, len(posts), 500):
        ids += store.ingest("x", [(normalise(p), {}) for p in posts[start:start + 500]])
    return ids


def _walk(columns: Columns, name: str, filters: Filters, after: Any = None,
          **limits: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Every match of a list, page after page from the cursor each reply gives; the replies."""
    found: list[str] = []
    replies: list[dict[str, Any]] = []
    while True:
        reply = columns.search(name, after, filters, **limits)
        replies.append(dict(reply))
        found += reply["page"]["ids"]
        assert [q["id"] for q in reply["questions"]] == reply["page"]["ids"]
        if not reply["page"]["more"]:
            return found, replies
        assert reply["edge"] != after, "a reply that says more must move the cursor"
        after = reply["edge"]


def _everything(store: Store, state: str, f: Filters) -> list[str]:
    return [q["id"] for q in store.snapshot().questions if q["state"] == state
            and passes(q, f)]


# -- the predicate, as the console has it ------------------------------------------------------

def test_the_predicate_gives_the_shared_fixtures_verdicts() -> None:
    """tests/js/search.test.mjs runs the console's passes() over the same cases."""
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for case in fixture["cases"]:
        f = parse(case["filters"])
        got = [q["id"] for q in fixture["questions"] if passes(q, f, fixture["agenda"])]
        assert got == case["passes"], case["filters"]


@pytest.mark.parametrize("raw, words", [
    ("mill", "must be an object"), ([], "must be an object"), ({"text": 5}, "text"),
    ({"text": "a" * (TEXT_MAX + 1)}, f"at most {TEXT_MAX}"), ({"colour": "red"}, "unknown"),
    ({"platform": "tiktok"}, "no platform"), ({"state": "gone"}, "no state"),
    ({"flag": "<script>"}, "flag"), ({"questions": "yes"}, "true or false"),
    ({"item": "i" * 500}, "at most"), ({"platform": ["x"]}, "text"),
])
def test_bad_filters_are_refused_with_words(raw: Any, words: str) -> None:
    with pytest.raises(FilterError, match=words):
        parse(raw)


# -- filtered pages ------------------------------------------------------------------------------

def test_a_filtered_walk_across_many_chunks_misses_nothing_and_repeats_nothing(
        store: Store) -> None:
    texts = [f"Question {n} about {'the park' if n % 7 == 0 else 'roads'}?" for n in range(1200)]
    _ingest(store, texts)
    f = parse({"text": "the park"})
    expected = _everything(store, "new", f)
    assert len(expected) == 172
    # Chunks of 50 and at most 120 questions scanned a reply: many replies, some with no match.
    found, replies = _walk(store.columns, "incoming", f, limit=30, chunk=50, scan_max=120)
    assert found == expected
    assert len(replies) >= 8
    progress = [r["scanned"] for r in replies]
    assert progress == sorted(progress) and progress[-1] == 1200
    assert all(r["count"] == 1200 for r in replies)
    newest, _ = _walk(store.columns, "incoming_newest", f, limit=7, chunk=64)
    assert newest == expected[::-1]


def test_a_walk_stops_at_its_limit_and_goes_on_from_the_match(store: Store) -> None:
    _ingest(store, [f"Needle {n}" if n in (3, 4, 5, 90) else f"Hay {n}" for n in range(100)])
    f = parse({"text": "needle"})
    first = store.columns.search("incoming", None, f, limit=2, chunk=40)
    assert [q["text"] for q in first["questions"]] == ["Needle 3", "Needle 4"]
    assert first["edge"][1] == first["page"]["ids"][-1] and first["page"]["more"] is True
    assert first["scanned"] == 5
    rest = store.columns.search("incoming", first["edge"], f, limit=2, chunk=40)
    assert [q["text"] for q in rest["questions"]] == ["Needle 5", "Needle 90"]


def test_a_walk_bounded_by_its_budget_reports_how_far_it_got(store: Store) -> None:
    _ingest(store, [f"Hay {n}" for n in range(300)] + ["Needle"])
    reply = store.columns.search("incoming", None, parse({"text": "needle"}), chunk=50,
                                 scan_max=100)
    assert reply["page"]["ids"] == [] and reply["page"]["more"] is True
    assert reply["scanned"] == 100 and reply["count"] == 301


def test_set_aside_lists_and_the_queue_are_walked_in_their_order(store: Store) -> None:
    ids = _ingest(store, [f"Q{n} {'bins' if n % 2 else 'parks'}?" for n in range(40)])
    moderation = Moderation(store.conn, store.keys.event)
    for qid in ids[:16]:
        moderation.apply("approve", qid, 1, "kim")
    for qid in ids[16:30]:
        moderation.apply("reject", qid, 1, "kim", reason="off topic")
    f = parse({"text": "bins"})
    rejected, _ = _walk(store.columns, "rejected", f, limit=3, chunk=4)
    order = store.columns.page("rejected", None, 100)["page"]["ids"]
    assert rejected == [qid for qid in order if qid in set(_everything(store, "rejected", f))]
    queue, replies = _walk(store.columns, "queue", f, after=0, limit=3, chunk=5)
    assert queue == [qid for qid in ids[:16] if ids.index(qid) % 2]
    assert replies[-1]["scanned"] == 16 and replies[0]["page"]["scores"] == []


def test_a_state_filter_of_another_list_answers_at_once(store: Store) -> None:
    _ingest(store, ["one?", "two?"])
    reply = store.columns.search("incoming", None, parse({"state": "rejected"}), chunk=1)
    assert reply["page"] == {"ids": [], "scores": [], "more": False}
    assert reply["scanned"] == reply["count"] == 2


def test_the_agenda_item_filter_reads_the_agenda(store: Store) -> None:
    ids = _ingest(store, ["bins?", "parks?", "roads?"])
    store.conn.hset(store.keys.agenda, "i1", json.dumps({"title": "Bins", "keywords": [],
                                                         "position": 1}))
    for qid, item in zip(ids, ["i1", "", "i9"], strict=True):
        data = json.loads(store.conn.hget(store.keys.question(qid), "data") or "{}")
        store.conn.hset(store.keys.question(qid), "data", json.dumps({**data, "item": item}))
    tagged = store.columns.search("incoming", None, parse({"item": "i1"}))
    assert tagged["page"]["ids"] == ids[:1]
    untagged = store.columns.search("incoming", None, parse({"item": "-"}))
    assert untagged["page"]["ids"] == ids[1:]  # i9 names no item: counted as none


# -- over the socket -----------------------------------------------------------------------------

def test_a_filtered_page_over_the_socket(app: Flask, moderator: FlaskClient,
                                         store: Store) -> None:
    ids = _ingest(store, [f"{'Budget' if n % 50 == 0 else 'Other'} question {n}?"
                          for n in range(1100)])
    sock = socketio.test_client(app, namespace=NS, flask_test_client=moderator)
    try:
        after: Any = None
        found: list[str] = []
        while True:
            reply = sock.emit("page", {"list": "incoming", "after": after, "limit": 10,
                                       "filters": {"text": "budget", "platform": ""}},
                              namespace=NS, callback=True)
            assert reply["ok"] is True, reply
            found += reply["page"]["ids"]
            if not reply["page"]["more"]:
                break
            after = reply["edge"]
        assert found == ids[::50]
        plain = sock.emit("page", {"list": "incoming", "after": None, "limit": 5,
                                   "filters": {"text": ""}}, namespace=NS, callback=True)
        assert plain["page"]["ids"] == ids[:5] and "edge" not in plain  # no filter: a page
    finally:
        sock.disconnect(NS)


@pytest.mark.parametrize("filters", [
    "budget", 7, {"text": None, "state": 3}, {"text": "x" * 10_000}, {"text": "a", "x": 1},
    {"questions": 1}, {"platform": "x" * 1000},
])
def test_bad_filters_over_the_socket_are_a_bad_request(socket_client: Any,
                                                       filters: Any) -> None:
    reply = socket_client.emit("page", {"list": "incoming", "after": None, "filters": filters},
                               namespace=NS, callback=True)
    assert reply["ok"] is False and reply["error"], reply
    assert "could not handle" not in reply["error"]  # named as a bad request, not a bug
    assert len(reply["error"]) < 300


def test_places_names_arrival_numbers_and_refuses_bad_input(socket_client: Any,
                                                            store: Store) -> None:
    ids = _ingest(store, ["first?", "second?", "third?"])
    reply = socket_client.emit("places", {"qids": [ids[2], "x:nowhere", ids[0]]}, namespace=NS,
                               callback=True)
    arrivals = store.conn.zrange(store.keys.questions, 0, -1, withscores=True)
    assert reply == {"ok": True, "places": {ids[2]: int(arrivals[2][1]),
                                            ids[0]: int(arrivals[0][1])}}
    for bad in ({"qids": []}, {"qids": ["x"] * 201}, {"qids": [7]}, {"qids": "x:1"}, None):
        reply = socket_client.emit("places", bad, namespace=NS, callback=True)
        assert reply["ok"] is False and "question ids" in reply["error"], bad


def test_redis_pre_screening_never_drops_a_match(store: Store) -> None:
    """Redis passes on only projections whose JSON holds the search (ASCII letters lowered); a
    character whose lower case is ASCII, or a projection written with \\u escapes, is passed on
    for the predicate to decide."""
    ids = _ingest(store, ["\u212aELVIN scale?", "X\u0130 case?", "Plain kelvin?", "Nothing here"])
    escaped, raw = ids[3], ids[2]
    data = json.loads(store.conn.hget(store.keys.question(escaped), "data") or "{}")
    store.conn.hset(store.keys.question(escaped), "data",
                    json.dumps({**data, "text": "Escaped \u212aelvin"}, ensure_ascii=True))
    # Ingest folds the Kelvin sign to K (NFKC); an edit or an older projection need not.
    data = json.loads(store.conn.hget(store.keys.question(raw), "data") or "{}")
    store.conn.hset(store.keys.question(raw), "data", json.dumps(
        {**data, "text": "Raw \u212aelvin", "original": "Raw \u212aelvin"}, ensure_ascii=False))
    for text in ("kelvin", "xi", "elvin", "nothing"):
        f = parse({"text": text})
        expected = _everything(store, "new", f)
        found, _ = _walk(store.columns, "incoming", f, chunk=2)
        assert found == expected, text
    assert _walk(store.columns, "incoming", parse({"text": "kelvin"}))[0] == [ids[0], raw,
                                                                             escaped]
    assert _walk(store.columns, "incoming", parse({"text": "xi"}))[0] == [ids[1]]


def test_an_indexed_walk_follows_edits_undo_and_questions_leaving_the_list(
        store: Store) -> None:
    ids = _ingest(store, [f"Question {n} about {'the lighthouse' if n % 9 == 0 else 'roads'}?"
                          for n in range(600)])
    index = TextIndex()
    assert index.claim_build() and not index.claim_build()
    index.build(store.conn, store.keys)
    assert index.ready
    tail = store.last_log_id()
    moderation = Moderation(store.conn, store.keys.event)
    moderation.apply("edit", ids[1], 1, "kim", text="Now about the lighthouse too?")
    moderation.apply("edit", ids[2], 1, "kim", text="The lighthouse, briefly?")
    moderation.apply("undo", ids[2], 2, "kim")  # back to roads
    moderation.apply("approve", ids[18], 1, "kim")  # leaves Incoming
    late = _ingest(store, ["A late lighthouse question?"])  # not from the tail yet
    for entry in store.log_after(tail):  # what the web process's tail gives it
        if entry.id != store.last_log_id():
            index.take(entry.id, entry.qs)
    f = parse({"text": "lighthouse"})
    expected = _everything(store, "new", f)
    assert ids[1] in expected and late[0] in expected
    assert ids[2] not in expected and ids[18] not in expected and ids[27] in expected
    found, replies = _walk(store.columns, "incoming", f, limit=7, chunk=100, index=index)
    assert found == expected  # a few matches: looked up in the index, placed in the list
    assert replies[-1]["scanned"] == replies[-1]["count"] == 600
    common = parse({"text": "question"})  # in every text: the list walked, its ids only
    found, replies = _walk(store.columns, "incoming", common, limit=150, chunk=100, index=index,
                           few=100)
    assert found == _everything(store, "new", common) and len(replies) == 4
    newest, _ = _walk(store.columns, "incoming_newest", f, limit=4, index=index)
    assert newest == expected[::-1]
    # The index chooses which projections are read (a question it does not know always is);
    # the predicate judges them.
    assert not index.may_match(ids[3], "lighthouse") and index.may_match(ids[0], "lighthouse")
    assert index.may_match("x:unknown", "anything")
