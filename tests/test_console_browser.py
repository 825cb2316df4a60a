"""The console in real Chromium: login, two moderators, stale refusals, the keyboard, hostile
text, catch-up after a drop, and axe-core's accessibility checks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import redis
from playwright.sync_api import expect

from aggregator.base.keys import Keys
from aggregator.core.actions import ACTIONS
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import Post, Question, utc_now
from aggregator.core.store import Store
from tests.fixtures.browser import card_in, open_console, serious
from tests.moderators import KIM, MODERATOR
from tests.posts import ingest_tweets
from web.accounts import Accounts

pytestmark = pytest.mark.browser


def test_login_form_console_and_logout(browser: Any, contexts: list[Any], live_server: str,
                                       store: Store) -> None:
    (qid,) = ingest_tweets(store, "When will the library reopen?")
    page = open_console(browser, contexts, live_server)
    card = card_in(page, "incoming", qid)
    card.wait_for()
    assert card.locator(".text").text_content() == "When will the library reopen?"
    assert card.locator(".platform").text_content() == "X"
    assert card.locator(".source-link").get_attribute("href") == \
        "https://x.com/author0/status/7000"
    page.click("text=Log out")
    page.wait_for_url(re.compile(r".*/login$"))
    page.goto(f"{live_server}/console")
    assert "/login" in page.url


def test_two_moderators_see_each_other(browser: Any, contexts: list[Any], live_server: str,
                                       store: Store, conn: redis.Redis, event: str) -> None:
    Accounts(conn, event).add(*KIM)
    (qid,) = ingest_tweets(store, "Is the bus lane permanent?")
    sam = open_console(browser, contexts, live_server)
    kim = open_console(browser, contexts, live_server, KIM)
    expect(sam.locator("#online")).to_have_text("kim, sam")

    # kim opens the editor: sam sees the soft lock, and is discouraged, not blocked.
    card_in(kim, "incoming", qid).locator(".text").click()
    kim.keyboard.press("e")
    note = card_in(sam, "incoming", qid).locator(".note")
    note.wait_for(state="visible")
    assert note.text_content() == "✎ kim is editing"
    kim.keyboard.press("Escape")
    note.wait_for(state="hidden")

    # sam approves with the mouse; kim sees it move to the queue.
    card_in(sam, "incoming", qid).locator(".text").click()
    sam.click('#actions button[data-act="approve"]')
    moved = card_in(kim, "queue", qid)
    moved.wait_for()
    assert "approved by sam" in moved.locator(".badges").text_content()
    assert card_in(kim, "incoming", qid).count() == 0


def test_stale_action_is_refused_with_a_message(browser: Any, contexts: list[Any],
                                                live_server: str, store: Store,
                                                conn: redis.Redis, event: str) -> None:
    (qid,) = ingest_tweets(store, "Why was the pool closed?")
    page = open_console(browser, contexts, live_server)
    card_in(page, "incoming", qid).wait_for()
    # kim's approval lands in Redis, but its log entry has not reached this console yet.
    key = Keys(event).question(qid)
    data = json.loads(conn.hget(key, "data"))
    data.update(version=data["version"] + 1, state="approved", last_actor="kim",
                last_action="approve")
    conn.hset(key, "data", json.dumps(data))

    card_in(page, "incoming", qid).locator(".text").click()
    page.keyboard.press("a")
    message = "kim approved this question first (it is now approved)"
    alert = page.locator("#alert")
    alert.filter(has_text=message).wait_for()
    assert card_in(page, "incoming", qid).locator(".card-msg").text_content() == message
    assert alert.get_attribute("role") == "alert"


def test_keyboard_flow_approves_and_screens(browser: Any, contexts: list[Any],
                                            live_server: str, store: Store) -> None:
    first, second, third = ingest_tweets(store, "First question?", "Second question?", "Third?")
    page = open_console(browser, contexts, live_server)
    card_in(page, "incoming", third).wait_for()
    keys = page.keyboard

    # No key fires while typing in an input.
    keys.press("/")
    keys.type("a")
    keys.press("Backspace")
    keys.press("Escape")
    assert store.question(first).state == "new"

    keys.press("a")  # the first incoming card is selected
    card_in(page, "queue", first).wait_for()
    keys.press("a")  # the selection stays in place: now the second
    card_in(page, "queue", second).wait_for()
    keys.press("2")  # to the queue
    keys.press("s")  # nothing on screen: no question asked
    card_in(page, "screen", first).wait_for()
    assert page.locator("#preview .preview-text").text_content() == "First question?"

    keys.press("s")  # the selection moved to the second: the console asks about the first
    page.locator("#screen-ask").wait_for(state="visible")
    keys.press("Enter")  # default: the current one becomes answered
    card_in(page, "screen", second).wait_for()
    assert store.question(first).state == "answered"

    keys.press("c")  # the safety valve
    page.locator("#preview .preview-empty").wait_for()
    assert store.snapshot().screen is None
    card_in(page, "queue", second).wait_for()

    keys.press("1")
    keys.press("r")
    keys.press("1")
    page.locator("#n-rejected").filter(has_text="(1)").wait_for()
    assert store.question(third).reject_reason == "off topic"


def test_group_edit_star_undo_and_reorder(browser: Any, contexts: list[Any], live_server: str,
                                         store: Store, conn: redis.Redis, event: str) -> None:
    main, dup, other = ingest_tweets(store, "Parking near the hospital?", "parking at hospital??",
                                     "Why are trams late?")
    moderation = Moderation(conn, event)
    moderation.apply("approve", main, 1, "kim")
    moderation.apply("approve", other, 1, "kim")
    page = open_console(browser, contexts, live_server)
    card_in(page, "incoming", dup).wait_for()
    keys = page.keyboard

    keys.press("2")  # the queue: main is first
    keys.press("m")  # mark it as the group target ...
    card_in(page, "queue", main).locator(".badge.target").wait_for()
    keys.press("1")
    keys.press("g")  # ... and group the duplicate under it
    card_in(page, "queue", main).locator(".badge.asked", has_text="asked by 2").wait_for()
    assert store.question(dup).parent == main

    keys.press("2")
    keys.press("e")
    keys.type("Is there parking near the hospital?")
    keys.press("Enter")
    card = card_in(page, "queue", main)
    card.locator(".text", has_text="Is there parking near the hospital?").wait_for()
    assert card.locator(".original-text").text_content() == "Parking near the hospital?"
    assert card.locator(".original").is_visible()
    assert store.question(main).original == "Parking near the hospital?"

    keys.press("*")
    card.locator(".badge.star").wait_for()
    keys.press("Alt+ArrowDown")
    expect(page.locator("#list-queue .card").last).to_have_attribute("data-qid", main)
    assert store.snapshot().queue == [other, main]
    card_in(page, "queue", main).drag_to(card_in(page, "queue", other))
    expect(page.locator("#list-queue .card").first).to_have_attribute("data-qid", main)
    assert store.snapshot().queue == [main, other]

    card_in(page, "queue", main).locator(".text").click()
    keys.press("u")  # undo the last action on it: the edit
    # The whole text (has_text would match "Is there parking near the hospital?" already).
    expect(card.locator(".text")).to_have_text("Parking near the hospital?")
    assert store.question(main).text == "Parking near the hospital?"


def _many(store: Store, count: int, start: int = 20_000) -> list[str]:
    """``count`` questions in one batch (every tenth about buses)."""
    posts = [Post("x", str(start + i), f"Question {i} about {'buses' if i % 10 == 3 else 'parks'}?",
                  f"Author {i}", f"author{i}") for i in range(count)]
    return store.ingest("x", [(normalise(p), {}) for p in posts])


def _held(page: Any) -> int:
    return int(page.evaluate("floorConsole.count()"))


def test_long_columns_are_drawn_lazily_and_paged_as_you_walk(browser: Any, contexts: list[Any],
                                                              live_server: str,
                                                              store: Store) -> None:
    ids = _many(store, 3000)
    page = open_console(browser, contexts, live_server)
    incoming = page.locator("#list-incoming .card")
    expect(page.locator("#n-incoming")).to_have_text("(3000)")
    expect(incoming.first).to_be_visible()
    assert _held(page) <= 150  # the first page, not the event
    assert 10 < incoming.count() < 80  # only the cards near the viewport are drawn
    page.keyboard.press("End")  # the last card held
    page.keyboard.press("j")  # past it: the next page comes, and the walk goes on
    expect(page.locator("#list-incoming .card.selected")).to_have_attribute("data-qid", ids[100])
    assert page.evaluate("document.activeElement.dataset.qid") == ids[100]
    for _ in range(3):  # scrolling to the bottom of what is held brings more
        held = _held(page)
        page.eval_on_selector("#col-incoming .scroll", "el => { el.scrollTop = el.scrollHeight; }")
        for _ in range(50):
            if _held(page) > held:
                break
            page.wait_for_timeout(100)
    assert _held(page) > 300 and incoming.count() < 80
    last = page.locator("#list-incoming .card").last.get_attribute("data-qid")
    assert ids.index(last) > 250

    page.select_option("#f-order", "newest")  # pages from the newest end
    expect(incoming.first).to_have_attribute("data-qid", ids[-1])
    page.keyboard.press("/")
    page.keyboard.type("buses")
    # The server searches on from the newest end: "(N found, searched M of 3,000)" while the
    # console holds fewer matches than it draws; the count as it goes.
    expect(page.locator("#n-incoming")).to_have_text(
        re.compile(r"\(\d+ found, searched [\d,]+ of 3,000\)"))
    expect(incoming.first).to_contain_text("buses")
    assert "buses" in (incoming.last.text_content() or "")


def test_an_entry_for_a_question_not_loaded_moves_the_counts(browser: Any, contexts: list[Any],
                                                             live_server: str,
                                                             store: Store) -> None:
    ids = _many(store, 500)
    page = open_console(browser, contexts, live_server)
    expect(page.locator("#n-incoming")).to_have_text("(500)")
    moderation = Moderation(store.conn, store.keys.event)
    moderation.apply("approve", ids[400], 1, "kim")  # far past the first page
    expect(page.locator("#n-incoming")).to_have_text("(499)")
    expect(page.locator("#n-queue")).to_have_text("(1)")
    expect(card_in(page, "queue", ids[400])).to_be_visible()
    moderation.apply("reject", ids[450], 1, "kim", reason="off topic")
    expect(page.locator("#n-rejected")).to_have_text("(1)")
    expect(page.locator("#n-incoming")).to_have_text("(498)")
    moderation.apply("undo", ids[450], 2, "kim")  # back to new, far down Incoming
    expect(page.locator("#n-incoming")).to_have_text("(499)")
    expect(page.locator("#n-rejected")).to_have_text("(0)")
    moderation.apply("reject", ids[3], 1, "kim", reason="off topic")  # in the loaded part
    expect(card_in(page, "incoming", ids[3])).to_have_count(0)
    moderation.apply("undo", ids[3], 2, "kim")  # and back, in its place
    expect(page.locator("#list-incoming .card").nth(3)).to_have_attribute("data-qid", ids[3])
    ingest_tweets(store, "A brand new question?", start=9000)
    expect(page.locator("#n-incoming")).to_have_text("(500)")


def test_a_long_queue_pages_in_as_it_scrolls(browser: Any, contexts: list[Any], live_server: str,
                                             store: Store) -> None:
    ids = _many(store, 260)
    moderation = Moderation(store.conn, store.keys.event)
    for qid in ids:
        moderation.apply("approve", qid, 1, "kim")
    page = open_console(browser, contexts, live_server)
    expect(page.locator("#n-queue")).to_have_text("(260)")
    queue = page.locator("#list-queue .card")
    expect(queue.first).to_have_attribute("data-qid", ids[0])
    for _ in range(40):  # scroll to the bottom until the whole queue is held
        page.eval_on_selector("#col-queue .scroll", "el => { el.scrollTop = el.scrollHeight; }")
        if queue.last.get_attribute("data-qid") == ids[-1]:
            break
        page.wait_for_timeout(150)
    expect(queue.last).to_have_attribute("data-qid", ids[-1])
    assert queue.count() < 80  # still only the cards in view


def test_approving_from_a_deep_page_works(browser: Any, contexts: list[Any], live_server: str,
                                          store: Store) -> None:
    ids = _many(store, 1000)
    page = open_console(browser, contexts, live_server)
    expect(page.locator("#n-incoming")).to_have_text("(1000)")
    selected = page.locator("#list-incoming .card.selected")
    for n in (1, 2):  # two pages down, from the keyboard, each page in before the next key
        page.keyboard.press("End")
        page.keyboard.press("j")
        expect(selected).to_have_attribute("data-qid", ids[100 * n])
    deep = ids[200]
    page.keyboard.press("a")
    expect(card_in(page, "queue", deep)).to_be_visible()
    expect(page.locator("#n-incoming")).to_have_text("(999)")
    assert store.question(deep).state == "approved"
    # The selection stays where the moderator was, deep in the list.
    expect(page.locator("#list-incoming .card.selected")).to_have_attribute("data-qid", ids[201])


def test_hostile_post_renders_as_text(browser: Any, contexts: list[Any], live_server: str,
                                      store: Store) -> None:
    hostile = '<script>alert("script")</script><img src=x onerror="alert(\'img\')">Hello?'
    now = utc_now()
    question = Question(id="x:666", platform="x", text=hostile, original=hostile,
                        author_name='<img src=y onerror="alert(\'name\')">Mallory',
                        author_handle="mallory", url="javascript:alert('link')",
                        posted_at=now, received_at=now, flags=["markup"])
    store.ingest("x", [(question, {})])
    page = open_console(browser, contexts, live_server)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    card = card_in(page, "incoming", "x:666")
    card.wait_for()
    assert card.locator(".text").text_content() == hostile
    assert card.locator(".author").text_content().startswith("<img src=y")
    assert page.locator("#columns img, #columns script").count() == 0
    assert card.locator(".source-link").is_hidden()  # only http(s) links are links
    page.keyboard.press("2")  # let a frame or two pass with the card on the page
    page.keyboard.press("1")
    assert dialogs == []


def test_catch_up_after_a_dropped_connection(browser: Any, contexts: list[Any],
                                             live_server: str, store: Store,
                                             conn: redis.Redis, event: str) -> None:
    a, b = ingest_tweets(store, "Asked before the drop?", "Also before?")
    page = open_console(browser, contexts, live_server)
    card_in(page, "incoming", b).wait_for()
    page.evaluate("floorConsole.socket.disconnect()")
    expect(page.locator("#conn")).to_have_attribute("data-state", "down")

    moderation = Moderation(conn, event)
    moderation.apply("approve", a, 1, "kim")
    moderation.apply("reject", b, 1, "kim", reason="duplicate")
    (c,) = ingest_tweets(store, "Arrived during the drop?", start=7100)

    page.evaluate("floorConsole.socket.connect()")
    card_in(page, "queue", a).wait_for()
    card_in(page, "incoming", c).wait_for()
    assert page.locator("#n-rejected").text_content() == "(1)"
    assert page.evaluate("floorConsole.lastId()") == store.last_log_id()


def test_axe_finds_nothing_serious(browser: Any, contexts: list[Any], live_server: str,
                                   store: Store, conn: redis.Redis, event: str) -> None:
    ids = ingest_tweets(store, "Accessible question one?", "Two?", "Three?")
    moderation = Moderation(conn, event)
    moderation.apply("approve", ids[0], 1, "kim")
    moderation.apply("screen", ids[0], 2, "kim")
    moderation.apply("reject", ids[2], 1, "kim", reason="off topic")

    context = browser.new_context(bypass_csp=True)  # axe is injected as an inline script
    contexts.append(context)
    login = context.new_page()
    login.goto(f"{live_server}/login")
    assert serious(login) == []
    login.fill("#username", MODERATOR[0])
    login.fill("#password", "wrong")
    login.click("button[type=submit]")
    login.locator(".error").wait_for()
    assert serious(login) == []  # with the error message

    page = open_console(browser, contexts, live_server, bypass_csp=True)
    card_in(page, "incoming", ids[1]).wait_for()
    page.locator("#box-rejected summary").click()
    assert serious(page) == []
    page.keyboard.press("?")
    page.locator("#help").wait_for(state="visible")
    assert serious(page) == []


def test_hold_for_later_and_bring_back_with_z(browser: Any, contexts: list[Any],
                                             live_server: str, store: Store) -> None:
    first, second = ingest_tweets(store, "Can we come back to the budget later?", "Second?")
    page = open_console(browser, contexts, live_server)
    card_in(page, "incoming", second).wait_for()
    keys = page.keyboard

    keys.press("z")  # the first incoming card is selected: hold it
    expect(page.locator("#n-held")).to_have_text("(1)")
    expect(card_in(page, "incoming", first)).to_have_count(0)
    assert store.question(first).state == "held"

    keys.press("4")  # the set-aside column opens on the held list, the only one with cards
    card = card_in(page, "held", first)
    expect(card).to_have_class(re.compile(r"\bselected\b"))
    assert "set aside by sam" in card.locator(".badges").text_content()
    hold = page.locator('#actions button[data-act="hold"]')
    expect(hold).to_have_text(re.compile(r"^Bring back"))  # the shared button, from the table
    keys.press("z")  # bring it back
    card_in(page, "incoming", first).wait_for()
    expect(page.locator("#n-held")).to_have_text("(0)")
    assert store.question(first).state == "new"


def test_set_aside_saying_why_asks_in_the_table_s_text_dialog(browser: Any, contexts: list[Any],
                                                              live_server: str,
                                                              store: Store) -> None:
    """Z: the dialog a text param gets, with the row's prompt and cap; the held card says why."""
    (qid,) = ingest_tweets(store, "Can the housing question wait for item 4?")
    page = open_console(browser, contexts, live_server, bypass_csp=True)  # for axe-core's script
    card_in(page, "incoming", qid).wait_for()
    page.keyboard.press("Z")
    dialog = page.locator("#text-ask")
    expect(dialog).to_be_visible()
    expect(page.locator("#text-ask-title")).to_have_text(ACTIONS["set_aside"].prompt)
    assert page.locator("#text-ask-value").get_attribute("maxlength") == "120"
    assert serious(page) == []
    page.keyboard.type("For the housing item, 4")  # the action keys do nothing meanwhile
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#n-held")).to_have_text("(1)")
    page.keyboard.press("4")
    badges = card_in(page, "held", qid).locator(".badges")
    expect(badges).to_contain_text("set aside: For the housing item, 4")
    expect(badges).to_contain_text("set aside by sam")
    assert store.question(qid).aside_reason == "For the housing item, 4"


