"""Remote control over HTTP, for Bitfocus Companion, a Stream Deck or any HTTP client.

    POST /control/next     put the first queued question on screen (refused while one is on)
    POST /control/answer   mark the question on screen answered
    POST /control/back     send the question on screen back to the front of the queue
    POST /control/clear    clear the screen (the safety valve; never refused as stale)
    GET  /control/status   on air or not, the current question's first words (of its public
                           text, as the board shows it) and public id, queue length

Each call carries ``Authorization: Bearer <control token>``. Tokens are made, listed and
revoked with ``floor control-token``; only their sha256 is stored, the token is shown once.
Each call is one moderator action in the log, by ``control:<label>``, through the same
moderation as the consoles, so two presses can never put two questions on screen; "next"
while a question is on screen is refused (a flood of presses puts exactly one on screen).
Every answer is JSON: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``, the refusals
of the web app itself under /control (429, 413, 405, 404) included: see ``refusal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from aggregator.base.keys import Keys
from aggregator.core.moderation import Refused
from aggregator.core.public_text import Rules, public_text
from aggregator.followers.ledger import Ledger
from web import floor
from web.extensions import csrf, limiter
from web.hashed_secrets import Hashed, HashedSecrets, digest_of

URL_PREFIX = "/control"
bp = Blueprint("control", __name__, url_prefix=URL_PREFIX)
csrf.exempt(bp)  # a bearer token, not a cookie: no cross-site request can carry it

PREFIX = "floor-control-"  # recognisable in a config file or a leak scanner
MAX_LABEL = 60
WORDS_SHOWN = 8
# A Stream Deck sends one request a press; a held or stuck button, a script gone wrong: refused
# beyond this, per token and address.
CONTROL_LIMIT = "5/second;120/minute"


@dataclass(frozen=True)
class ControlToken(Hashed):
    label: str
    created: str


class ControlTokens(HashedSecrets[ControlToken]):
    """The event's control tokens. Takes a connection made with ``decode_responses=True``."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        super().__init__(conn, Keys(event).control_tokens, ControlToken)

    def create(self, label: str) -> tuple[str, ControlToken]:
        return self.add(PREFIX, label=" ".join(label.split())[:MAX_LABEL] or "control")

    def find(self, secret: str) -> ControlToken | None:
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        return super().find(secret)


def _answer(status: int, **fields: Any) -> tuple[Response, int]:
    return jsonify({"ok": status < 400, **fields}), status


def answers_in_json(path: str) -> bool:
    """Whether an error at ``path`` is a remote control's, answered in JSON (even an address
    no route matched, which no blueprint handler sees)."""
    return path == URL_PREFIX or path.startswith(URL_PREFIX + "/")


def refusal(error: HTTPException) -> tuple[Response, int]:
    """An HTTP error under /control, answered like every other control answer."""
    return _answer(error.code or 500, error=f"{error.name}: {error.description}")


def _caller() -> ControlToken | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    f = floor()
    return ControlTokens(f.store.conn, f.settings.event.slug).find(header[len("Bearer "):].strip())


def _token_of_request() -> str:
    """Rate limits count per event, token and address."""
    header = request.headers.get("Authorization", "")
    return f"{floor().settings.event.slug}:control:{digest_of(header)[:16]}:{request.remote_addr}"


def _status() -> dict[str, Any]:
    f = floor()
    keys, conn = f.store.keys, f.store.conn
    current = conn.get(keys.screen)
    question = f.store.question(current) if current else None
    text = public_text(question.text, Rules.of(f.settings)) if question else ""
    # The id the record shows (`floor answer-note` takes it); "" until the ledger has chained it.
    public = Ledger(conn, keys.event).public_ids([current]).get(current, "") \
        if question and current else ""
    return {"on_air": question is not None, "current": " ".join(text.split()[:WORDS_SHOWN]),
            "id": public, "queue": int(conn.zcard(keys.queue))}


def _act(verb: str, token: ControlToken) -> tuple[Response, int]:
    f = floor()
    actor = f"control:{token.label}"
    keys, conn = f.store.keys, f.store.conn
    try:
        if verb == "clear":
            f.moderation.clear_screen(actor)
            return _answer(200, **_status())
        if verb == "next":  # checked and done in one transaction: see screen_next
            f.moderation.screen_next(actor)
            return _answer(200, **_status())
        current = conn.get(keys.screen)
        if not current:
            return _answer(409, error="nothing is on screen", **_status())
        qid, action = str(current), {"answer": "answer", "back": "unscreen"}[verb]
        # With the version read here, a question that changed meanwhile (answered by another
        # press or a console) is refused as stale instead of acted on twice.
        question = f.store.question(qid)
        if question is None:
            return _answer(409, error="that question is gone", **_status())
        f.moderation.apply(action, qid, question.version, actor)
    except Refused as exc:  # someone acted at the same instant: say what stands now
        return _answer(409, error=str(exc), **_status())
    except redis.RedisError:
        return _answer(503, error="the store is unavailable; press again in a moment")
    return _answer(200, **_status())


@bp.post("/<verb>")
@limiter.limit(CONTROL_LIMIT, key_func=_token_of_request)
def control(verb: str) -> tuple[Response, int]:
    token = _caller()
    if token is None:
        return _answer(401, error="a valid control token is needed (Authorization: Bearer ...)")
    if verb not in ("next", "answer", "back", "clear"):
        return _answer(404, error=f"unknown command {verb!r}: next, answer, back, clear")
    return _act(verb, token)


@bp.get("/status")
@limiter.limit(CONTROL_LIMIT, key_func=_token_of_request)
def status() -> tuple[Response, int]:
    if _caller() is None:
        return _answer(401, error="a valid control token is needed (Authorization: Bearer ...)")
    try:
        return _answer(200, **_status())
    except redis.RedisError:
        return _answer(503, error="the store is unavailable")
