"""Search at volume in real Chromium: the server searches the whole list, so a question far past
the cards the console loaded is found, and matches stay live."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from tests.fixtures.browser import TIMEOUT_MS
from tests.moderators import MODERATOR

pytestmark = pytest.mark.browser


@pytest.fixture
def console(browser: Any, live_server: str) -> Iterator[Callable[[], Any]]:
    """Opens a logged-in console when called (after the test has seeded its event)."""
    contexts: list[Any] = []

    def open_console() -> Any:
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{live_server}/console")
        page.fill("#username", MODERATOR[0])
        page.fill("#password", MODERATOR[1])
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/console$"))
        return page

    yield open_console
    for context in contexts:
        context.close()


def _seed(store: Store, count: int) -> list[str]:
    """``count`` new questions; the one at 2,600 is about a lighthouse, the one at 2,900 about
    a windmill, nothing else is."""
    def text(i: int) -> str:
        return {2600: "Who repaints the lighthouse?", 2900: "Is the windmill open?"}.get(
            i, f"Question {i} about parks?")

    posts = [Post("x", str(40_000 + i), text(i), f"Author {i}", f"author{i}")
             for i in range(count)]
    ids: list[str] = []
    for start in range(0, count, 1000):
        ids += store.ingest("x", [(normalise(p), {}) for p in posts[start:start + 1000]])
    return ids


def test_a_search_finds_a_question_the_console_has_not_loaded(console: Callable[[], Any],
                                                               store: Store) -> None:
    ids = _seed(store, 3000)
    page = console()
    expect(page.locator("#n-incoming")).to_have_text("(3000)")
    held = int(page.evaluate("floorConsole.count()"))
    assert held <= 150  # the first page: the lighthouse question is not among them
    page.keyboard.press("/")
    page.keyboard.type("lighthouse")
    card = page.locator(f'#list-incoming .card[data-qid="{ids[2600]}"]')
    expect(card).to_be_visible()
    expect(page.locator("#n-incoming")).to_have_text("(1 of 3000)")  # searched to the end
    assert int(page.evaluate("floorConsole.count()")) < held + 10  # not the whole event

    # Live: a question past the loaded cards edited to match shows in its place.
    Moderation(store.conn, store.keys.event).apply("edit", ids[2000], 1, "kim",
                                                   text="And the lighthouse keeper?")
    cards = page.locator("#list-incoming .card")
    expect(cards).to_have_count(2)
    expect(cards.first).to_have_attribute("data-qid", ids[2000])
    expect(page.locator("#n-incoming")).to_have_text("(2 of 3000)")

    # A new search starts afresh; clearing it gives back the loaded Incoming.
    page.fill("#search", "windmill")
    expect(page.locator(f'#list-incoming .card[data-qid="{ids[2900]}"]')).to_be_visible()
    page.fill("#search", "")
    expect(page.locator("#n-incoming")).to_have_text("(3000)")