def test_undo_is_offered_only_when_the_question_has_something_to_undo(
        browser: Any, contexts: list[Any], live_server: str, store: Store) -> None:
    (qid,) = ingest_tweets(store, "Why is the pool closed?")
    page = open_console(browser, contexts, live_server)
    card = card_in(page, "incoming", qid)
    card.wait_for()
    undo = page.locator('#actions button[data-act="undo"]')
    expect(undo).to_be_hidden()
    page.keyboard.press("*")  # starring pushes nothing to undo
    card.locator(".badge.star").wait_for()
    expect(undo).to_be_hidden()
    page.keyboard.press("u")
    expect(card.locator(".card-msg")).to_have_text("There is nothing to undo on this question.")
    assert store.question(qid).starred

    page.keyboard.press("a")
    queued = card_in(page, "queue", qid)
    queued.wait_for()
    page.keyboard.press("2")
    expect(undo).to_be_visible()
    page.keyboard.press("u")
    card_in(page, "incoming", qid).wait_for()
    assert store.question(qid).state == "new"


def test_screening_a_text_too_long_for_the_board_warns_and_offers_to_edit(
        browser: Any, contexts: list[Any], live_server: str, store: Store) -> None:
    long_text = "Why " + "does the council keep delaying the tram extension " * 6 + "?"
    assert len(long_text) > 280  # the board's legible length when the event sets none
    first, second = ingest_tweets(store, long_text, "Also: " + long_text)
    page = open_console(browser, contexts, live_server)
    card_in(page, "incoming", second).wait_for()
    keys = page.keyboard
    ask = page.locator("#long-ask")

    keys.press("s")  # the first is selected
    expect(ask).to_be_visible()
    expect(page.locator("#long-ask-length")).to_have_text(f"{len(long_text)} characters")
    keys.press("Escape")  # cancel: nothing sent
    expect(ask).to_be_hidden()
    assert store.question(first).state == "new"

    keys.press("s")
    expect(ask).to_be_visible()  # pressed before the dialog opens, "e" edits and the dialog
    keys.press("e")  # edit it instead: then takes the focus from the editor
    editor = card_in(page, "incoming", first).locator("textarea.edit")
    expect(editor).to_be_focused()
    keys.press("Control+a")
    keys.type("Why is the tram extension delayed?")
    keys.press("Enter")
    card_in(page, "incoming", first).locator(
        ".text", has_text="Why is the tram extension delayed?").wait_for()
    keys.press("s")  # short enough now: straight on screen, no question asked
    card_in(page, "screen", first).wait_for()
    expect(ask).to_be_hidden()

    # Or put it on screen as it is, after the warning.
    expect(page.locator("#list-incoming .card.selected")).to_have_attribute("data-qid", second)
    keys.press("s")
    expect(ask).to_be_visible()
    keys.press("s")  # anyway; then the usual question about the one on screen now
    page.locator("#screen-ask").wait_for(state="visible")
    keys.press("Enter")
    card_in(page, "screen", second).wait_for()
    assert store.question(second).text == "Also: " + long_text
    assert store.question(first).state == "answered"


