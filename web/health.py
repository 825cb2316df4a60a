"""``/healthz`` and ``/readyz``: what a supervisor, a load balancer or a monitor asks a web node.

- ``/healthz``: this process answers HTTP (200 ``{"status": "ok"}``); it reads nothing, so it
  stays quick however busy Redis or the event is. Restart the node when it stops answering.
- ``/readyz``: this node can serve the meeting: Redis answers, the node's tail of the log runs
  (started here if no client has started it yet), and every process the settings call for
  beats: a poller per enabled source, the ledger writer, the triage worker when enabled. 200
  ``{"status": "ready"}``, else 503 ``{"status": "not ready", "reasons": [...]}``, one short
  line per problem.

No login, no rate limit, never cached. Neither names more than the settings' own source and
follower names and the kind of a Redis error: no address, credential, question or person.
Pollers and followers are the event's, shared by every node, so a dead poller makes every
node unready at once: route traffic on ``/healthz`` (or nginx's own passive checks), alert and
gate a deploy on ``/readyz`` (docs/deployment.md).
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, jsonify

from aggregator.followers.loop import expected
from web import Floor, floor

bp = Blueprint("health", __name__)


def _answer(body: dict[str, Any], status: int = 200) -> Any:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Any:
    return _answer({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    reasons = problems(floor())
    if reasons:
        return _answer({"status": "not ready", "reasons": reasons}, 503)
    return _answer({"status": "ready"})


def problems(f: Floor) -> list[str]:
    """Why this node cannot serve the meeting now, one short line each (none: ready)."""
    conn, keys, settings = f.store.conn, f.store.keys, f.settings
    sources = settings.enabled_sources()
    followers = expected(settings)
    try:
        pipe = conn.pipeline(transaction=False)
        pipe.ping()
        for name in sources:
            pipe.exists(keys.heartbeat(name))
        for name in followers:
            pipe.exists(keys.follower_heartbeat(name))
        replies = pipe.execute()
    except (redis.RedisError, OSError) as exc:
        return [f"redis: not reachable ({type(exc).__name__})"]
    reasons = []
    try:
        f.feed.start()  # idempotent: the tail a console's or a screen's connection would start
    except (redis.RedisError, OSError) as exc:
        reasons.append(f"log tail: cannot start ({type(exc).__name__})")
    else:
        if not f.feed.running:
            reasons.append("log tail: not running")
    beats = iter(replies[1:])
    reasons += [f"source {name}: no fresh heartbeat (is `floor poll {name}` running?)"
                for name in sources if not next(beats)]
    reasons += [f"{name}: no fresh heartbeat (is `floor {name}` running?)"
                for name in followers if not next(beats)]
    return reasons
