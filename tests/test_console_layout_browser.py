"""The console at laptop and desktop sizes in real Chromium: one page load per size, with the
rendered elements measured (every card shows its author and at least two lines of its question,
toolbar labels stay beside their controls, the fairness table fits the side panel, nothing that
belongs in the window lies outside it), the selected card's few main actions and its menu of
the rest (only what can apply), axe (at 1366x768), and a screenshot per size
(test-artifacts/console-WxH.png: the pictures in docs/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import expect

from aggregator.core.actions import ACTIONS
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from aggregator.followers.ledger import Ledger
from aggregator.ingest.sources.rehearsal import BUNDLED
from tests.fixtures.browser import card_in, open_console, serious

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SIZES = [(1280, 720), (1366, 768), (1920, 1080)]

# The console's rendered layout, measured in the page: what is wrong, in words, and figures
# (written to test-artifacts/console-layout.json).
MEASURE = (Path(__file__).parent / "console_layout.js").read_text(encoding="utf-8")


def _meeting(store: Store, conn: redis.Redis, event: str) -> dict[str, str]:
    """A meeting under way, from the bundled rehearsal's invented posts (long names, handles,
    hashtags, several platforms): questions waiting, queued, on screen, answered, rejected, and
    a muted author's card held."""
    posts = []
    for line in BUNDLED.read_text(encoding="utf-8").splitlines()[:60]:
        row = json.loads(line)
        posts.append(Post(row["platform"], row["id"], row["text"], row["author"], row["handle"]))
    qids = store.ingest("x", [(normalise(p), {"id": p.native_id}) for p in posts])
    moderation = Moderation(conn, event)
    for qid in qids[3:10]:
        moderation.apply("approve", qid, 1, "kim")
    moderation.apply("screen", qids[3], 2, "kim")
    moderation.apply("answer", qids[3], 3, "kim")
    moderation.apply("screen", qids[4], 2, "kim")
    moderation.apply("reject", qids[0], 1, "kim", reason="off topic")
    moderation.apply("mute", qids[1], 1, "kim")
    Ledger(conn, event).catch_up()
    return {"first": qids[2], "muted": qids[1]}


def _offered(page: Any) -> tuple[list[str], list[str]]:
    """The selected card's actions: on the card, and in its menu (opened to read it)."""
    main = page.locator(".card.selected .actions-main > button[data-act]:visible")
    toggle = page.locator(".card.selected .menu-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    more = page.locator(".card.selected .actions-more > button:visible")
    return main.locator(".label").all_text_contents(), more.locator(".label").all_text_contents()


def test_the_console_reads_at_laptop_and_desktop_sizes(
        browser: Any, contexts: list[Any], live_server: str, store: Store, conn: redis.Redis,
        event: str) -> None:
    ids = _meeting(store, conn, event)
    problems: dict[str, list[str]] = {}
    figures: dict[str, Any] = {}
    page = open_console(browser, contexts, live_server, bypass_csp=True,  # axe's script
                        viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
    for width, height in SIZES:
        size = f"{width}x{height}"
        # One login; each size drawn afresh (the console redraws on resize, as at load).
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        page.wait_for_selector('#conn[data-state="live"]')
        card_in(page, "incoming", ids["first"]).wait_for()
        page.locator("#record-panel [data-platforms] tr").nth(1).wait_for()
        expect(card_in(page, "incoming", ids["first"])).to_have_class("card selected")
        page.screenshot(path=str(ARTIFACTS / f"console-{size}.png"))
        measured = page.evaluate(MEASURE)
        problems[size], figures[size] = measured["problems"], measured["figures"]

        # The selected card (a new question): its main actions, with their keys, and the rest
        # in its menu, only those that can apply: no author to unmute, no board members or
        # agenda items to choose from, no repeat triage suggested.
        main, more = _offered(page)
        primary = ("approve", "reject", "edit", "screen")
        assert main == [ACTIONS[n].label for n in primary], size
        keys = page.locator(".card.selected .actions-main > button[data-act] kbd")
        assert keys.all_text_contents() == [ACTIONS[n].key for n in primary], size
        for name in ("unmute", "direct", "tag", "dismiss", "reject_like", "group"):
            assert ACTIONS[name].label not in main + more, (size, name)
        assert ACTIONS["mute"].label in more and ACTIONS["hold"].label in more, size
        problems[size] += page.evaluate(MEASURE)["problems"]  # the menu open: still in place
        if size == "1366x768":  # axe's rules read the page, not its size: once is enough
            assert serious(page) == []
        page.keyboard.press("Escape")
        expect(page.locator("#actions-more")).to_be_hidden()

    # The muted author's held card offers to unmute them, not to mute them again.
    page.keyboard.press("4")
    expect(card_in(page, "held", ids["muted"])).to_have_class("card selected")
    main, more = _offered(page)
    assert ACTIONS["unmute"].label in more and ACTIONS["mute"].label not in main + more
    problems["held"] = page.evaluate(MEASURE)["problems"]  # the set-aside column's cards too
    # Once the agenda has an item, a card offers to tag it.
    page.keyboard.press("Escape")
    page.fill("#agenda-title", "Ambulance response times")
    page.keyboard.press("Enter")
    page.locator("#agenda-items li").first.wait_for()
    card_in(page, "incoming", ids["first"]).locator(".text").click()
    expect(card_in(page, "incoming", ids["first"])).to_have_class("card selected")
    assert ACTIONS["tag"].label in _offered(page)[1]
    # By keyboard: Enter on "More…" opens the menu at its first action, Esc goes back to the card.
    page.keyboard.press("Escape")
    page.locator(".card.selected .menu-toggle").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.closest('#actions-more') !== null")
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.classList.contains('selected')")
    (ARTIFACTS / "console-layout.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    assert {size: found for size, found in problems.items() if found} == {}
