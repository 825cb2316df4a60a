"""Moderators' actions on questions: the state machine of ``aggregator.actions``, each step one
atomic Redis transaction.

An action names the question and the version the moderator saw. Every key a step reads (the
queue, the screen, each question) is WATCHed before it is read; the step checks the version and
the table's rules, then writes the new projections, the queue, the screen and the log entry in
one MULTI/EXEC. Reads taken one after another may disagree with each other when another step
lands in between; then a watched key has changed, so EXEC fails and the step is retried from the
reads, where a stale version is refused with the name of whoever acted first. A step that stops
early (a refusal, or an error born of such a disagreement) first confirms its reads with an empty
EXEC, so it too is retried rather than answered from reads that were never true together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from aggregator import columns
from aggregator.actions import ACTIONS, Action, Refused, done_words
from aggregator.keys import Keys
from aggregator.question import STATE_WORDS, Question, utc_now
from aggregator.redis_server import replicated

__all__ = ["Item", "Moderation", "Refused", "Step", "UNDO_DEPTH"]

UNDO_DEPTH = 20
# The reject reason of a post its author deleted before it was shown.
RETRACTED = "deleted by its author"


@dataclass
class Item:
    """A question read inside a step, with its undo stack."""

    q: Question
    undo: list[dict[str, Any]]
    changed: bool = False
    was: str = ""  # its state when read, for the state indexes (aggregator/columns.py)

    def __post_init__(self) -> None:
        self.was = self.was or self.q.state

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.q.state, "text": self.q.text, "parent": self.q.parent,
                "reject_reason": self.q.reject_reason}


# What a step decided to log: entry type, question id, extra fields. None: nothing to write.
Decision = tuple[str, str, dict[str, str]] | None


class Moderation:
    """The moderators' verbs. Each returns the id of the log entry it wrote."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)

    def apply(self, action: str, qid: str, version: int, actor: str, **params: Any) -> str:
        spec = ACTIONS.get(action)
        if spec is None:
            raise Refused(f"unknown action {action!r}")
        return str(self._transact(actor, lambda step: step.run(spec, qid, version, params)))

    def retract(self, qid: str, actor: str, *, reason: str = RETRACTED,
                flag: str = "deleted") -> str | None:
        """The platform took the post back (its author deleted it, or was banned): flag it, and
        reject it with ``reason`` if it was not yet shown. Idempotent; a question never stored
        is ignored. Returns the log id, if anything changed."""
        if not self.conn.exists(self.keys.question(qid)):
            return None
        return self._transact(actor, lambda step: step.retract(qid, reason, flag))

    def clear_screen(self, actor: str) -> str:
        """The safety valve: whatever is on screen goes back to the front of the queue.
        Never refused as stale: it must work whatever the moderator's console shows."""

        def clear(step: Step) -> Decision:
            if step.screen is None:
                raise Refused("the screen is already clear")
            return step.run(ACTIONS["clear"], step.screen, None, {})

        return str(self._transact(actor, clear))

    def screen_next(self, actor: str) -> str:
        """Put the first queued question on screen, only while the screen is clear: a remote
        control's "next" (web/control.py), where a flood of presses must put one question on
        screen, not displace each other's."""

        def next_one(step: Step) -> Decision:
            if step.screen is not None:
                raise Refused("a question is on screen: mark it answered or send it back first")
            if not step.queue:
                raise Refused("the queue is empty")
            return step.run(ACTIONS["screen"], step.queue[0], None, {})

        return str(self._transact(actor, next_one))

    def _transact(self, actor: str, decide: Callable[[Step], Decision]) -> str | None:
        """Run ``decide`` in a fresh step until it writes, refuses or does nothing from reads
        that were all true at once; the log id it wrote, if any."""

        def attempt(pipe: redis.client.Pipeline) -> str | None:
            step = Step(pipe, self.keys, actor)
            try:
                decision = decide(step)
            except redis.RedisError:
                raise
            except Exception:
                step.confirm_reads()
                raise
            return None if decision is None else step.write(*decision)

        result = self.conn.transaction(attempt, self.keys.queue, self.keys.screen,
                                       value_from_callable=True)
        if result is not None:
            replicated(self.conn)  # behind Sentinel: on a replica before it is acknowledged
        return None if result is None else str(result)


