"""The event's store in Redis: questions in, snapshot and log out.

The ``log`` stream is the system of record: every change is one entry carrying the new state of
each question it touched (``qs``) and, when the queue changed, how (``queue_edit``). A
client that has a snapshot taken at log id X and applies every entry after X holds the truth.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import redis

from aggregator.base.keys import Keys
from aggregator.base.redaction import redact
from aggregator.core import columns
from aggregator.core.normalise import mend
from aggregator.core.payloads import LogEntryPayload, QuestionPayload, SnapshotPayload
from aggregator.core.question import Question, utc_now

# Stores each question once, whatever the replays: the hash's "data" field is written only if
# absent, and only then are the arrival index and the "received" log entry written. The dead
# letters and the checkpoint go in the same script, so a batch lands whole or not at all.
# A post by a muted author (``Keys.muted``; checked only while someone is muted) is stored held,
# with its reason, and listed under its author (``Keys.muted_posts``) for the unmute: in the
# same script, so an unmute (which watches that list) never misses a post arriving meanwhile.
# The projection's JSON is ``dump``'s, compact, where a string value cannot contain an
# unescaped quote: the two plain replacements below can only hit keys.
_INGEST = """
local log, index, arrivals, checkpoints, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local muted, fresh, held = KEYS[6], KEYS[7], KEYS[8]
local qprefix, source, checkpoint, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local mprefix, now_ms = ARGV[5], ARGV[6]
local anyone_muted = redis.call('SCARD', muted) > 0
local function put(text, from, to)
  local s, e = string.find(text, from, 1, true)
  if not s then return text end
  return string.sub(text, 1, s - 1) .. to .. string.sub(text, e + 1)
