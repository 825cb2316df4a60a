"""Triage on the console, in Chromium: the card's triage line, g accepting the suggested repeat,
n dismissing one, questions only in Incoming."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from playwright.sync_api import expect

from aggregator.core.store import Store
from aggregator.followers.triage.worker import TriageWorker
from tests.fixtures.browser import card_in, open_console
from tests.posts import ingest_tweets

pytestmark = pytest.mark.browser


def test_the_card_shows_triage_and_g_and_n_act_on_its_suggestion(
        browser: Any, contexts: list[Any], live_server: str,  # noqa: F811
        store: Store, conn: redis.Redis, event: str) -> None:
    hello, main, repeat, other, phone = ingest_tweets(
        store, "Good afternoon everyone", "Why was the stroke unit at Millbrook closed?",
        "why did the Millbrook stroke unit close?", "Why was the stroke unit at Millbrook closed??",
        "Call me on 07700 900123: why is Ashby station closing?")
    worker = TriageWorker(conn, event)
    worker.setup()
    worker.drain()
    page = open_console(browser, contexts, live_server)
    card = card_in(page, "incoming", phone)
    expect(card.locator(".text")).to_have_text(
        "Call me on ████████████: why is Ashby station closing?")
    expect(card.locator(".triage")).to_contain_text("masked: phone number")
    expect(card.locator(".original-text")).to_contain_text("07700 900123")
    expect(card_in(page, "incoming", hello).locator(".triage")).to_contain_text("a greeting")
    expect(card_in(page, "incoming", repeat).locator(".triage")).to_contain_text("repeats “Why was")

    page.select_option("#f-order", "questions")  # the greeting is not a question
    expect(card_in(page, "incoming", hello)).to_have_count(0)
    expect(page.locator("#list-incoming .card")).to_have_count(4)
    page.select_option("#f-order", "oldest")
    expect(page.locator("#list-incoming .card")).to_have_count(5)

    card_in(page, "incoming", repeat).locator(".text").click()
    page.keyboard.press("g")  # nothing marked: g takes triage's suggestion
    card_in(page, "incoming", main).locator(".badge.asked", has_text="asked by 2").wait_for()
    assert store.question(repeat).parent == main  # type: ignore[union-attr]

    card_in(page, "incoming", other).locator(".text").click()
    page.keyboard.press("n")
    expect(card_in(page, "incoming", other).locator(".triage")).not_to_contain_text("repeats")
    assert "suggest" not in store.question(other).triage  # type: ignore[union-attr]
