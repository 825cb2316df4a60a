"""One public text: a question with the event's hashtags, a phone number, a right-to-left asker
and a long text, put through every surface that shows it outside the moderators' cards (the
board, the overlay, the chair's view, the console's "On the board now", /record and the
published record): each shows the same words, read in the same direction, with the same
"asked by" words (``aggregator/core/public_text.py``)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
import redis

from aggregator.base.settings import Settings
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.public_text import Rules, asked_words, direction, public_text, shown
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.followers.ledger import Ledger
from aggregator.followers.record.build import build
from tests.fixtures.browser import TIMEOUT_MS, open_console
from tests.posts import act
from web.screen_links import ScreenLinks

ASKER = "ليلى حداد"
# Arabic words first (a right-to-left question behind a Latin hashtag), a phone number, the
# event's hashtag in two spellings, another hashtag that stays, and past the board's 280.
TEXT = ("#APM2026 متى سيفتح مركز ميلبروك؟ Ring me on 07911 123456 about the Millbrook unit "
        "#apm2026 #NHS. " + "The unit served four villages and the nearest ward is now an "
        "hour away by bus, so people wait at home until it is an emergency. " * 3
        + "What is the date?")


def test_the_public_text_is_masked_untagged_whole_and_read_right_to_left() -> None:
    rules = Rules(tags=frozenset({"apm2026"}))
    text = public_text(TEXT, rules)
    assert "07911" not in text and "123456" not in text and "#APM2026" not in text
    assert "#apm2026" not in text and "#NHS" in text
    assert text.startswith("متى") and text.endswith("What is the date?") and len(text) > 280
    assert direction(text) == "rtl"
    assert public_text(TEXT, Rules(mask=False)) == TEXT
    assert asked_words(1, 1) == "" and asked_words(3, 1) == "asked by 3 people"
    assert shown({"text": TEXT, "asked_by": 2, "asked_on": {"x": 1, "fb": 1}}, rules).asked \
        == "asked by 2 people on 2 platforms"


def _meeting(store: Store) -> str:
    """The question on screen, a second asker on Facebook grouped under it."""
    moderation = Moderation(store.conn, store.keys.event)
    posts = [Post("x", "5501", TEXT, ASKER, "layla"),
             Post("fb", "5502", "When does Millbrook reopen?", "Sam Okafor", "")]
    (qid,) = store.ingest("x", [(normalise(posts[0]), {})])
    (repeat,) = store.ingest("fb", [(normalise(posts[1]), {})])
    act(moderation, store, "group", repeat, parent=qid)
    act(moderation, store, "screen", qid)
    return qid


def _page(browser: Any, contexts: list[Any], url: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 720},
                                  reduced_motion="reduce")
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector('body[data-connection="live"]')
    return page


def _drawn(page: Any, text: str, group: str) -> tuple[str, str, str]:
    node = page.locator(text)
    node.wait_for()
    page.wait_for_function("(sel) => document.querySelector(sel).textContent !== ''", arg=text)
    return (node.text_content(), node.get_attribute("dir"),
            page.locator(group).text_content() if group else "")


@pytest.mark.browser
def test_every_surface_shows_the_same_public_text(
        browser: Any, contexts: list[Any], live_server: str, store: Store, settings: Settings,
        conn: redis.Redis, event: str, tmp_path: Path) -> None:
    assert settings.event.hashtags == ["#APM2026"] and settings.screen.strip_hashtags
    qid = _meeting(store)
    expected = public_text(TEXT, Rules.of(settings))
    assert "07911" not in expected and "APM2026" not in expected.upper()
    asked = "asked by 2 people on 2 platforms"
    links = ScreenLinks(store.conn, store.keys.event)
    seen: dict[str, tuple[str, str, str]] = {}
    for kind, path in (("screen", "screen"), ("overlay", "overlay"), ("chair", "chair")):
        secret, _ = links.create(kind, kind)
        page = _page(browser, contexts, f"{live_server}/{path}/{secret}")
        seen[kind] = _drawn(page, "#now-text", "#now-group")
    console = open_console(browser, contexts, live_server)
    text, direction_, who = _drawn(console, "#preview .preview-text", "#preview .preview-who")
    seen["console"] = (text, direction_, who.rpartition(" · ")[2])
    assert who.startswith(ASKER)  # as on the board, which is not anonymised
    page = console.request.get(f"{live_server}/record").text()
    now = re.search(r'class="now" dir="([a-z]+)">([^<]*)<', page)
    assert now is not None
    seen["/record"] = (html.unescape(now.group(2)).strip(), now.group(1), asked)  # no "asked by"
    Ledger(conn, event).catch_up()
    build(conn, settings, tmp_path / "record")
    record = json.loads((tmp_path / "record" / "record.json").read_text(encoding="utf-8"))
    (row,) = [q for q in record["questions"] if q["state"] == "on_screen"]
    # The record says "also asked ... Facebook 1" in a line of its own.
    assert row["asked_by"] == 2 and row["also_asked_on"] == {"Facebook": 1}
    seen["record"] = (row["text"], direction(row["text"]), asked)
    index = (tmp_path / "record" / "index.html").read_text(encoding="utf-8")
    assert html.escape(expected, quote=False) in index
    assert seen == {surface: (expected, "rtl", asked) for surface in seen}, seen
    assert qid.split(":")[1] not in json.dumps(record)
