"""`/record`, the live public page: counts from the log, the ledger's head, cacheable."""

from __future__ import annotations

import html
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis
from flask.testing import FlaskClient

from aggregator.base.settings import Settings
from aggregator.core.moderation import Moderation
from aggregator.core.public_text import Rules, public_text
from aggregator.core.store import Store
from aggregator.followers.ledger import Ledger
from tests.rehearsed import rehearse
from tests.waiting import wait_until
from web.public import RENDER_EVERY, FastPage


def _record_once(client: FlaskClient, test: Callable[[str], bool]) -> str:
    """/record as soon as ``test`` holds of it (a new render comes at most every RENDER_EVERY
    seconds)."""
    def fetch() -> str | None:
        page = client.get("/record").text
        return page if test(page) else None

    return str(wait_until(fetch, timeout=10.0, what="/record to show it"))


def test_the_page_counts_and_shows_the_head(client: FlaskClient, conn: redis.Redis,
                                            event: str) -> None:
    meeting = rehearse(conn, event, limit=80)
    Ledger(conn, event).catch_up()
    response = client.get("/record")
    assert response.status_code == 200
    page = response.text
    states = Counter(meeting.states.values())
    assert f"<strong>{len(meeting.qids)}</strong> questions received" in page
    assert f"<strong>{states['answered']}</strong> answered" in page
    assert f"<strong>{states['approved']}</strong> approved and waiting" in page
    for reason, n in Counter(r for q, r in meeting.reasons.items()
                             if meeting.states[q] == "rejected").items():
        assert f'<th scope="row">{reason}</th><td>{n}</td>' in page
    assert str(Ledger(conn, event).head()) in page
    for name in meeting.names:
        assert name not in page
    assert response.headers["Cache-Control"] == "public, max-age=1"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    again = client.get("/record", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_the_page_follows_the_meeting(client: FlaskClient, conn: redis.Redis, event: str,
                                      store: Store, settings: Settings) -> None:
    meeting = rehearse(conn, event, limit=30)
    client.get("/record")
    waiting = next(q for q in meeting.qids if meeting.states[q] == "approved")
    question = store.question(waiting)
    assert question is not None
    Moderation(conn, event).apply("screen", waiting, question.version, "sam", then="answered")
    now = r'class="now" dir="[a-z]+">([^<]*)<'
    shown = _record_once(client, lambda page: re.search(now, page) is not None)
    assert html.unescape(re.search(now, shown).group(1)).strip() == \
        public_text(question.text, Rules.of(settings))  # type: ignore[union-attr]
    Ledger(conn, event).catch_up()
    head = str(Ledger(conn, event).head())
    _record_once(client, lambda page: head in page)


def test_a_fresh_page_is_served_from_memory_with_flasks_own_headers(
        app: Any, client: FlaskClient, conn: redis.Redis, event: str) -> None:
    rehearse(conn, event, limit=20)
    fast = app.wsgi_app
    assert isinstance(fast, FastPage)
    through: list[str] = []
    inner = fast.app

    def counted(environ: dict[str, Any], start_response: Any) -> Any:
        through.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    fast.app = counted
    first = client.get("/record")
    assert first.status_code == 200 and through == ["/record"]
    # Until the page is RENDER_EVERY old, Flask sees none of the next requests.
    now = time.monotonic()
    app.extensions["floor"].tally.rendered_at = now  # as if it had just been redrawn
    again = client.get("/record")
    cached = client.get("/record", headers={"If-None-Match": first.headers["ETag"]})
    head = client.head("/record")
    assert through == ["/record"], "a fresh page went through Flask"
    assert again.data == first.data
    assert dict(again.headers) == dict(first.headers)
    assert cached.status_code == 304 and cached.data == b""
    assert cached.headers["ETag"] == first.headers["ETag"]
    assert cached.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == first.headers["Content-Length"]
    # Other paths, a query string, and a page gone stale all go to Flask.
    client.get("/record?x=1")
    client.get("/login")
    app.extensions["floor"].tally.rendered_at = now - 2 * RENDER_EVERY
    client.get("/record", headers={"If-None-Match": first.headers["ETag"]})
    assert through == ["/record", "/record", "/login", "/record"]


def test_the_page_never_shows_personal_data_the_board_masks(
        client: FlaskClient, conn: redis.Redis, event: str, store: Store) -> None:
    from aggregator.core.normalise import normalise
    from aggregator.core.question import Post

    posts = [Post("x", "71", "Ring 07911 123456: is the unit opening?", "Ann"),
             Post("x", "72", "Mail ann@example.org: and the budget?", "Ann")]
    answered, now = store.ingest("x", [(normalise(p), {}) for p in posts])
    moderation = Moderation(conn, event)
    moderation.apply("screen", answered, 1, "sam", then="answered")
    moderation.apply("screen", now, 1, "sam")
    page = _record_once(client, lambda page: "is the unit opening?" in page
                        and "and the budget?" in page)
    assert "07911" not in page and "123456" not in page and "ann@example.org" not in page
