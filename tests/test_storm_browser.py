"""Storm controls in real Chromium: pick cards with x and reject them with one reason; mute an
author with M and see their next post set aside with the reason."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from tests.fixtures.browser import card_in, open_console

pytestmark = pytest.mark.browser


def _flood(store: Store, *texts: str, handle: str = "", start: int = 9100) -> list[str]:
    posts = [Post("x", str(start + i), text, f"Flooder {i}", handle or f"flooder{i}")
             for i, text in enumerate(texts)]
    return store.ingest("x", [(normalise(p), {"id": p.native_id}) for p in posts])


def test_pick_cards_with_x_and_reject_them_with_one_reason(
        browser: Any, contexts: list[Any], live_server: str, store: Store) -> None:  # noqa: F811
    keep, *flood = _flood(store, "A real question about parking?", "spam spam one",
                          "spam spam two", "spam spam three")
    page = open_console(browser, contexts, live_server)
    for qid in flood:
        card = card_in(page, "incoming", qid)
        card.locator(".text").click()
        page.keyboard.press("x")
        expect(card).to_have_class(re.compile(r"\bpicked\b"))
    page.keyboard.press("r")
    expect(page.locator("#reasons-question")).to_have_text("3 picked cards")
    page.keyboard.press("1")
    expect(page.locator("#announce")).to_have_text("Rejected 3 questions.")
    for qid in flood:
        expect(card_in(page, "incoming", qid)).to_have_count(0)
        question = store.question(qid)
        assert question is not None and (question.state, question.reject_reason) == (
            "rejected", "off topic")
    card_in(page, "incoming", keep).wait_for()
    page.keyboard.press("4")  # the set-aside column: the rejected cards, no longer picked
    card = card_in(page, "rejected", flood[0])
    card.wait_for()
    assert "picked" not in (card.get_attribute("class") or "").split()


def test_mute_key_sets_the_authors_next_post_aside(
        browser: Any, contexts: list[Any], live_server: str, store: Store) -> None:  # noqa: F811
    (first,) = _flood(store, "Buy followers", handle="spammer", start=9200)
    page = open_console(browser, contexts, live_server)
    card_in(page, "incoming", first).locator(".text").click()
    page.keyboard.press("M")
    expect(card_in(page, "incoming", first)).to_have_count(0)
    (later,) = _flood(store, "Buy followers again", handle="spammer", start=9300)
    page.keyboard.press("4")  # the set-aside column opens its held list
    card = card_in(page, "held", later)
    card.wait_for()
    assert "set aside: muted author" in (card.locator(".badges").text_content() or "")
    assert card_in(page, "incoming", later).count() == 0
