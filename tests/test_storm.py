"""Storm controls (issue #13 item 4): mute an author, reject a selection, reject a cluster.

The model machine in tests/test_moderation.py covers the rules; these tests follow the
storm's own stories end to end: ingest setting a muted author's posts aside, an unmute racing
a new post, a selection with a card someone changed meanwhile, and a real console socket.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import redis
import requests
import socketio as sio

from aggregator.core.actions import MUTED
from aggregator.core.moderation import Moderation, Refused, Step
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.followers.triage.assess import Finding
from aggregator.followers.triage.worker import TriageWorker
from tests.fixtures.consoles import NS, real_console
from tests.waiting import wait_until

_ids = itertools.count(1)


def post(store: Store, text: str, handle: str = "troll") -> str:
    p = Post("x", f"s{next(_ids)}", text, f"Name of {handle}", handle)
    (qid,) = store.ingest("x", [(normalise(p), {"id": p.native_id})])
    return qid


def state(store: Store, qid: str) -> tuple[str, str]:
    q = store.question(qid)
    assert q is not None
    return q.state, q.aside_reason


def v(store: Store, qid: str) -> int:
    q = store.question(qid)
    assert q is not None
    return q.version


@pytest.fixture
def mod(conn: redis.Redis, event: str) -> Moderation:
    return Moderation(conn, event)


def test_a_muted_authors_later_posts_are_set_aside_and_undo_brings_them_back(
        store: Store, mod: Moderation) -> None:
    first = post(store, "Spam one")
    other = post(store, "A real question from someone else?", handle="ann")
    mod.apply("mute", first, 1, "sam")
    assert state(store, first) == ("held", MUTED)
    later = post(store, "Spam two")
    # Ingest held it, with the reason, in its "received" entry: no console shows it incoming.
    assert state(store, later) == ("held", MUTED)
    assert store.log_after()[-1].qs[0]["state"] == "held"
    held, fresh = store.keys.state("held"), store.keys.state("new")  # the console's indexes
    assert store.conn.zscore(held, later) and store.conn.zscore(fresh, later) is None
    assert state(store, post(store, "Another real one?", handle="ann")) == ("new", "")
    mod.apply("approve", other, 1, "kim")
    with pytest.raises(Refused, match="^troll on X is already muted$"):
        mod.apply("unhold", later, 1, "kim")  # a later post, brought back by hand...
        mod.apply("mute", later, 2, "kim")  # ...cannot mute again whom a mute holds
    mod.apply("undo", later, 2, "kim")  # held for the mute again
    before = store.last_log_id()
    mod.apply("undo", first, v(store, first), "kim")
    entries = store.log_after(before)
    # One entry per question changed: the undone card's, then each post brought back.
    assert [(e.type, e.qid) for e in entries][:2] == [("undo", first), ("unmute", later)]
    assert state(store, first) == ("new", "") and state(store, later) == ("new", "")
    assert state(store, post(store, "Spam four")) == ("new", "")


def test_unmute_from_any_card_of_the_author(store: Store, mod: Moderation) -> None:
    first = post(store, "Spam one", handle="bot")
    with pytest.raises(Refused, match="^bot on X is not muted$"):
        mod.apply("unmute", first, 1, "sam")
    mod.apply("mute", first, 1, "sam")
    later = post(store, "Spam two", handle="bot")
    mod.apply("hold", other := post(store, "Fine?", handle="ann"), 1, "sam")
    kept = post(store, "Spam three", handle="bot")
    mod.apply("unhold", kept, 1, "sam")
    mod.apply("hold", kept, 2, "sam")  # held again, by hand this time: not the mute's to undo
    mod.apply("unmute", later, v(store, later), "kim")
    # The muted card and the later post both come back; cards held by hand stay held.
    assert state(store, first) == ("new", "") and state(store, later) == ("new", "")
    assert state(store, other) == ("held", "") and state(store, kept) == ("held", "")


@pytest.mark.parametrize("action", ["unmute", "undo"])
def test_an_unmuted_post_arriving_during_the_unmute_is_not_lost(
        store: Store, mod: Moderation, monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    first = post(store, "Spam one")
    mod.apply("mute", first, 1, "sam")
    arrived: list[str] = []
    unmute = Step.unmute

    def meanwhile(step: Step, author: str, acted: Any) -> bool:
        done = unmute(step, author, acted)
        if not arrived:  # after the step's reads, before its EXEC: ingest sets one aside
            arrived.append(post(store, "Spam sent during the unmute"))
        return done

    monkeypatch.setattr(Step, "unmute", meanwhile)
    mod.apply(action, first, v(store, first), "kim")
    assert state(store, arrived[0]) == ("new", "")
    assert store.log_after()[-1].qid == arrived[0]


def test_ingest_sets_aside_only_by_the_projections_keys(store: Store, mod: Moderation) -> None:
    """The script edits the projection's JSON text: a post quoting those keys keeps its text."""
    mod.apply("mute", post(store, "Spam"), 1, "sam")
    text = 'He wrote "state": "new" and "aside_reason": "" here'
    qid = post(store, text)
    q = store.question(qid)
    assert q is not None and (q.state, q.aside_reason, q.text) == ("held", MUTED, text)


