"""A moderated meeting for the record's tests: the bundled rehearsal's posts stored with arrival
times spread over 90 minutes, then a fixed pattern of moderators' decisions (approve, answer,
reject for each reason, edit, group, hold), plus two /ask questions, one consenting to be named."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field

import redis

from aggregator.base.keys import Keys
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import InvalidPost, normalise
from aggregator.core.question import Post, Question, utc_now
from aggregator.core.store import Store
from aggregator.ingest.sources.rehearsal import BUNDLED

REASONS = ["off topic", "abusive", "personal case to follow up privately", "already answered"]


@dataclass
class Meeting:
    qids: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)
    named_web: str = ""  # the /ask asker who agreed to be named
    unnamed_web: str = ""


def rehearse(conn: redis.Redis, event: str, limit: int | None = None) -> Meeting:
    store, moderation, meeting = Store(conn, event), Moderation(conn, event), Meeting()
    start = time.time() - 95 * 60
    batch: list[tuple[Question, object]] = []
    lines = BUNDLED.read_text(encoding="utf-8").splitlines()[:limit]
    for line in lines:
        item = json.loads(line)
        post = Post(platform=item["platform"], native_id=item["id"], text=item["text"],
                    author_name=item["author"], author_handle=item["handle"],
                    url=f"https://example.invalid/{item['id']}", raw=item)
        try:
            question = normalise(post)
        except InvalidPost:
            continue
        question.received_at = utc_now(start + float(item["at"]))
        batch.append((question, item))
        meeting.names.add(item["author"])
        if item["handle"]:
            meeting.handles.add(item["handle"])
    for name, consent in (("Ruth Okonkwo-Example", "question and name"),
                          ("Private Person-Example", "question")):
        post = Post(platform="web", native_id=f"{consent[:8].replace(' ', '')}{len(batch)}",
                    text=f"A question from the web form by {name.split()[0]}?",
                    author_name=name, posted_at=utc_now())
        question = normalise(post)
        question.received_at = utc_now(start + 60 * 60)
        batch.append((question, {"name": name, "question": post.text, "consent": consent}))
        meeting.names.add(name)
        if consent == "question and name":
            meeting.named_web = question.id
        else:
            meeting.unnamed_web = question.id
    store.ingest("rehearsal", batch)
    rng = random.Random(10)
    qids = store.question_ids()
    meeting.qids = qids
    main = ""
    for i, qid in enumerate(qids):
        q = store.question(qid)
        assert q is not None
        roll = rng.random()
        if qid in (meeting.named_web, meeting.unnamed_web):
            moderation.apply("approve", qid, q.version, "sam")
        elif roll < 0.25:
            reason = REASONS[i % len(REASONS)]
            moderation.apply("reject", qid, q.version, "sam", reason=reason)
        elif roll < 0.35 and main:
            moderation.apply("group", qid, q.version, "kim", parent=main)
        elif roll < 0.45:
            moderation.apply("hold", qid, q.version, "kim")
        elif roll < 0.55:
            pass  # never reviewed
        else:
            if roll < 0.62:
                moderation.apply("edit", qid, q.version, "sam", text=q.text.upper()[:200])
                q = store.question(qid)
                assert q is not None
            moderation.apply("approve", qid, q.version, "sam")
            main = main or qid
            if roll > 0.75:
                q = store.question(qid)
                assert q is not None
                moderation.apply("screen", qid, q.version, "sam", then="answered")
    if (screen := conn.get(Keys(event).screen)):
        moderation.clear_screen("sam")
    states = {qid: store.question(qid).state for qid in qids}  # type: ignore[union-attr]
    answered = [qid for qid in qids if states[qid] == "answered"]
    approved = [qid for qid in qids if states[qid] == "approved"]
    if answered and approved:  # an answer note, and one question to be answered in writing
        moderation.apply("answer_note", answered[-1], store.question(answered[-1]).version,  # type: ignore[union-attr]
                         "ann", note="The trust will publish the response times in June.")
        moderation.apply("in_writing", approved[-1], store.question(approved[-1]).version,  # type: ignore[union-attr]
                         "ann")
    for qid in qids:
        q = store.question(qid)
        assert q is not None
        meeting.states[qid], meeting.reasons[qid] = q.state, q.reject_reason
    del screen
    return meeting
