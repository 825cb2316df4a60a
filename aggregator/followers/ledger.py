"""The tamper-evident ledger: one hash-chain link per log entry, written by a follower of the log.

Redis's Lua has no SHA-256, so the links cannot be written inside the scripts that append to the
log. A writer (``floor ledger``, started by ``floor run``; ``floor record`` and ``floor purge``
catch it up first) follows the log in order and appends to the ``ledger`` stream, for each log
entry, a link under that entry's own id:

    entry  the log entry in committed form: its fields, with ``qs`` and ``queue`` parsed, and each
           personal field (names, handles, links, texts) replaced by ``{"commit": sha256(salt ||
           value)}`` with a random salt per question and field, kept in the ``salts`` hash
    n      the link's position, 1 for the first
    hash   sha256(previous link's hash, as 64 hex digits || "\\n" || canonical(entry)), where the
           first link's previous hash is 64 zeros

A question's id in Floor is the platform's own post id (``x:1852…``), and a post id leads to its
author as surely as a handle does. So the chain never holds one: wherever an entry names a
question (``qid``, each question's ``id`` and ``parent``, the ``queue``, ``screen``,
``off_screen``, ``dismissed``, triage's suggestions), it holds the question's public id instead,
``{platform}-{20 hex}``: the start of sha256(salt || post id) with the question's own salt (the
``"{qid} id"`` field of ``salts``). The published record carries only public ids; while the
salt is kept, the organisation can show which post a public id stands for (``public_id``), and
no one else can tell. ``floor purge`` keeps these salts: the event's keys in Redis are named by
the post ids anyway, so deleting the salt would hide nothing there, and later links about the
same question (a written answer noted after the purge) must get the same public id.

Each batch of links is one Lua script that first checks the ledger's head is still the one the
batch was computed from, so a writer that crashed, or two writers at once, can neither skip nor
duplicate a link: the explicit ids make a replay's XADD impossible, and a head that moved makes
the batch start again from the new head. Purging personal data deletes salts and values, never a
link, so the chain still verifies.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from aggregator.base.keys import Keys

# A question's ids and their commitments are defined in core, which resolves public ids too.
from aggregator.core.public_ids import (  # noqa: F401 - PUBLIC_ID re-exported (record/verify.py)
    ID_FIELD,
    PUBLIC_ID,
    QUESTION_ID,
    commitment,
    public_id,
    salt_field,
)

log = logging.getLogger("floor.ledger")

GENESIS = "0" * 64
# Fields of a question (inside an entry's ``qs``) that identify a person or hold the post's own
# words; they enter the chain as salted commitments so they can be deleted later.
PERSONAL = ("author_name", "author_handle", "url", "original", "text")
# Fields of the entry itself that hold a post's words (the text before an edit).
PERSONAL_ENTRY = ("previous",)
# Log entries linked per Lua call: big enough to amortise the round trip, small enough that the
# script never holds Redis for long.
BATCH = 500
SALT_BYTES = 16

# The batch's new salts (ARGV[2]: [field, salt, ...]) and links (ARGV[3]: [id, n, hash, entry,
# ...]) each come as one JSON array: thousands of separate arguments cost more to send than the
# links take to compute.
_APPEND = """
local ledger, salts = KEYS[1], KEYS[2]
local head = ARGV[1]
local last = redis.call('XREVRANGE', ledger, '+', '-', 'COUNT', 1)
local current = '""" + GENESIS + """'
if #last > 0 then
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'hash' then current = fields[i + 1] end
  end
end
if current ~= head then
  return redis.error_reply('STALE the ledger head moved')
end
local salted = cjson.decode(ARGV[2])
for j = 1, #salted, 2 do
  if redis.call('HEXISTS', salts, salted[j]) == 1 then
    -- The head has not moved, so no other writer made it: a salt this batch did not read.
    return redis.error_reply('SALT exists already: ' .. salted[j])
  end
