"""A question's public id, and the one way back from it to the question.

Floor names a question by the platform's own post id (``x:1852…``), which leads to its author;
the ledger, the record and the console show its public id instead, ``{platform}-{20 hex}``: the
start of sha256(salt || post id) with the question's own salt (the ``"{qid} id"`` field of the
event's ``salts``, written by the ledger when it first chains the question:
``aggregator/followers/ledger.py``). ``resolve`` takes either and gives the id in Redis, so every
command that names a question (``floor answer-note``) accepts what a person can read off the
record or the console.
"""

from __future__ import annotations

import hashlib
import re

import redis

from aggregator.base.keys import Keys
from aggregator.core.question import PLATFORMS

# A question's id as Floor stores it (``{platform}:{post id}``), and as the chain shows it.
QUESTION_ID = re.compile(f"(?:{'|'.join(map(re.escape, PLATFORMS))}):\\S+\\Z")
PUBLIC_ID = re.compile(f"(?:{'|'.join(map(re.escape, PLATFORMS))})-[0-9a-f]{{20}}\\Z")
ID_FIELD = "id"  # the salts field of a question's public id: "{qid} id"
# Salts read per round trip while looking a public id up.
CHUNK = 2_000


def commitment(salt: str, value: str) -> str:
    """sha256(salt bytes || value as UTF-8), hex: hides ``value`` until the salt is shown."""
    return hashlib.sha256(bytes.fromhex(salt) + value.encode("utf-8")).hexdigest()


def salt_field(qid: str, field: str) -> str:
    return f"{qid} {field}"


def public_id(salt: str, qid: str) -> str:
    """The id the chain and the record give question ``qid``: its platform, then the first 20
    hex digits (80 bits) of its post id's commitment."""
    platform = qid.split(":", 1)[0]
    return f"{platform}-{commitment(salt, qid)[:20]}"


class UnknownQuestion(LookupError):
    """No question of the event has that id."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"there is no question {name}: give the id the record or the console shows "
            "(e.g. x-6ba569e483d815f5649b) or the one in Redis (e.g. x:1852...)")


def resolve(conn: redis.Redis, event: str, name: str) -> str:
    """The id in Redis of the question named ``name`` (its public id or its id in Redis);
    ``UnknownQuestion`` if the event has none. A public id is looked up among the questions of
    its platform (one round trip per ``CHUNK`` of them): a person types it, seldom."""
    keys = Keys(event)
    name = name.strip()
    if PUBLIC_ID.match(name):
        platform = name.split("-", 1)[0]
        qids = [str(q) for q in conn.zrange(keys.questions, 0, -1)
                if str(q).startswith(platform + ":")]
        for start in range(0, len(qids), CHUNK):
            part = qids[start:start + CHUNK]
            salts = conn.hmget(keys.salts, [salt_field(qid, ID_FIELD) for qid in part])
            for qid, salt in zip(part, salts, strict=True):
                if salt and public_id(str(salt), qid) == name:
                    return qid
    elif QUESTION_ID.match(name) and conn.exists(keys.question(name)):
        return name
    raise UnknownQuestion(name)
