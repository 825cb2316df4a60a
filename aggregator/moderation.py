"""Moderators' actions on questions: the state machine, each step one atomic Redis transaction.

An action names the question and the version the moderator saw. Under WATCH it reads the
question (and whatever else it touches: the queue, the screen, a group's parent), checks the
version and the rules, then writes the new projections, the queue, the screen and the log
entry in one MULTI/EXEC. If anything it read changes first, the transaction is retried from the
read, where a stale version is refused with the name of whoever acted first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from aggregator.keys import Keys
from aggregator.normalise import clean_text
from aggregator.question import STATES, Question, utc_now

REJECT_REASON_MAX = 200
UNDO_DEPTH = 20

# From which states each action may start.
ALLOWED: dict[str, set[str]] = {
    "approve": {"new"},
    "reject": {"new", "approved"},
    "screen": {"new", "approved"},
    "answer": {"on_screen"},
    "unscreen": {"on_screen"},
    "edit": {"new", "approved", "on_screen"},
    "group": {"new", "approved"},
    "star": set(STATES),
    "unstar": set(STATES),
    "reorder": {"approved"},
    "undo": set(STATES),
}
ACTIONS = tuple(ALLOWED)

# Words for the log and for refusals ("sam approved this question first").
DONE = {
    "received": "received", "approve": "approved", "reject": "rejected", "screen": "screened",
    "answer": "answered", "unscreen": "took off screen", "edit": "edited", "group": "grouped",
    "star": "starred", "unstar": "unstarred", "reorder": "moved", "undo": "undid",
    "clear": "took off screen", "displace": "replaced on screen",
    "retract": "retracted (its author deleted it)",
}


class Refused(Exception):
    """An action that was not applied; the message is for the moderator."""


@dataclass
class _Question:
    """A question read inside a transaction, with its undo stack."""

    q: Question
    undo: list[dict[str, Any]]
    changed: bool = False

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.q.state, "text": self.q.text, "parent": self.q.parent,
                "reject_reason": self.q.reject_reason}


class Moderation:
    """The moderators' verbs. Each returns the id of the log entry it wrote."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)

    def apply(self, action: str, qid: str, version: int, actor: str, **params: Any) -> str:
        if action not in ALLOWED:
            raise Refused(f"unknown action {action!r}")
        k = self.keys
        return str(self.conn.transaction(
            lambda pipe: _Transition(pipe, k, actor).run(action, qid, version, params),
            k.question(qid), k.queue, k.screen, value_from_callable=True,
        ))

    def retract(self, qid: str, actor: str) -> str | None:
        """The author deleted the post: flag it, and reject it if it was not yet shown.
        Idempotent; a question never stored is ignored. Returns the log id, if anything changed."""
        k = self.keys
        if not self.conn.exists(k.question(qid)):
            return None
        result = self.conn.transaction(
            lambda pipe: _Transition(pipe, k, actor).retract(qid),
            k.question(qid), k.queue, k.screen, value_from_callable=True,
        )
        return None if result is None else str(result)

    def clear_screen(self, actor: str) -> str:
        """The safety valve: whatever is on screen goes back to the front of the queue.
        Never refused as stale: it must work whatever the moderator's console shows."""
        k = self.keys
        return str(self.conn.transaction(
            lambda pipe: _Transition(pipe, k, actor).clear(), k.queue, k.screen,
            value_from_callable=True,
        ))