end
for j = 1, #salted, 2 do
  redis.call('HSET', salts, salted[j], salted[j + 1])
end
local links = cjson.decode(ARGV[3])
local nlinks = #links / 4
for j = 0, nlinks - 1 do
  local k = 1 + 4 * j
  redis.call('XADD', ledger, links[k], 'n', links[k + 1], 'hash', links[k + 2],
             'entry', links[k + 3])
end
return nlinks
"""


# The stored salts of many fields at once (ARGV[1]: a JSON array of fields); false for none.
_SALTS = """
local fields = cjson.decode(ARGV[1])
local out = {}
for start = 1, #fields, 1000 do
  local values = redis.call('HMGET', KEYS[1], unpack(fields, start, math.min(start + 999, #fields)))
  for _, value in ipairs(values) do out[#out + 1] = value end
end
return out
"""


def canonical(value: Any) -> bytes:
    """The one encoding that is hashed: JSON, keys sorted, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def link_hash(previous: str, entry: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + b"\n" + entry).hexdigest()


def question_ids(value: Any, skip: tuple[str, ...] = PERSONAL) -> Iterator[str]:
    """Every question id in a parsed entry (not inside the personal fields ``skip``), depth
    first. A walk with its own stack: at 50,000 questions a recursive generator per value was
    most of the time it took to chain the log."""
    match = QUESTION_ID.match
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if match(item):
                yield item
        elif kind is list:
            stack.extend(reversed(item))
        elif kind is dict:
            stack.extend(reversed([v for name, v in item.items() if name not in skip]))


# Entry fields that are JSON objects keyed by question id: the state each question left, and
# arrival numbers (aggregator/core/columns.py). Their keys are ids too.
KEYED_BY_QUESTION = ("was", "seq")
# Entry fields that say how the queue changed: the whole queue (older logs), or an edit of it
# (aggregator/core/queue_edit.py). Ids inside either are replaced like any other.
QUEUE = ("queue", "queue_edit")


def _replace_ids(value: Any, public: Any) -> Any:
    """``value`` with every question id replaced by ``public(id)``, in place (``value`` is
    freshly parsed, owned by the caller); a commitment (``{"commit": ...}``) is left as it is."""
    match = QUESTION_ID.match
    if isinstance(value, str):
        return public(value) if match(value) else value
    if not isinstance(value, list | dict):
        return value
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            pairs: Any = enumerate(node)
        elif len(node) == 1 and "commit" in node:
            continue
        else:
            pairs = node.items()
        for key, item in pairs:
            kind = type(item)
            if kind is str:
                if match(item):
                    node[key] = public(item)
            elif kind is list or kind is dict:
                stack.append(item)
    return value


@dataclass(frozen=True)
class Head:
    """The end of the chain: how many links, the last one's hash and log id."""

    count: int
    hash: str
    last_id: str

    def __str__(self) -> str:
        return f"{self.count}:{self.hash}"


@dataclass(frozen=True)
class Link:
    id: str
    n: int
    hash: str
    entry: str  # canonical JSON of the committed entry

    def line(self) -> str:
        """The link as one line of a published ``ledger.jsonl``, itself canonical: the keys in
        sorted order around the entry's canonical text (ids and hashes need no escaping)."""
        return (f'{{"entry":{self.entry},"hash":"{self.hash}","id":"{self.id}",'
                f'"n":{self.n}}}')


class StaleHead(Exception):
    """Another writer moved the head first; recompute from the new head."""


# Entry fields read as JSON (when they are JSON).
PARSED = ("qs", *QUEUE, *KEYED_BY_QUESTION)


def parse(fields: dict[str, str]) -> dict[str, Any]:
    """The JSON fields of a log entry, parsed (None for one that is not JSON): parsed once per
    entry for both the salts it needs and its committed form."""
    return {name: _json(fields[name]) for name in PARSED if name in fields}


def committed(entry_id: str, fields: dict[str, str], salt_of: Any,
              public: Any = None, parsed: dict[str, Any] | None = None) -> dict[str, Any]:
    """A log entry as the chain holds it; ``salt_of(qid, field)`` gives each personal field's
    salt, ``public(qid)`` each question's public id (default: from its ``id`` salt).
    ``parsed``: ``parse(fields)``, if the caller has it (its values are changed in place)."""
    if public is None:
        def public(qid: str) -> str:
            return public_id(salt_of(qid, ID_FIELD), qid)
    values = parse(fields) if parsed is None else parsed
    entry: dict[str, Any] = {"id": entry_id}
    qid = fields.get("qid", "")
    for name, value in fields.items():
        loaded = values.get(name)
        if name in KEYED_BY_QUESTION and isinstance(loaded, dict):
            entry[name] = {public(key) if QUESTION_ID.match(key) else key: item
                           for key, item in loaded.items()}
        elif name == "qs" and isinstance(loaded, list) and all(
                isinstance(q, dict) and isinstance(q.get("id"), str) for q in loaded):
            entry[name] = [_commit_question(q, salt_of) for q in loaded]
        elif name in QUEUE and loaded is not None:
            entry[name] = loaded
        elif name in PERSONAL_ENTRY or name in ("qs", *QUEUE):
            # Text we cannot read field by field (never written by Floor) is committed whole:
            # chained, and never in clear.
            entry[name] = {"commit": commitment(salt_of(qid, name), value)}
        else:
            entry[name] = value
    return {"id": entry_id, **{name: _replace_ids(value, public) for name, value in entry.items()
                              if name != "id"}}


def _json(value: str) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        pass  # orjson is stricter (no NaN, no lone surrogates, no ints past 64 bits)
    try:
        return json.loads(value)
    except ValueError:
        return None


def _array(values: list[str]) -> str:
    """A list of strings as one argument for the scripts' ``cjson.decode``."""
    return json.dumps(values, ensure_ascii=False)


def _commit_question(question: dict[str, Any], salt_of: Any) -> dict[str, Any]:
    out = dict(question)
    for name in PERSONAL:
        if name in out:
            out[name] = {"commit": commitment(salt_of(question["id"], name), str(out[name]))}
    return out


def _needed_salts(fields: dict[str, str], parsed: dict[str, Any]) -> Iterator[str]:
    """The salts an entry's committed form needs; ``parsed``: ``parse(fields)``."""
    for qid in question_ids({name: (parsed[name] if name in ("qs", *QUEUE) else value)
                             for name, value in fields.items() if name not in PERSONAL_ENTRY}):
        yield salt_field(qid, ID_FIELD)
    qid = fields.get("qid", "")
    for name in (*PERSONAL_ENTRY, *QUEUE):  # the queue's fields: committed whole if not JSON
        if name in fields:
            yield salt_field(qid, name)
    questions = parsed["qs"] if "qs" in fields else []
    if not isinstance(questions, list) or not all(
            isinstance(q, dict) and isinstance(q.get("id"), str) for q in questions):
        yield salt_field(qid, "qs")
        return
    for question in questions:
        for name in PERSONAL:
            if name in question:
                yield salt_field(question["id"], name)


class Ledger:
    """Verbs around the event's ledger, and its writer: a follower of the log that reads by the
    chain's own head (``aggregator/followers/loop.py`` runs it; its docstring says why not by a
    consumer group). Takes a connection made with ``decode_responses=True``."""

    name = "ledger"

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)
        self._append = conn.register_script(_APPEND)
        self._salts = conn.register_script(_SALTS)
        self._public: dict[str, str] = {}  # qid -> public id, once its salt is stored

    def public_ids(self, qids: list[str]) -> dict[str, str]:
        """The public id of each question that has one (its salt is stored)."""
        salts = self.salts([salt_field(qid, ID_FIELD) for qid in qids])
        return {qid: public_id(salts[salt_field(qid, ID_FIELD)], qid) for qid in qids
                if salt_field(qid, ID_FIELD) in salts}

    def head(self) -> Head:
        last = self.conn.xrevrange(self.keys.ledger, count=1)
        if not last:
            return Head(0, GENESIS, "0-0")
        link_id, fields = last[0]
        return Head(int(fields["n"]), fields["hash"], link_id)

    def links(self, after: str = "0-0", count: int = 2_000) -> Iterator[Link]:
        """Every link after the log id ``after``, oldest first (read in chunks)."""
        last = after
        while chunk := self.conn.xrange(self.keys.ledger, min="(" + last, count=count):
            for link_id, fields in chunk:
                yield Link(link_id, int(fields["n"]), fields["hash"], fields["entry"])
            last = chunk[-1][0]

    def salts(self, fields: list[str]) -> dict[str, str]:
        if not fields:
            return {}
        values = self._salts(keys=[self.keys.salts], args=[_array(fields)])
        return {f: v for f, v in zip(fields, values, strict=True) if v is not None}

    def lag(self) -> int:
        """How many log entries are not linked yet (an estimate: XLEN difference)."""
        return int(self.conn.xlen(self.keys.log)) - int(self.conn.xlen(self.keys.ledger))

    def setup(self, beat: Callable[[], None] = lambda: None) -> None:
        """Nothing to prepare: the chain's head is the writer's cursor."""

    def step(self, block_ms: int = 0, batch: int = BATCH) -> int:
        """Link the next log entries (up to ``batch``); returns how many were linked. With none
        to link, wait up to ``block_ms`` (0: not at all) for the log to grow, and return 0."""
        while True:
            head = self.head()
            entries = self.conn.xrange(self.keys.log, min="(" + head.last_id, count=batch)
            if not entries:
                if block_ms:
                    self.conn.xread({self.keys.log: head.last_id}, count=1, block=block_ms)
                return 0
            try:
                return self._link(head, entries)
            except StaleHead:
                log.info("ledger: another writer moved the head; starting from the new one")

    def catch_up(self, batch: int = BATCH) -> int:
        """Link every log entry not linked yet; returns how many were linked."""
        total = 0
        while linked := self.step(batch=batch):
            total += linked
        return total

    def _link(self, head: Head, entries: list[tuple[str, dict[str, str]]]) -> int:
        cached = self._public
        parsed = [parse(fields) for _, fields in entries]
        wanted = sorted({f for (_, fields), values in zip(entries, parsed, strict=True)
                         for f in _needed_salts(fields, values)
                         if not (f.endswith(" " + ID_FIELD) and f[:-len(ID_FIELD) - 1] in cached)})
        known = self.salts(wanted)
        new: dict[str, str] = {}
        made: dict[str, str] = {}

        def salt_of(qid: str, name: str) -> str:
            key = salt_field(qid, name)
            salt = known.get(key)
            if salt is None:
                salt = known[key] = new[key] = secrets.token_hex(SALT_BYTES)
            return salt

        def public(qid: str) -> str:
            found = cached.get(qid) or made.get(qid)
            if found is None:
                found = made[qid] = public_id(salt_of(qid, ID_FIELD), qid)
            return found

        links: list[str] = []
        previous, n = head.hash, head.count
        for (entry_id, fields), values in zip(entries, parsed, strict=True):
            body = canonical(committed(entry_id, fields, salt_of, public, values))
            previous, n = link_hash(previous, body), n + 1
            links += [entry_id, str(n), previous, body.decode("utf-8")]
        salted = [part for key, salt in new.items() for part in (key, salt)]
        args = [head.hash, _array(salted), _array(links)]
        try:
            linked = int(self._append(keys=[self.keys.ledger, self.keys.salts], args=args))
            cached.update(made)  # only once their salts are stored
            return linked
        except redis.ResponseError as exc:
            if str(exc).startswith("STALE"):
                raise StaleHead(str(exc)) from exc
            raise
