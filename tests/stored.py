"""What an event holds in Redis, read back as text: to show a value is there, or gone."""

from __future__ import annotations

import json

import redis

from aggregator.base.keys import Keys


def dump(conn: redis.Redis, event: str) -> str:
    """Every value of every key of the event, as one text: each string, and each string found
    inside JSON inside it, on its own line, so a value is found as it was typed."""
    parts: list[str] = []
    for key in sorted(conn.scan_iter(Keys(event).pattern, count=1000)):
        kind = conn.type(key)
        if kind == "string":
            value: object = conn.get(key)
        elif kind == "hash":
            value = conn.hgetall(key)
        elif kind == "zset":
            value = conn.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = sorted(conn.smembers(key))
        elif kind == "list":
            value = conn.lrange(key, 0, -1)
        elif kind == "stream":
            value = conn.xrange(key)
        else:
            raise AssertionError(f"{key}: a {kind} the scan does not read")
        parts.append(key)
        parts.extend(_leaves(value))
    return "\n".join(parts)


def _leaves(value: object) -> list[str]:
    if isinstance(value, str):
        found = [value]
        if value[:1] in ("{", "[", '"'):
            try:
                found += _leaves(json.loads(value))
            except ValueError:
                pass
        return found
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(k) + _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [str(value)]
