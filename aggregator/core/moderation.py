"""Moderators' actions on questions: the state machine of ``aggregator.core.actions``, each step one
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

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from aggregator.base.keys import Keys
from aggregator.base.redis_server import replicated
from aggregator.core import columns, queue_edit
from aggregator.core.actions import ACTIONS, MANY_MAX, MUTED, Action, Refused, done_words
from aggregator.core.question import STATE_WORDS, TRIAGE_ACTOR, Question, utc_now

__all__ = ["Item", "Moderation", "Refused", "Skipped", "Step", "UNDO_DEPTH"]

UNDO_DEPTH = 20
# The reject reason of a post its author deleted before it was shown.
RETRACTED = "deleted by its author"


@dataclass
class Item:
    """A question read inside a step, with its undo stack."""

    q: Question
    undo: list[dict[str, Any]]
    changed: bool = False
    was: str = ""  # its state when read, for the state indexes (aggregator/core/columns.py)

    def __post_init__(self) -> None:
        self.was = self.was or self.q.state

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.q.state, "text": self.q.text, "parent": self.q.parent,
                "reject_reason": self.q.reject_reason, "aside_reason": self.q.aside_reason}


# What a step decided to log: entry type, question id, extra fields. None: nothing to write.
Decision = tuple[str, str, dict[str, str]] | None
# The questions of a many-question step that were not changed, each with the reason.
Skipped = list[tuple[str, str]]


class Moderation:
    """The moderators' verbs. Each returns the id of the log entry it wrote."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)

    def apply(self, action: str, qid: str, version: int, actor: str, **params: Any) -> str:
        spec = ACTIONS.get(action)
        if spec is None:
            raise Refused(f"unknown action {action!r}")
        spec.check_text(params)
        return self._transact(actor, lambda step: step.run(spec, qid, version, params))[0]

    def apply_many(self, action: str, targets: list[tuple[str, int]], actor: str,
                   **params: Any) -> tuple[list[str], Skipped]:
        """One action on several questions (each with the version the moderator saw) in one
        step: the log ids written (one entry per question changed) and the questions skipped,
        with why (changed by someone meanwhile, or not in a state the action applies from).
        Refused, with every reason, when it would change none."""
        spec = ACTIONS.get(action)
        if spec is None:
            raise Refused(f"unknown action {action!r}")
        if not spec.many:
            raise Refused(f"{spec.label} applies to one question at a time")
        spec.check_text(params)
        unique = list(dict.fromkeys(qid for qid, _ in targets))
        if not unique:
            raise Refused("select the questions first")
        if len(unique) > MANY_MAX:
            raise Refused(f"at most {MANY_MAX} questions at once")
        seen = dict(reversed(targets))  # the first version named for each question
        skipped: Skipped = []

        def decide(step: Step) -> Decision:
            skipped.clear()
            return step.run_many(spec, [(qid, seen[qid]) for qid in unique], params, skipped)

        return self._transact(actor, decide), list(skipped)

    def cluster(self, like: str) -> list[tuple[str, int]]:
        """(qid, version) of the question ``like`` and of every question triage suggested as its
        repeat, that "reject all like this" can still reject now, in arrival order: the whole
        cluster, however few of its cards a console holds."""
        k, spec = self.keys, ACTIONS["reject_like"]
        qids = sorted({like, *self.conn.smembers(k.repeats(like))})
        pipe = self.conn.pipeline(transaction=False)
        for qid in qids:
            pipe.hget(k.question(qid), "data")
            pipe.zscore(k.questions, qid)
        answers = pipe.execute()
        found = []
        for qid, data, arrival in zip(qids, answers[::2], answers[1::2], strict=True):
            if data is None:
                continue
            q = json.loads(data)
            suggest = (q.get("triage") or {}).get("suggest") or {}
            if q.get("state") in spec.sources and like in (qid, suggest.get("qid")):
                found.append((float(arrival or 0), qid, int(q.get("version", 0))))
        return [(qid, version) for _, qid, version in sorted(found)]

    def retract(self, qid: str, actor: str, *, reason: str = RETRACTED,
                flag: str = "deleted") -> str | None:
        """The platform took the post back (its author deleted it, or was banned): flag it, and
        reject it with ``reason`` if it was not yet shown. Idempotent; a question never stored
        is ignored. Returns the log id, if anything changed."""
        if not self.conn.exists(self.keys.question(qid)):
            return None
        ids = self._transact(actor, lambda step: step.retract(qid, reason, flag))
        return ids[0] if ids else None

    def clear_screen(self, actor: str) -> str:
        """The safety valve: whatever is on screen goes back to the front of the queue.
        Never refused as stale: it must work whatever the moderator's console shows."""

        def clear(step: Step) -> Decision:
            if step.screen is None:
                raise Refused("the screen is already clear")
            return step.run(ACTIONS["clear"], step.screen, None, {})

        return self._transact(actor, clear)[0]

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

        return self._transact(actor, next_one)[0]

    def _transact(self, actor: str, decide: Callable[[Step], Decision]) -> list[str]:
        """Run ``decide`` in a fresh step until it writes, refuses or does nothing from reads
        that were all true at once; the log ids it wrote (none when it did nothing)."""

        def attempt(pipe: redis.client.Pipeline) -> list[str]:
            step = Step(pipe, self.keys, actor)
            try:
                decision = decide(step)
            except redis.RedisError:
                raise
            except Exception:
                step.confirm_reads()
                raise
            return [] if decision is None else step.write(*decision)

        result: list[str] = self.conn.transaction(attempt, self.keys.queue, self.keys.screen,
                                                  value_from_callable=True)
        if result:
            replicated(self.conn)  # behind Sentinel: on a replica before it is acknowledged
        return result


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
        # Questions changed in this step that get a log entry of their own (a many-question
        # step, an unmute's returning posts), with its extra fields; the rest ride in the
        # entry of the question acted on.
        self.own_entries: dict[str, dict[str, str]] = {}
        # Further writes for the MULTI (the muted authors' keys).
        self.writes: list[Callable[[redis.client.Pipeline], Any]] = []

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
        if q.state == "held":
            q.aside_reason = ""  # the reason a rule set it aside holds only while it is held
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

    # -- muted authors: the set ingest checks, and the posts set aside for each -------------

    def is_muted(self, author: str) -> bool:
        self.pipe.watch(self.keys.muted)
        return bool(self.pipe.sismember(self.keys.muted, author))

    def mute(self, author: str, qid: str) -> None:
        muted, posts = self.keys.muted, self.keys.muted_posts(author)
        self.writes.append(lambda pipe: pipe.sadd(muted, author))
        self.writes.append(lambda pipe: pipe.sadd(posts, qid))

    def unmute(self, author: str, acted: Item) -> bool:
        """Unmute ``author`` (False if not muted) and bring back, as new, each post the mute
        set aside that is still held for it. The list of those posts is watched, so a post that
        ingest sets aside meanwhile makes the step retry and come back too."""
        if not self.is_muted(author):
            return False
        posts = self.keys.muted_posts(author)
        self.pipe.watch(posts)
        for qid in sorted(self.pipe.smembers(posts)):
            if not self.pipe.exists(self.keys.question(qid)):
                continue  # purged
            item = self.load(qid)
            if item.q.state != "held" or item.q.aside_reason != MUTED:
                continue  # a moderator has dealt with it since
            self.set_state(item, "new")
            if item is not acted:  # its own "unmute" entry, whichever step unmuted
                item.q.last_action = "unmute"
                self.own_entries[qid] = {"type": "unmute"}
        muted = self.keys.muted
        self.writes.append(lambda pipe: pipe.srem(muted, author))
        self.writes.append(lambda pipe: pipe.delete(posts))
        return True

    # -- the steps ---------------------------------------------------------------------------

    def run(self, action: Action, qid: str, version: int | None,
            params: dict[str, Any]) -> Decision:
        """One action from the table; ``version`` None acts whatever version is current."""
        item = self.load(qid)
        q = item.q
        if version is not None and q.version != version and not _triaged_since(q, version, action):
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

    def run_many(self, action: Action, targets: list[tuple[str, int]],
                 params: dict[str, Any], skipped: Skipped) -> Decision:
        """One action on each target in turn; a target it does not apply to is skipped (and
        left as read), the others each get their own log entry."""
        first: Decision = None
        for qid, version in targets:
            before = copy.deepcopy(self.read.get(qid))
            try:
                decision = self.run(action, qid, version, params)
            except Refused as exc:
                skipped.append((qid, str(exc)))
                if before is None:
                    self.read.pop(qid, None)
                else:
                    self.read[qid] = before
                continue
            assert decision is not None
            if first is None:
                first = decision
            else:
                self.own_entries[qid] = decision[2]
        if first is None:
            raise Refused(skipped[0][1] if len(skipped) == 1 else "nothing was changed: " +
                          "; ".join(f"{qid}: {why}" for qid, why in skipped))
        return first

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

    def write(self, entry_type: str, qid: str, extra: dict[str, str]) -> list[str]:
        """Everything in one MULTI/EXEC: the log ids written, the acted question's first."""
        now = self.now
        pipe, k = self.pipe, self.keys
        # The state indexes: a question back in "new" takes its arrival place again.
        moved = [i for i in self.read.values() if i.changed and i.q.state != i.was]
        seqs = {i.q.id: int(pipe.zscore(k.questions, i.q.id) or 0)
                for i in moved if i.q.state == "new"}
        plan = columns.queue_plan(pipe, k.queue, self.queue_read, self.queue) \
            if self.queue_changed else None
        pipe.multi()
        # (qid, extra fields, projections) of each entry: the acted question's, then each own.
        entries: list[tuple[str, dict[str, str], list[Any]]] = [(qid, extra, [])]
        entries += [(other, fields, []) for other, fields in self.own_entries.items()]
        entry_of = {entry[0]: entry for entry in entries}
        for item in self.read.values():
            if not item.changed:
                continue
            item.q.version += 1
            item.q.last_actor, item.q.updated_at = self.actor, now
            item.q.undo_depth = len(item.undo)
            data = item.q.to_dict()
            entry_of.get(item.q.id, entries[0])[2].append(data)
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
        for write in self.writes:
            write(pipe)
        was = {i.q.id: i.was for i in moved}
        for n, (entry_qid, entry_extra, changed) in enumerate(entries, 1):
            fields = {"type": entry_type, "qid": entry_qid, "actor": self.actor, "at": now,
                      "qs": json.dumps(changed, ensure_ascii=False), **entry_extra}
            ids = [data["id"] for data in changed]
            if entry_was := {qid: was[qid] for qid in ids if qid in was}:
                fields["was"] = json.dumps(entry_was)
            if entry_seqs := {qid: seqs[qid] for qid in ids if qid in seqs}:
                fields["seq"] = json.dumps(entry_seqs)
            if n == len(entries):  # the queue and the screen as they are after the whole step
                if self.queue_changed:
                    fields["queue_edit"] = json.dumps(queue_edit.diff(self.queue_read, self.queue))
                if self.screen_changed:
                    fields["screen"] = self.screen or ""
                if self.left_screen is not None:
                    fields["off_screen"], seconds = self.left_screen
                    fields["seconds_on_screen"] = f"{seconds:.1f}"
            pipe.xadd(k.log, fields)  # type: ignore[arg-type]
        return [str(x) for x in pipe.execute()[-len(entries):]]


def seconds_between(start: str, end: str) -> float:
    """Seconds from one ``utc_now`` time to another; 0 when the start is unknown (a question
    put on screen before times were kept)."""
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start))
                   .total_seconds())
    except ValueError:
        return 0.0


def _triaged_since(q: Question, version: int, action: Action) -> bool:
    """Only the triage worker's one write came after the version the moderator saw. Its findings
    change nothing a moderator decides on, so the action stands: refused, every action taken in
    the seconds before triage reached a post (as at any burst) was lost. Not for an action that
    writes the text, whose words are from before triage masked them."""
    return (q.last_actor == TRIAGE_ACTOR and q.version == version + 1
            and not any(p.field == "text" for p in action.params))
