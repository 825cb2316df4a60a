"""The console's columns at volume: one index per state in Redis, a paged snapshot, pages.

With tens of thousands of questions a console cannot be sent the whole event on connect (20,000
questions were a 12.8 MB snapshot). So each state has a sorted set of its question ids
(``Keys.state``), kept in step with the projections wherever a question changes state: the ingest
script (``aggregator.core.store``) adds each new question to "new", and every moderation step moves
the ids it changed (``move``, called from ``aggregator.core.moderation``). "new" is scored by
arrival, as ``Keys.questions``; every other state by when the question last changed (Unix ms of its
``updated_at``), so a column's order is the index's order and a console can tell, from a
question alone, where it falls.

A console is sent the counts of every list, the whole queue's ids, the screen and the first page
of each list (``snapshot``), all read in one script so they agree with the log id sent with them;
it asks for further pages (``page``) with the cursor of the last card it holds, and keeps the
rest true from the log entries, which name the state each moved question came from (``was``) and
the arrival number of one that arrives (``arrival``) or goes back to "new" (``seq``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from aggregator.base.keys import Keys
from aggregator.core.filters import Filters, needle, passes
from aggregator.core.payloads import (
    ConsoleSnapshotPayload,
    ListPage,
    PagePayload,
    QuestionPayload,
    SearchPayload,
)
from aggregator.core.question import STATES
from aggregator.core.search_index import TextIndex

# Console list -> (state whose index it reads, newest first?). The queue and the screen are read
# from their own keys; "approved" and "on_screen" are indexed too, for whoever needs them.
LISTS: dict[str, tuple[str, bool]] = {
    "incoming": ("new", False), "answered": ("answered", True), "held": ("held", True),
    "rejected": ("rejected", True), "grouped": ("grouped", True),
}
# Lists a console can page but is not sent in the snapshot: Incoming newest first, asked for
# when a moderator orders Incoming so.
PAGED_ONLY: dict[str, tuple[str, bool]] = {"incoming_newest": ("new", True)}
# Cards per list in the first snapshot and per page: a tall screen shows about 40 compact cards
# of a column; 100 leaves room to scroll before the next page is asked for, and keeps the
# snapshot near 60 kB a list.
PAGE = 100
PAGE_MAX = 500
# A filtered page (``search``) walks its list in chunks of this many questions, one short script
# each (a millisecond or two), so Redis serves ingest and the other consoles between them; it
# answers with what it found once it has ``limit`` matches, or has scanned SCAN_MAX questions or
# for SCAN_SECONDS, so a search of a long event shows its progress and its first matches early.
SCAN_CHUNK = 500
SCAN_MAX = 10_000
SCAN_SECONDS = 0.25
# With a text to search and the process's text index (aggregator/core/search_index.py), a
# search reads only ids, this many a round trip, and the projections of those whose text may
# match, and walks the whole list within SCAN_SECONDS.
INDEXED_CHUNK = 5_000
# A text that fewer questions than this contain is looked up the other way round: the index's
# questions, placed in the list by their scores (one ZMSCORE), instead of the list's ids.
FEW_MATCHES = 2_000

# The snapshot, read at once: the last log id, the screen, the queue's ids, then for each list
# its count and first page (ids with scores), then the projections of every id named.
_SNAPSHOT = """
local log, queue, screen_key, qprefix, indexed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local limit = tonumber(ARGV[1])
if redis.call('EXISTS', indexed) == 0 then return false end
local last = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then last_id = last[1][1] end
local screen = redis.call('GET', screen_key) or ''
local ids = redis.call('ZRANGE', queue, 0, -1)
local out = {last_id, screen, ids}
local wanted = {}
for i = 1, math.min(limit, #ids) do wanted[#wanted + 1] = ids[i] end
if screen ~= '' then wanted[#wanted + 1] = screen end
for n = 6, #KEYS do
  local page
  if ARGV[n - 4] == '1' then
    page = redis.call('ZREVRANGE', KEYS[n], 0, limit - 1, 'WITHSCORES')
  else
    page = redis.call('ZRANGE', KEYS[n], 0, limit - 1, 'WITHSCORES')
  end
  out[#out + 1] = redis.call('ZCARD', KEYS[n])
  out[#out + 1] = page
  for i = 1, #page, 2 do wanted[#wanted + 1] = page[i] end
end
local datas = {}
for i, qid in ipairs(wanted) do datas[i] = redis.call('HGET', qprefix .. qid, 'data') end
out[#out + 1] = datas
return out
"""

# One page of a list: the ids strictly after the cursor (score, id) in the list's order (ties on
# a score are in id order, as Redis keeps them), with their projections (none if ARGV[5] is "1")
# and the list's count.
_PAGE = """
local index, qprefix = KEYS[1], KEYS[2]
local desc, score, after, limit = ARGV[1] == '1', ARGV[2], ARGV[3], tonumber(ARGV[4])
local cursor = tonumber(score)
local out = {}
local offset = 0
while true do
  local batch
  if desc then
    batch = redis.call('ZREVRANGEBYSCORE', index, score == '' and '+inf' or score, '-inf',
                       'WITHSCORES', 'LIMIT', offset, limit)
  else
    batch = redis.call('ZRANGEBYSCORE', index, score == '' and '-inf' or score, '+inf',
                       'WITHSCORES', 'LIMIT', offset, limit)
  end
  for i = 1, #batch, 2 do
    local m, s = batch[i], tonumber(batch[i + 1])
    local past = score == '' or s ~= cursor or (desc and m < after) or ((not desc) and m > after)
    if past and #out < limit * 2 then
      out[#out + 1] = m
      out[#out + 1] = batch[i + 1]
    end
  end
  if #out >= limit * 2 or #batch < limit * 2 then break end
  offset = offset + limit
end
local datas = {}
if ARGV[5] ~= '1' then
  for i = 1, #out, 2 do datas[#datas + 1] = redis.call('HGET', qprefix .. out[i], 'data') end
end
return {out, datas, redis.call('ZCARD', index)}
"""

# A page of the queue, by position.
_QUEUE_PAGE = """
local queue, qprefix = KEYS[1], KEYS[2]
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = redis.call('ZRANGE', queue, offset, offset + limit - 1)
local datas = {}
for i, qid in ipairs(ids) do datas[i] = redis.call('HGET', qprefix .. qid, 'data') end
return {ids, datas, redis.call('ZCARD', queue)}
"""


def millis(iso: str) -> int:
    """Unix ms of a ``utc_now`` time, exactly as the console's ``Date.parse`` reads it."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(round(moment.timestamp() * 1000))


def move(pipe: redis.client.Pipeline, keys: Keys, qid: str, was: str, state: str, now: str,
         seq: int | None = None) -> None:
    """Queue, on ``pipe``, the index writes for a question that went from ``was`` to ``state``
    and changed at ``now`` (``seq``: its arrival number, needed when it re-enters "new")."""
    if was != state:
        pipe.zrem(keys.state(was), qid)
    if state == "new":
        if was != state and seq is not None:
            pipe.zadd(keys.state("new"), {qid: seq})
    else:
        pipe.zadd(keys.state(state), {qid: millis(now)})


# The queue's incremental writes: the ids that left, and the ids that joined with their scores.
QueuePlan = tuple[list[str], dict[str, float]]


def queue_plan(pipe: redis.client.Pipeline, key: str, before: list[str],
               after: list[str]) -> QueuePlan | None:
    """Read (``pipe`` watching, before MULTI) what it takes to make the queue ``after`` from
    ``before`` (both ids in order) by writing only the ids that left or joined. Only the order
    of the scores counts, so that works when the ids kept stay in their order and new ones join
    only at the front or the back (approve, screen, unscreen: nearly every step), and a long
    queue is not rewritten per action. None otherwise (a reorder): rewrite it whole."""
    members, had = set(after), set(before)
    kept = [qid for qid in before if qid in members]
    first = next((i for i, qid in enumerate(after) if qid in had), len(after))
    if after[first:first + len(kept)] != kept:
        return None
    front, back = after[:first], after[first + len(kept):]
    joined: dict[str, float] = {}
    if front:
        low = pipe.zrange(key, 0, 0, withscores=True)
        start = float(low[0][1]) if low else 0.0
        joined.update({qid: start - len(front) + i for i, qid in enumerate(front)})
    if back:
        high = pipe.zrange(key, -1, -1, withscores=True)
        start = float(high[0][1]) + 1 if high else 0.0
        joined.update({qid: start + i for i, qid in enumerate(back)})
    return [qid for qid in before if qid not in members], joined


def write_queue(pipe: redis.client.Pipeline, key: str, after: list[str],
                plan: QueuePlan | None) -> None:
    """Queue, inside MULTI, the writes of ``plan`` (or of the whole queue ``after``)."""
    if plan is not None:
        gone, joined = plan
        if gone:
            pipe.zrem(key, *gone)
        if joined:
            pipe.zadd(key, joined)
        return
    pipe.delete(key)
    if after:
        pipe.zadd(key, {qid: rank for rank, qid in enumerate(after)})


class PageError(ValueError):
    """A page request the columns cannot answer (unknown list, bad cursor)."""


@dataclass
class Columns:
    """Verbs around the state indexes. Takes a connection made with ``decode_responses=True``."""

    conn: redis.Redis
    keys: Keys

    def __post_init__(self) -> None:
        self._snapshot = self.conn.register_script(_SNAPSHOT)
        self._page = self.conn.register_script(_PAGE)
        self._queue_page = self.conn.register_script(_QUEUE_PAGE)

    def build(self) -> None:
        """Index every stored question by its state, unless that is done; once per event stored
        before the indexes existed. Retried if the log moves meanwhile, so it misses no step."""
        k = self.keys

        def build(pipe: redis.client.Pipeline) -> None:
            if pipe.exists(k.indexed):
                return
            scored = pipe.zrange(k.questions, 0, -1, withscores=True)
            reads = self.conn.pipeline(transaction=False)
            for qid, _ in scored:
                reads.hget(k.question(qid), "data")
            datas = reads.execute()
            by_state: dict[str, dict[str, float]] = {state: {} for state in STATES}
            for (qid, seq), data in zip(scored, datas, strict=True):
                if data is None:
                    continue
                q = json.loads(data)
                state = q.get("state", "new")
                score = seq if state == "new" else millis(q.get("updated_at") or
                                                          q.get("received_at") or
                                                          "1970-01-01T00:00:00Z")
                by_state.setdefault(state, {})[qid] = score
            pipe.multi()
            for state, members in by_state.items():
                pipe.delete(k.state(state))
                items = list(members.items())
                for start in range(0, len(items), 5000):
                    pipe.zadd(k.state(state), dict(items[start:start + 5000]))
            pipe.set(k.indexed, "1")
            pipe.execute()

        self.conn.transaction(build, k.log, k.indexed)

    def snapshot(self, limit: int = PAGE) -> ConsoleSnapshotPayload:
        """What a console starts from: counts, the queue, the screen, the first page of each
        list, as of the returned ``last_id``."""
        k = self.keys
        keys = [k.log, k.queue, k.screen, k.question(""), k.indexed,
                *(k.state(state) for state, _ in LISTS.values())]
        args = [limit, *("1" if desc else "0" for _, desc in LISTS.values())]
        reply = self._snapshot(keys=keys, args=args)
        if not reply:
            self.build()
            reply = self._snapshot(keys=keys, args=args)
        last_id, screen, queue, *rest = reply
        datas = rest.pop()
        counts: dict[str, int] = {"queue": len(queue), "screen": 1 if screen else 0}
        lists: dict[str, ListPage] = {}
        for n, name in enumerate(LISTS):
            count, page = rest[2 * n], rest[2 * n + 1]
            counts[name] = int(count)
            lists[name] = _list_page(page, limit)
        lists["queue"] = {"ids": list(queue[:limit]), "scores": [], "more": len(queue) > limit}
        questions = [json.loads(d) for d in datas if d]
        return {"last_id": last_id, "queue": list(queue), "screen": screen or None,
                "counts": counts, "lists": lists, "questions": _unique(questions)}

    def page(self, name: str, after: Any, limit: int = PAGE) -> PagePayload:
        """The ``limit`` questions of list ``name`` after ``after``: for the queue a position,
        for the other lists the cursor [score, id] of the last card held (None: from the top)."""
        state, desc = self._list(name, after, limit)
        k = self.keys
        if name == "queue":
            ids, datas, count = self._queue_page(keys=[k.queue, k.question("")],
                                                 args=[after, limit])
            page: ListPage = {"ids": list(ids), "scores": [], "more": after + len(ids) < count}
        else:
            score, last = _cursor(after)
            scored, datas, count = self._page(keys=[k.state(state), k.question("")],
                                              args=["1" if desc else "0", score, last, limit])
            page = _list_page(scored, limit)
        questions = [json.loads(d) for d in datas if d]
        return {"list": name, "count": int(count), "page": page, "questions": questions}

    def _list(self, name: str, after: Any, limit: Any) -> tuple[str, bool]:
        """Check a request for part of list ``name``; (the state whose index it reads, newest
        first?). The queue is read by position, from its own key."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= PAGE_MAX:
            raise PageError(f"limit must be a whole number from 1 to {PAGE_MAX}")
        if name == "queue":
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                raise PageError("a page of the queue starts after a position (0 or more)")
            return "approved", False
        if name not in LISTS and name not in PAGED_ONLY:
            raise PageError(f"there is no list {name!r}")
        _cursor(after)
        if not self.conn.exists(self.keys.indexed):
            self.build()
        return LISTS.get(name) or PAGED_ONLY[name]

    def search(self, name: str, after: Any, filters: Filters, limit: int = PAGE,
               chunk: int | None = None, scan_max: int | None = None,
               seconds: float = SCAN_SECONDS, index: TextIndex | None = None,
               few: int = FEW_MATCHES) -> SearchPayload:
        """The next questions of list ``name`` past ``after`` that pass ``filters``: up to
        ``limit`` matches, the ``edge`` it scanned to (the cursor to go on from: every question
        of the list up to it was looked at) and how many of the list lie up to it
        (``scanned``). ``page.more``: whether the list goes on past the edge. With a ready
        ``index`` and a text to search, only the projections whose text may match are read."""
        state, desc = self._list(name, after, limit)
        k = self.keys
        score, last = ("", "") if name == "queue" else _cursor(after)
        items = set(self.conn.hkeys(k.agenda)) if filters.item else set()
        screen = needle(filters)
        indexed = index is not None and index.ready and bool(filters.text) and name != "queue"
        if indexed and not filters.excludes_state(state):
            assert index is not None
            index.catch_up(self.conn, k)
            matching = index.containing(filters.text, few)
            if matching is not None:
                return self._search_few(name, state, desc, after, filters, limit, matching,
                                        items)
        if chunk is None:
            chunk = INDEXED_CHUNK if indexed else SCAN_CHUNK
        if scan_max is None:
            scan_max = 2 ** 62 if indexed else SCAN_MAX
        ids: list[str] = []
        scores: list[float | int] = []
        found: list[QuestionPayload] = []
        edge: Any = after
        count, scanned, more = 0, 0, True
        started = time.monotonic()
        if filters.excludes_state("approved" if name == "queue" else state):
            count = int(self.conn.zcard(k.queue if name == "queue" else k.state(state)))
            more = False
        while more and len(ids) < limit and scanned < scan_max and (
                not scanned or time.monotonic() - started < seconds):
            if name == "queue":
                members, datas, count = self._queue_page(keys=[k.queue, k.question("")],
                                                         args=[edge, chunk])
                places: list[Any] = [edge + 1 + n for n in range(len(members))]
            else:
                flat, datas, count = self._page(
                    keys=[k.state(state), k.question("")],
                    args=["1" if desc else "0", score, last, chunk, "1" if indexed else "0"])
                members, places = flat[0::2], flat[1::2]
            more = len(members) >= chunk
            if indexed:
                assert index is not None
                datas, upto = self._candidates(members, index, filters.text, 2 * limit)
                if upto < len(members):  # a common text: the rest of the chunk next round
                    members, places, datas, more = members[:upto], places[:upto], datas, True
            stop = len(members) - 1  # the last member looked at: the cursor goes on from it
            for n, data in enumerate(datas):
                if not data or screen and "\\u" not in data and screen not in data.lower():
                    continue  # deleted meanwhile, or certainly no match (``filters.needle``)
                q = json.loads(data)
                if passes(q, filters, items):
                    ids.append(members[n])
                    scores.append(_number(str(places[n])))
                    found.append(q)
                    if len(ids) == limit:
                        more, stop = more or n < len(members) - 1, n
                        break
            if members:
                scanned += stop + 1
                if name == "queue":
                    edge = places[stop]
                else:
                    score, last = str(places[stop]), members[stop]
                    edge = [_number(score), last]
        page: ListPage = {"ids": ids, "scores": [] if name == "queue" else scores,
                          "more": more}
        return {"list": name, "count": int(count), "page": page, "questions": found,
                "edge": edge, "scanned": int(count) if not more else self._position(
                    name, state, desc, edge, int(count))}

    def _search_few(self, name: str, state: str, desc: bool, after: Any, filters: Filters,
                    limit: int, qids: list[str], items: set[str]) -> SearchPayload:
        """``search`` for a text few questions contain (``qids``, from the index): those of
        them in the list, in its order past ``after``, read and judged until ``limit`` pass. A
        question the index does not know yet (arrived in the last moment) is not among them."""
        k = self.keys
        score, last = _cursor(after)
        reads = self.conn.pipeline(transaction=False)
        reads.zcard(k.state(state))
        reads.zrange(k.state(state), -1 if not desc else 0, -1 if not desc else 0,
                     withscores=True)
        if qids:
            reads.zmscore(k.state(state), qids)
        count, end, *scored = reads.execute()
        places = [(float(s), qid) for qid, s in zip(qids, scored[0] if scored else [],
                                                      strict=True) if s is not None]
        places.sort(reverse=desc)
        if score:
            cursor = (float(score), last)
            places = [p for p in places if (p < cursor if desc else p > cursor)]
        ids: list[str] = []
        scores: list[float | int] = []
        found: list[QuestionPayload] = []
        more = False
        for start in range(0, len(places), 2 * limit):
            part = places[start:start + 2 * limit]
            fetch = self.conn.pipeline(transaction=False)
            for _, qid in part:
                fetch.hget(k.question(qid), "data")
            for (place, qid), data in zip(part, fetch.execute(), strict=True):
                if not data:
                    continue
                q = json.loads(data)
                if passes(q, filters, items):
                    if len(ids) == limit:
                        more = True
                        break
                    ids.append(qid)
                    scores.append(_number(repr(place)))
                    found.append(q)
            if more:
                break
        if more:
            edge: Any = [scores[-1], ids[-1]]
        elif end:
            edge = [_number(repr(float(end[0][1]))), end[0][0]]
        else:
            edge = after
        page: ListPage = {"ids": ids, "scores": scores, "more": more}
        return {"list": name, "count": int(count), "page": page, "questions": found,
                "edge": edge, "scanned": int(count) if not more else self._position(
                    name, state, desc, edge, int(count))}

    def _candidates(self, members: list[str], index: TextIndex, text: str,
                    most: int) -> tuple[list[str | None], int]:
        """The projections of the first ``members`` whose text may contain ``text`` (None for
        the others), read in one round trip, and how many of ``members`` that covers: up to
        ``most`` candidates, the members before the next one."""
        wanted = [n for n, qid in enumerate(members) if index.may_match(qid, text)]
        upto = len(members)
        if len(wanted) > most:
            upto, wanted = wanted[most], wanted[:most]
        datas: list[str | None] = [None] * upto
        if wanted:
            reads = self.conn.pipeline(transaction=False)
            for n in wanted:
                reads.hget(self.keys.question(members[n]), "data")
            for n, data in zip(wanted, reads.execute(), strict=True):
                datas[n] = data
        return datas, upto

    def arrivals(self, qids: list[str]) -> dict[str, int]:
        """The arrival number (Incoming's order) of each of ``qids`` that has one: a console
        that learns of a question from a log entry that names none asks, to place it."""
        reads = self.conn.pipeline(transaction=False)
        for qid in qids:
            reads.zscore(self.keys.questions, qid)
        return {qid: int(score) for qid, score in zip(qids, reads.execute(), strict=True)
                if score is not None}

    def _position(self, name: str, state: str, desc: bool, edge: Any, count: int) -> int:
        """How many of the list lie up to ``edge`` (its first questions: none)."""
        if edge is None:
            return 0
        if name == "queue":
            return min(int(edge), count)
        key = self.keys.state(state)
        bound = repr(edge[0])
        return int(self.conn.zcount(key, bound, "+inf") if desc
                   else self.conn.zcount(key, "-inf", bound))


def _cursor(after: Any) -> tuple[str, str]:
    if after is None:
        return "", ""
    if (isinstance(after, list) and len(after) == 2 and isinstance(after[1], str)
            and len(after[1]) <= 300 and isinstance(after[0], int | float)
            and not isinstance(after[0], bool) and after[0] == after[0]
            and abs(after[0]) < 2 ** 53):
        return repr(int(after[0])) if float(after[0]).is_integer() else repr(after[0]), after[1]
    raise PageError("after must be null or the [score, id] of the last card held")


def _list_page(flat: list[str], limit: int) -> ListPage:
    ids, scores = flat[0::2], [_number(s) for s in flat[1::2]]
    return {"ids": list(ids), "scores": scores, "more": len(ids) >= limit}


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


def _unique(questions: list[QuestionPayload]) -> list[QuestionPayload]:
    seen: set[str] = set()
    out = []
    for q in questions:
        if q["id"] not in seen:
            seen.add(q["id"])
            out.append(q)
    return out