def test_a_post_with_no_author_cannot_be_muted(store: Store, mod: Moderation) -> None:
    (qid,) = store.ingest("web", [(normalise(Post("web", "anon", "Anonymous?")), {})])
    with pytest.raises(Refused, match="^this post has no author to mute$"):
        mod.apply("mute", qid, 1, "sam")
    with pytest.raises(Refused, match="^this post has no author to unmute$"):
        mod.apply("unmute", qid, 1, "sam")


def test_bulk_reject_skips_the_card_changed_meanwhile_and_says_which(
        store: Store, mod: Moderation) -> None:
    a, b, c = (post(store, f"Flood {n}", handle=f"h{n}") for n in range(3))
    mod.apply("approve", a, 1, "sam")
    seen = [(a, 2), (b, 1), (c, 1)]
    mod.apply("approve", b, 1, "kim")  # after sam selected it
    before = store.last_log_id()
    ids, skipped = mod.apply_many("reject", seen, "sam", reason="spam")
    assert skipped == [(b, "kim approved this question first (it is now approved)")]
    entries = store.log_after(before)
    assert [(e.id, e.type, e.qid, e.extra["reason"]) for e in entries] == [
        (ids[0], "reject", a, "spam"), (ids[1], "reject", c, "spam")]
    assert "queue_edit" not in entries[0].extra
    assert entries[1].extra["queue_edit"] == {"drop": [a], "put": [], "length": 1}
    assert [state(store, q)[0] for q in (a, b, c)] == ["rejected", "approved", "rejected"]
    with pytest.raises(Refused, match=r"^nothing was changed: .*rejected.*rejected"):
        mod.apply_many("reject", [(a, 3), (c, 2)], "sam", reason="spam")
    with pytest.raises(Refused, match="one question at a time"):
        mod.apply_many("approve", [(b, 2)], "sam")


def test_reject_all_like_this_rejects_the_suggested_cluster(
        store: Store, mod: Moderation, conn: redis.Redis, event: str) -> None:
    head = post(store, "Why is the hashtag full of spam?", handle="h0")
    repeats = [post(store, f"Why the spam {n}?", handle=f"r{n}") for n in range(3)]
    unrelated = post(store, "When is the next meeting?", handle="u")
    findings = {qid: Finding(0.9, "a question", suggest={"qid": head, "score": 0.9})
                for qid in repeats}
    TriageWorker(conn, event, use_model=False).write([], findings)
    mod.apply("approve", repeats[2], v(store, repeats[2]), "kim")
    cluster = [head, *repeats, unrelated]
    before = store.last_log_id()
    ids, skipped = mod.apply_many("reject_like", [(q, v(store, q)) for q in cluster], "sam",
                                  reason="spam", like=head)
    assert skipped == [(unrelated, f"triage did not suggest this question as a repeat of {head}")]
    entries = store.log_after(before)
    assert [(e.type, e.qid, e.extra["like"]) for e in entries] == [
        ("reject_like", q, head) for q in [head, *repeats]]
    assert len(ids) == 4 and store.snapshot().queue == []
    assert all(state(store, q)[0] == "rejected" for q in [head, *repeats])
    assert state(store, unrelated)[0] == "new"
    mod.apply("undo", repeats[2], v(store, repeats[2]), "kim")  # each undoes on its own
    assert store.snapshot().queue == [repeats[2]]


@pytest.mark.slow
def test_console_socket_mute_sets_aside_and_undo_brings_back(
        live_server: str, store: Store, real_clients: list[sio.Client],
        http: requests.Session) -> None:
    client, received = real_console(live_server, http, real_clients)
    wait_until(lambda: received.get("snapshot"))
    first = post(store, "Buy followers now")
    reply = client.call("act", {"action": "mute", "qid": first, "version": 1}, namespace=NS,
                        timeout=5)
    assert reply["ok"], reply
    later = post(store, "Buy followers again")
    got = wait_until(lambda: [e for e in received.get("entry", []) if e["qid"] == later])
    # Sent to the console as set aside with its reason: it never enters Incoming or the queue.
    assert (got[0]["type"], got[0]["qs"][0]["state"], got[0]["qs"][0]["aside_reason"]) == (
        "received", "held", MUTED)
    assert later not in store.snapshot().queue
    reply = client.call("act", {"action": "undo", "qid": first, "version": v(store, first)},
                        namespace=NS, timeout=5)
    assert reply["ok"], reply
    back = wait_until(lambda: [e for e in received["entry"]
                               if e["type"] == "unmute" and e["qid"] == later])
    assert back[0]["qs"][0]["state"] == "new"
    after = post(store, "Buy followers a third time")
    got = wait_until(lambda: [e for e in received["entry"] if e["qid"] == after])
    assert got[0]["qs"][0]["state"] == "new"