end
local added = {}
-- The arrival counter and both indexes are written once per batch, not once per post.
local last = tonumber(redis.call('GET', arrivals) or '0')
local seq = last
local in_index, in_fresh, in_held = {}, {}, {}
local function zadd_all(key, members)
  for s = 1, #members, 1000 do
    redis.call('ZADD', key, unpack(members, s, math.min(s + 999, #members)))
  end
end
local i = 8
for _ = 1, tonumber(ARGV[7]) do
  local qid, data, author = ARGV[i], ARGV[i + 1], ARGV[i + 3]
  local key = qprefix .. qid
  local aside = anyone_muted and author ~= '' and redis.call('SISMEMBER', muted, author) == 1
  if aside and redis.call('HEXISTS', key, 'data') == 0 then
    data = put(put(data, '"state":"new"', '"state":"held"'),
               '"aside_reason":""', '"aside_reason":"muted author"')
    redis.call('SADD', mprefix .. author, qid)
  end
  if redis.call('HSETNX', key, 'data', data) == 1 then
    redis.call('HSET', key, 'raw', ARGV[i + 2])
    seq = seq + 1
    in_index[#in_index + 1], in_index[#in_index + 2] = seq, qid
    if aside then
      in_held[#in_held + 1], in_held[#in_held + 2] = now_ms, qid
    else
      in_fresh[#in_fresh + 1], in_fresh[#in_fresh + 2] = seq, qid
    end
    redis.call('XADD', log, '*', 'type', 'received', 'qid', qid, 'actor', source, 'at', now,
               'qs', '[' .. data .. ']', 'arrival', seq)
    added[#added + 1] = qid
  end
  i = i + 4
end
if seq > last then
  redis.call('SET', arrivals, seq)
  zadd_all(index, in_index)
  zadd_all(fresh, in_fresh)
  zadd_all(held, in_held)
end
for _ = 1, tonumber(ARGV[i]) do
  redis.call('HSETNX', dead, ARGV[i + 1], ARGV[i + 2])
  i = i + 2
end
if checkpoint ~= '' then
  redis.call('HSET', checkpoints, source, string.sub(checkpoint, 2))
end
return added
"""


@dataclass
class DeadLetter:
    """A payload that could not become a question, kept whole with the reason."""

    source: str
    reason: str
    raw: Any

    def to_json(self) -> tuple[str, str]:
        """(field, record) as stored; never fails, whatever the payload holds."""
        raw = dump(self.raw)
        digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]
        record = {"source": self.source, "reason": redact(mend(str(self.reason))), "raw": raw,
                  "at": utc_now()}
        return f"{mend(self.source)}:{digest}", json.dumps(record, ensure_ascii=False)


# What orjson would write its own way goes through ``_as_text`` instead, as with the standard
# library: a date reads as ``str`` gives it, whichever encoder wrote it.
_AS_TEXT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dump(value: Any) -> str:
    """``value`` as compact JSON text that Redis can store as UTF-8, whatever it holds: lone
    surrogates become U+FFFD, objects JSON does not know become their ``str``, and a value that
    cannot be JSON at all (a cycle) becomes its ``repr`` as a JSON string."""
    try:  # orjson: ten times the standard library's speed, on ingest's hot path
        return orjson.dumps(value, default=_as_text, option=_AS_TEXT).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):  # surrogates, big ints, odd keys, cycles
        pass
    try:
        text = json.dumps(value, default=_as_text, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):  # odd keys, cycles, deep nesting
        try:
            text = json.dumps(repr(value), ensure_ascii=False)
        except RecursionError:
            text = json.dumps(f"<{type(value).__name__} nested too deep to keep>")
    # Surrogates can only sit inside JSON strings, so mending the text keeps it valid JSON.
    return mend(text)


# questions_in_chunks: a few milliseconds of work per chunk, then a pause in which the process's
# other threads (a moderator's action, the log feed) have the GIL.
CHUNK = 200
CHUNK_PAUSE = 0.005


def _load(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses to read (a lone surrogate's escape)
        return json.loads(text)


def _as_text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a payload's object may break even its own __str__
        return f"<{type(value).__name__}>"


@dataclass
class Snapshot:
    last_id: str
    questions: list[QuestionPayload]
    queue: list[str]
    screen: str | None

    def to_dict(self) -> SnapshotPayload:
        return {
            "last_id": self.last_id,
            "questions": self.questions,
            "queue": self.queue,
            "screen": self.screen,
        }


@dataclass
class LogEntry:
    id: str
    type: str
    qid: str
    actor: str
    at: str
    qs: list[QuestionPayload]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> LogEntryPayload:
        return cast(LogEntryPayload, {"id": self.id, "type": self.type, "qid": self.qid,
                                      "actor": self.actor, "at": self.at, "qs": self.qs,
                                      **self.extra})

    @classmethod
    def from_stream(cls, entry_id: str, fields: dict[str, str]) -> LogEntry:
        fields = dict(fields)
        entry = cls(
            id=entry_id,
            type=fields.pop("type", ""),
            qid=fields.pop("qid", ""),
            actor=fields.pop("actor", ""),
            at=fields.pop("at", ""),
            qs=json.loads(fields.pop("qs", "[]")),
        )
        for name in ("queue", "queue_edit", "was", "seq"):  # JSON; the rest are plain strings
            if name in fields:
                entry.extra[name] = json.loads(fields.pop(name))
        entry.extra.update(fields)
        return entry


class Store:
    """Verbs around the event's keys. Takes a connection made with ``decode_responses=True``."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)
        self._ingest = conn.register_script(_INGEST)
        self.columns = columns.Columns(conn, self.keys)  # the console's paged view

    # -- writing what the sources read -------------------------------------------------------

    def ingest(
        self,
        source: str,
        questions: Iterable[tuple[Question, Any]],
        dead: Iterable[DeadLetter] = (),
        checkpoint: str | None = None,
    ) -> list[str]:
        """Store new questions (with their raw payloads), dead letters and the checkpoint in one
        atomic step. Questions already stored are skipped. Returns the ids that were new."""
        k = self.keys
        # A platform's page token can carry what UTF-8 cannot: mended, at worst the platform
        # refuses it and the source reads again from the start (ids make that harmless).
        mark = "" if checkpoint is None else "=" + mend(checkpoint)
        now = utc_now()
        args: list[str] = [k.question(""), mend(source), mark, now, k.muted_posts(""),
                           str(columns.millis(now))]
        batch = list(questions)
        args.append(str(len(batch)))
        for question, raw in batch:
            args += [mend(question.id), dump(question.to_dict()), dump(raw),
                     mend(question.author_key)]
        letters = [letter.to_json() for letter in dead]
        args.append(str(len(letters)))
        for pair in letters:
            args += pair
        keys = [k.log, k.questions, k.arrivals, k.checkpoints, k.dead_letters, k.muted,
                k.state("new"), k.state("held")]
        return list(self._ingest(keys=keys, args=args))

    def flag(self, qid: str, flag: str, actor: str) -> str | None:
        """Add ``flag`` to a stored question (a source's news about it, such as its author's
        ban), logged like any change so every console sees it. Taken under WATCH, so it never
        undoes a moderator's action made at the same instant. Returns the log id, or None when
        the question is not stored or already has the flag."""
        key = self.keys.question(qid)

        def add(pipe: redis.client.Pipeline) -> str | None:
            data = pipe.hget(key, "data")
            if data is None:
                return None
            question = Question.from_dict(json.loads(data))
            if flag in question.flags:
                return None
            now = utc_now()
            question.flags = sorted({*question.flags, flag})
            question.version += 1
            question.last_actor, question.last_action, question.updated_at = actor, "flag", now
            record = dump(question.to_dict())
            pipe.multi()
            pipe.hset(key, "data", record)
            columns.move(pipe, self.keys, qid, question.state, question.state, now)
            pipe.xadd(self.keys.log, {"type": "flag", "qid": qid, "actor": actor, "at": now,
                                      "flag": flag, "qs": f"[{record}]"})
            return str(pipe.execute()[-1])

        result = self.conn.transaction(add, key, value_from_callable=True)
        return None if result is None else str(result)

    def questions_by(self, platform: str, handle: str) -> list[Question]:
        """The stored questions of one author on one platform (a scan: for rare events such as
        a ban, not for every post)."""
        prefix = f"{platform}:"
        qids = [qid for qid in self.question_ids() if qid.startswith(prefix)]
        pipe = self.conn.pipeline(transaction=False)
        for qid in qids:
            pipe.hget(self.keys.question(qid), "data")
        found = [Question.from_dict(json.loads(d)) for d in pipe.execute() if d is not None]
        return [q for q in found if q.author_handle == handle]

    def checkpoint(self, source: str) -> str | None:
        value = self.conn.hget(self.keys.checkpoints, source)
        return None if value is None else str(value)

    def dead_letters(self) -> list[dict[str, Any]]:
        records = self.conn.hgetall(self.keys.dead_letters)
        return sorted((json.loads(v) for v in records.values()), key=lambda r: r["at"])

    # -- reading ----------------------------------------------------------------------------

    def question(self, qid: str) -> Question | None:
        data = self.conn.hget(self.keys.question(qid), "data")
        return None if data is None else Question.from_dict(json.loads(data))

    def raw(self, qid: str) -> Any:
        raw = self.conn.hget(self.keys.question(qid), "raw")
        return None if raw is None else json.loads(raw)

    def screen(self) -> str | None:
        """The question on screen, if any."""
        return self.conn.get(self.keys.screen)  # type: ignore[no-any-return]

    def question_ids(self) -> list[str]:
        return list(self.conn.zrange(self.keys.questions, 0, -1))

    def questions_in_chunks(self, size: int = CHUNK,
                            pause: float = CHUNK_PAUSE) -> Iterator[list[QuestionPayload]]:
        """Every question, ``size`` at a time in arrival order, each chunk read in one round
        trip, with ``pause`` seconds after each: for a web process's own tally of the event
        (the record panel, the live page). Read in one go, 50,000 questions are seconds of
        decoding that hold the GIL, and every moderator's action in that process waits behind
        them. Questions that arrive meanwhile come in later chunks."""
        after = "-inf"
        while True:
            page = self.conn.zrangebyscore(self.keys.questions, after, "+inf", start=0,
                                           num=size, withscores=True)
            if not page:
                return
            pipe = self.conn.pipeline(transaction=False)
            for qid, _ in page:
                pipe.hget(self.keys.question(qid), "data")
            yield [_load(d) for d in pipe.execute() if d is not None]
            after = f"({page[-1][1]:.17g}"
            time.sleep(pause)

    def snapshot(self) -> Snapshot:
        """Everything now, with the log id it is at least as new as: for export, the record and
        tests. Consoles start from the paged ``columns.snapshot()`` instead."""
        last_id = self.last_log_id()
        qids = self.question_ids()
        pipe = self.conn.pipeline(transaction=False)
        for qid in qids:
            pipe.hget(self.keys.question(qid), "data")
        pipe.zrange(self.keys.queue, 0, -1)
        pipe.get(self.keys.screen)
        *datas, queue, screen = pipe.execute()
        questions = [json.loads(d) for d in datas if d is not None]
        return Snapshot(last_id, questions, list(queue), screen)

    def log_after(self, last_id: str = "0-0", count: int | None = None) -> list[LogEntry]:
        """Log entries strictly after ``last_id``, oldest first."""
        entries = self.conn.xrange(self.keys.log, min="(" + last_id, count=count)
        return [LogEntry.from_stream(i, f) for i, f in entries]

    def wait_log(self, last_id: str, block_ms: int, count: int = 500) -> list[LogEntry]:
        """Block up to ``block_ms`` for entries after ``last_id``."""
        reply = self.conn.xread({self.keys.log: last_id}, count=count, block=block_ms)
        if not reply:
            return []
        return [LogEntry.from_stream(i, f) for i, f in reply[0][1]]

    def last_log_id(self) -> str:
        last = self.conn.xrevrange(self.keys.log, count=1)
        return last[0][0] if last else "0-0"