class Step:
    """One attempt at one action, inside WATCH: reads as it goes, then writes in one MULTI."""

    def __init__(self, pipe: redis.client.Pipeline, keys: Keys, actor: str) -> None:
        self.pipe = pipe
        self.keys = keys
        self.actor = actor
        self.now = utc_now()
        self.read: dict[str, Item] = {}
        # The question that left the screen in this step, and for how long it was there.
        self.left_screen: tuple[str, float] | None = None
        # The queue and the screen are watched by the caller before this reads them.
        self.queue: list[str] = [str(x) for x in pipe.zrange(keys.queue, 0, -1)]
        self.queue_read = list(self.queue)  # as read, for writing only what changed
        self.queue_changed = False
        screen = pipe.get(keys.screen)
        self.screen: str | None = str(screen) if screen else None
        self.screen_changed = False

    def load(self, qid: str) -> Item:
        """The question, watched before it is read, so a later change makes EXEC fail."""
        if qid not in self.read:
            key = self.keys.question(qid)
            self.pipe.watch(key)
            data, undo = self.pipe.hmget(key, "data", "undo")
            if data is None:
                raise Refused(f"there is no question {qid}")
            self.read[qid] = Item(Question.from_dict(json.loads(data)),
                                  json.loads(undo) if undo else [])
        return self.read[qid]

    def confirm_reads(self) -> None:
        """Raise WatchError, so the step is retried, if anything it read has changed since."""
        self.pipe.multi()
        self.pipe.execute()  # an empty EXEC: refused by Redis iff a watched key changed

    # -- moving a question between states keeps the queue and the screen true --------------

    def set_state(self, item: Item, state: str, *, front: bool = False) -> None:
        """Move a question to ``state``. One leaving the screen for the queue goes to its front."""
        q = item.q
        item.changed = True
        if state == q.state:
            return
        if q.state == "approved":
            self.queue.remove(q.id)
            self.queue_changed = True
        if q.state == "on_screen":
            self.screen, self.screen_changed = None, True
            self.left_screen = (q.id, seconds_between(q.on_screen_since, self.now))
            q.on_screen_since = ""
        if state == "approved":
            at_front = front or q.state == "on_screen"
            self.queue.insert(0 if at_front else len(self.queue), q.id)
            self.queue_changed = True
        if state == "on_screen":
            self.screen, self.screen_changed = q.id, True
            q.on_screen_since = self.now
        q.state = state

    def move_in_queue(self, item: Item, index: int) -> None:
        self.queue.remove(item.q.id)
        self.queue.insert(max(0, min(index, len(self.queue))), item.q.id)
        self.queue_changed = True

    def remember(self, item: Item) -> None:
        item.undo = [*item.undo, item.snapshot()][-UNDO_DEPTH:]

    def take_screen(self, state: str) -> None:
        """Move whatever is on screen away, to ``state`` (answered, or back to the queue)."""
        if self.screen is None:
            return
        current = self.load(self.screen)
        self.remember(current)
        self.set_state(current, state)
        current.q.last_action = "displace"

    # -- the steps ---------------------------------------------------------------------------

    def run(self, action: Action, qid: str, version: int | None,
            params: dict[str, Any]) -> Decision:
        """One action from the table; ``version`` None acts whatever version is current."""
        item = self.load(qid)
        q = item.q
        if version is not None and q.version != version:
            who = q.last_actor or "someone"
            raise Refused(f"{who} {done_words(q.last_action)} this question first "
                          f"(it is now {STATE_WORDS[q.state]})")
        if q.state not in action.sources:
            raise Refused(f"cannot {action.name} a question that is {STATE_WORDS[q.state]}")
        if action.undoable:
            self.remember(item)
        extra = action.handler(self, item, params)
        if action.to is not None:
            self.set_state(item, action.to)
        item.changed = True
        q.last_action = action.name
        return action.name, qid, extra

    def retract(self, qid: str, reason: str, flag: str) -> Decision:
        item = self.load(qid)
        q = item.q
        if flag in q.flags:
            return None
        q.flags = sorted({*q.flags, flag})
        item.changed = True
        if q.state in ("new", "approved", "held"):  # not shown yet, and now never will be
            self.remember(item)
            q.reject_reason = reason
            self.set_state(item, "rejected")
        q.last_action = "retract"
        return "retract", qid, {}

    # -- one MULTI/EXEC for everything ---------------------------------------------------------

    def write(self, entry_type: str, qid: str, extra: dict[str, str]) -> str:
        now = self.now
        pipe, k = self.pipe, self.keys
        # The state indexes: a question back in "new" takes its arrival place again.
        moved = [i for i in self.read.values() if i.changed and i.q.state != i.was]
        seqs = {i.q.id: int(pipe.zscore(k.questions, i.q.id) or 0)
                for i in moved if i.q.state == "new"}
        plan = columns.queue_plan(pipe, k.queue, self.queue_read, self.queue) \
            if self.queue_changed else None
        pipe.multi()
        changed = []
        for item in self.read.values():
            if not item.changed:
                continue
            item.q.version += 1
            item.q.last_actor, item.q.updated_at = self.actor, now
            item.q.undo_depth = len(item.undo)
            data = item.q.to_dict()
            changed.append(data)
            pipe.hset(k.question(item.q.id), mapping={
                "data": json.dumps(data, ensure_ascii=False), "undo": json.dumps(item.undo)})
            columns.move(pipe, k, item.q.id, item.was, item.q.state, now, seqs.get(item.q.id))
        if self.queue_changed:
            columns.write_queue(pipe, k.queue, self.queue, plan)
        if self.screen_changed:
            if self.screen:
                pipe.set(k.screen, self.screen)
            else:
                pipe.delete(k.screen)
        fields = {"type": entry_type, "qid": qid, "actor": self.actor, "at": now,
                  "qs": json.dumps(changed, ensure_ascii=False), **extra}
        if moved:
            fields["was"] = json.dumps({i.q.id: i.was for i in moved})
        if seqs:
            fields["seq"] = json.dumps(seqs)
        if self.queue_changed:
            fields["queue"] = json.dumps(self.queue)
        if self.screen_changed:
            fields["screen"] = self.screen or ""
        if self.left_screen is not None:
            fields["off_screen"], seconds = self.left_screen
            fields["seconds_on_screen"] = f"{seconds:.1f}"
        pipe.xadd(k.log, fields)  # type: ignore[arg-type]
        return str(pipe.execute()[-1])


def seconds_between(start: str, end: str) -> float:
    """Seconds from one ``utc_now`` time to another; 0 when the start is unknown (a question
    put on screen before times were kept)."""
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start))
                   .total_seconds())
    except ValueError:
        return 0.0