def test_the_edit_dialog_says_its_limit_and_nothing_too_long_costs_the_socket(
        browser: Any, contexts: list[Any], live_server: str, store: Store) -> None:
    first, second = ingest_tweets(store, "Will the pool reopen?", "Who pays for the bridge?",
                                  start=7800)
    page = open_console(browser, contexts, live_server)
    card_in(page, "incoming", first).wait_for()
    page.keyboard.press("1")
    page.keyboard.press("e")
    area = page.locator("textarea.edit")
    expect(area).to_have_attribute("maxlength", "1000")  # as for a question from /ask
    expect(page.locator("#edit-count")).to_have_text(
        "At most 1,000 characters, as for a question from the form: 21 used, 979 left.")
    page.keyboard.press("Escape")

    def send(text: str) -> Any:
        # What the dialog would send, were its maxlength got round: through the console's socket.
        return page.evaluate("""([qid, text]) => new Promise((done) => floorConsole.socket
            .timeout(8000).emit("act", { action: "edit", qid, version: 1, params: { text } },
                                (err, reply) => done(err ? String(err) : reply)))""", [first, text])

    # Just over the edit's limit: the server refuses it in words.
    reply = send("x" * 1001)
    assert reply["ok"] is False and "at most 1,000 characters" in reply["error"]
    # About 145 kB, over what the socket takes at all: the console does not send it, and says why.
    reply = send("é" * 74_000)
    assert reply == {"ok": False, "error": "Not sent: this is 145 kB, and the server takes at "
                                           "most 64 kB in one message. Shorten it."}
    assert page.evaluate("floorConsole.socket.connected")
    # And the next action goes through on the same socket.
    page.keyboard.press("1")
    page.keyboard.press("a")
    card_in(page, "queue", first).wait_for()
    assert store.question(first).state == "approved"  # type: ignore[union-attr]
    assert store.question(second).state == "new"  # type: ignore[union-attr]
