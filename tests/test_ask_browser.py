"""The question form in real Chromium: a viewer asks, and a moderator's console shows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aggregator.core.store import Store
from tests.fixtures.browser import serious
from tests.moderators import MODERATOR

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
QUESTION = "Will the Millbrook minor injuries unit reopen before the winter?"


def test_a_question_from_the_form_reaches_the_console(browser: Any, live_server: str,
                                                      store: Store) -> None:
    viewer = browser.new_context(viewport={"width": 420, "height": 900})
    moderator = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = viewer.new_page()
        page.goto(f"{live_server}/ask")
        assert serious(page) == []
        page.get_by_label("Your name").fill("Rhiannon Price")
        page.get_by_label("Your question").fill(QUESTION)
        page.get_by_label("I agree").check()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ask-phone.png"), full_page=True)
        page.get_by_role("button", name="Send question").click()
        page.get_by_text("your question was sent").wait_for()
        assert serious(page) == []

        (question,) = [q for q in store.snapshot().questions if q["platform"] == "web"]
        assert (question["text"], question["author_name"]) == (QUESTION, "Rhiannon Price")

        console = moderator.new_page()
        console.goto(f"{live_server}/login")
        console.get_by_label("Username").fill(MODERATOR[0])
        console.get_by_label("Password").fill(MODERATOR[1])
        console.get_by_role("button", name="Log in").click()
        console.wait_for_url(f"{live_server}/console")
        console.get_by_text(QUESTION).first.wait_for(timeout=5_000)
    finally:
        viewer.close()
        moderator.close()


def test_a_refused_question_is_explained_next_to_its_field(browser: Any, live_server: str,
                                                           store: Store) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live_server}/ask")
        page.get_by_label("Your question").fill("Why was the consultation so short?")
        page.get_by_role("button", name="Send question").click()
        consent = page.get_by_label("I agree")
        consent.wait_for()
        assert consent.get_attribute("aria-invalid") == "true"
        error = page.locator("#" + str(consent.get_attribute("aria-describedby")))
        assert "tick the box" in str(error.text_content())
        # What was written is still there, to send again.
        assert page.get_by_label("Your question").input_value() == \
            "Why was the consultation so short?"
        assert serious(page) == []
        assert store.snapshot().questions == []
    finally:
        context.close()