class _Transition:
    """One attempt at one action, inside WATCH. Reads immediately, then writes in MULTI."""

    def __init__(self, pipe: redis.client.Pipeline, keys: Keys, actor: str) -> None:
        self.pipe = pipe
        self.keys = keys
        self.actor = actor
        self.read: dict[str, _Question] = {}
        self.queue: list[str] = [str(x) for x in pipe.zrange(keys.queue, 0, -1)]
        self.queue_changed = False
        screen = pipe.get(keys.screen)
        self.screen: str | None = str(screen) if screen else None
        self.screen_changed = False

    def load(self, qid: str, *, watch: bool = False) -> _Question:
        if qid not in self.read:
            if watch:
                self.pipe.watch(self.keys.question(qid))
            data, undo = self.pipe.hmget(self.keys.question(qid), "data", "undo")
            if data is None:
                raise Refused(f"there is no question {qid}")
            self.read[qid] = _Question(Question.from_dict(json.loads(data)),
                                       json.loads(undo) if undo else [])
        return self.read[qid]

    # -- moving a question between states keeps the queue and the screen true --------------

    def set_state(self, item: _Question, state: str, *, front: bool = False) -> None:
        q = item.q
        if q.state == "approved" and state != "approved":
            self.queue.remove(q.id)
            self.queue_changed = True
        if q.state == "on_screen" and state != "on_screen" and self.screen == q.id:
            self.screen, self.screen_changed = None, True
        if state == "approved" and q.state != "approved":
            self.queue.insert(0 if front else len(self.queue), q.id)
            self.queue_changed = True
        if state == "on_screen":
            self.screen, self.screen_changed = q.id, True
        q.state = state
        item.changed = True

    def remember(self, item: _Question) -> None:
        item.undo = [*item.undo, item.snapshot()][-UNDO_DEPTH:]

    def take_screen(self, then: str) -> None:
        """Move whatever is on screen away: to answered, or back to the front of the queue."""
        if self.screen is None:
            return
        current = self.load(self.screen, watch=True)
        self.remember(current)
        self.set_state(current, "answered" if then == "answered" else "approved", front=True)
        current.q.last_action = "displace"

    # -- the actions -------------------------------------------------------------------------

    def run(self, action: str, qid: str, version: int, params: dict[str, Any]) -> str:
        item = self.load(qid)
        q = item.q
        if q.version != version:
            who = q.last_actor or "someone"
            raise Refused(f"{who} {DONE.get(q.last_action, q.last_action)} this question first "
                          f"(it is now {q.state.replace('_', ' ')})")
        if q.state not in ALLOWED[action]:
            raise Refused(f"cannot {action} a question that is {q.state.replace('_', ' ')}")
        extra: dict[str, str] = {}
        if action in ("approve", "reject", "screen", "answer", "unscreen", "edit", "group"):
            self.remember(item)
        if action == "approve":
            self.set_state(item, "approved")
        elif action == "reject":
            reason = str(params.get("reason") or "").strip()[:REJECT_REASON_MAX]
            if not reason:
                raise Refused("say why the question is rejected")
            q.reject_reason = extra["reason"] = reason
            self.set_state(item, "rejected")
        elif action == "screen":
            then = params.get("then", "answered")
            if then not in ("answered", "queue"):
                raise Refused("the question on screen can go to 'answered' or back to 'queue'")
            self.take_screen(then)
            self.set_state(item, "on_screen")
        elif action == "answer":
            self.set_state(item, "answered")
        elif action == "unscreen":
            self.set_state(item, "approved", front=True)
        elif action == "edit":
            text, _ = clean_text(str(params.get("text") or ""))
            if not text:
                raise Refused("the text cannot be empty")
            extra["previous"] = q.text
            q.text = text
            item.changed = True
        elif action == "group":
            self.group(item, str(params.get("parent") or ""))
        elif action in ("star", "unstar"):
            q.starred = action == "star"
            item.changed = True
        elif action == "reorder":
            self.reorder(q.id, params.get("index"))
        else:
            self.undo(item)
        q.last_action = action
        return self.write(action, qid, extra)

    def group(self, item: _Question, parent_id: str) -> None:
        if parent_id == item.q.id:
            raise Refused("a question cannot be grouped under itself")
        if item.q.asked_by > 1:
            # Groups stay one level deep, so undoing any grouping fixes every count it changed.
            raise Refused("this question has duplicates grouped under it: group the other "
                          "question under this one instead")
        parent = self.load(parent_id, watch=True)
        if parent.q.state in ("rejected", "grouped"):
            raise Refused(f"cannot group under a question that is {parent.q.state}")
        item.q.parent = parent_id
        parent.q.asked_by += item.q.asked_by
        parent.changed = True
        self.set_state(item, "grouped")

    def reorder(self, qid: str, index: Any) -> None:
        if not isinstance(index, int) or isinstance(index, bool):
            raise Refused("say where in the queue the question goes")
        self.queue.remove(qid)
        self.queue.insert(max(0, min(index, len(self.queue))), qid)
        self.queue_changed = True
        self.read[qid].changed = True

    def undo(self, item: _Question) -> None:
        if not item.undo:
            raise Refused("there is nothing to undo on this question")
        before = item.undo[-1]
        q = item.q
        if before["state"] == "on_screen" and self.screen not in (None, q.id):
            raise Refused("another question is on screen: take it off first")
        if q.state == "grouped" and q.parent:
            parent = self.load(q.parent, watch=True)
            parent.q.asked_by = max(1, parent.q.asked_by - q.asked_by)
            parent.changed = True
        item.undo = item.undo[:-1]
        q.text, q.parent = before["text"], before["parent"]
        q.reject_reason = before["reject_reason"]
        self.set_state(item, before["state"], front=True)

    def retract(self, qid: str) -> str | None:
        item = self.load(qid)
        q = item.q
        if "deleted" in q.flags:
            return None
        q.flags = sorted({*q.flags, "deleted"})
        item.changed = True
        if q.state in ("new", "approved"):
            self.remember(item)
            q.reject_reason = "deleted by its author"
            self.set_state(item, "rejected")
        q.last_action = "retract"
        return self.write("retract", qid, {})

    def clear(self) -> str:
        if self.screen is None:
            raise Refused("the screen is already clear")
        qid = self.screen
        self.take_screen("queue")
        self.read[qid].q.last_action = "clear"
        return self.write("clear", qid, {})

    # -- one MULTI/EXEC for everything ---------------------------------------------------------

    def write(self, action: str, qid: str, extra: dict[str, str]) -> str:
        now = utc_now()
        pipe, k = self.pipe, self.keys
        pipe.multi()
        changed = []
        for item in self.read.values():
            if not item.changed:
                continue
            item.q.version += 1
            item.q.last_actor, item.q.updated_at = self.actor, now
            data = item.q.to_dict()
            changed.append(data)
            pipe.hset(k.question(item.q.id), mapping={
                "data": json.dumps(data, ensure_ascii=False), "undo": json.dumps(item.undo)})
        if self.queue_changed:
            pipe.delete(k.queue)
            if self.queue:
                pipe.zadd(k.queue, {qid: rank for rank, qid in enumerate(self.queue)})
        if self.screen_changed:
            if self.screen:
                pipe.set(k.screen, self.screen)
            else:
                pipe.delete(k.screen)
        fields = {"type": action, "qid": qid, "actor": self.actor, "at": now,
                  "qs": json.dumps(changed, ensure_ascii=False), **extra}
        if self.queue_changed:
            fields["queue"] = json.dumps(self.queue)
        if self.screen_changed:
            fields["screen"] = self.screen or ""
        pipe.xadd(k.log, fields)  # type: ignore[arg-type]
        return str(pipe.execute()[-1])