@pytest.mark.slow
def test_console_socket_rejects_a_selection_in_one_step(
        live_server: str, store: Store, real_clients: list[sio.Client],
        http: requests.Session, mod: Moderation) -> None:
    client, received = real_console(live_server, http, real_clients)
    wait_until(lambda: received.get("snapshot"))
    a, b, c = (post(store, f"Flood {n}", handle=f"f{n}") for n in range(3))
    mod.apply("approve", b, 1, "kim")
    reply = client.call("act", {"action": "reject", "params": {"reason": "spam"},
                                "targets": [{"qid": q, "version": 1} for q in (a, b, c)]},
                        namespace=NS, timeout=5)
    assert reply["ok"] and reply["skipped"] == [
        {"qid": b, "error": "kim approved this question first (it is now approved)"}]
    got = wait_until(lambda: [e for e in received.get("entry", []) if e["type"] == "reject"]
                     if len([e for e in received.get("entry", []) if e["type"] == "reject"]) == 2
                     else None)
    assert [e["id"] for e in got] == reply["ids"]
    bad = client.call("act", {"action": "reject", "targets": [{"qid": a}]}, namespace=NS,
                      timeout=5)
    assert bad["ok"] is False


@pytest.mark.slow
def test_reject_all_like_this_reaches_repeats_the_console_has_not_loaded(
        live_server: str, store: Store, real_clients: list[sio.Client],
        http: requests.Session, mod: Moderation, conn: redis.Redis, event: str) -> None:
    """A paged console holds a few cards of a storm; the server adds the rest of the cluster
    (triage's set of suggested repeats), leaving out a dismissed suggestion and a repeat
    already dealt with."""
    client, received = real_console(live_server, http, real_clients)
    wait_until(lambda: received.get("snapshot"))
    head = post(store, "Why is the hashtag full of spam?", handle="h0")
    repeats = [post(store, f"Why the spam {n}?", handle=f"r{n}") for n in range(4)]
    # The last to arrive, with an id that sorts first: the cluster is in arrival order.
    (late,) = store.ingest("x", [(normalise(Post("x", "a-late", "Why the spam, again?",
                                                 "Name of z", "z")), {})])
    repeats.insert(2, late)
    TriageWorker(conn, event, use_model=False).write([], {
        qid: Finding(0.9, "a question", suggest={"qid": head, "score": 0.9}) for qid in repeats})
    dismissed, answered = repeats[3], repeats[4]
    mod.apply("dismiss", dismissed, v(store, dismissed), "kim")
    mod.apply("screen", answered, v(store, answered), "kim")
    assert mod.cluster(head) == [(head, v(store, head)), (repeats[0], v(store, repeats[0])),
                                 (repeats[1], v(store, repeats[1])), (late, v(store, late))]
    reply = client.call("act", {"action": "reject_like",
                                "params": {"reason": "spam", "like": head},
                                "targets": [{"qid": head, "version": v(store, head)}]},
                        namespace=NS, timeout=5)
    assert reply["ok"] and reply["more"] == 0 and reply["skipped"] == [], reply
    assert len(reply["ids"]) == 4
    assert [state(store, q)[0] for q in (head, *repeats)] == [
        "rejected", "rejected", "rejected", "rejected", "new", "on_screen"]


def test_a_purge_forgets_who_was_muted(conn: redis.Redis, event: str, store: Store,
                                       mod: Moderation) -> None:
    """Muted authors are personal data: after a purge no key names or holds their handle, and
    undo of the mute (its snapshot names no one) unmutes no one."""
    from aggregator.base.settings import EventSettings, RetentionSettings, Settings
    from aggregator.followers.retention import Retention
    from tests.stored import dump

    first = post(store, "Spam", handle="spammer-handle-example")
    mod.apply("mute", first, 1, "sam")
    later = post(store, "More spam", handle="spammer-handle-example")
    assert "spammer-handle-example" in dump(conn, event)
    settings = Settings(event=EventSettings(slug=event), retention=RetentionSettings(
        purge_after_days=90, meeting_date="2026-01-10"))
    report = Retention(conn, settings).purge()
    assert report.counts["muted authors"] == 1
    assert "spammer-handle-example" not in dump(conn, event)
    mod.apply("undo", first, v(store, first), "sam")
    assert state(store, first) == ("new", "") and state(store, later) == ("held", MUTED)
