"""The chair's view in real Chromium on a tablet-sized window, with a moderator's console: a note
sent, acknowledged with a tap, seen by the moderators; the length rule; the timer's soft limit;
a revoked link; axe; and a screenshot (test-artifacts/chair-tablet.png, the picture in
docs/chair.png)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from aggregator.base.settings import AgendaSettings, Settings
from aggregator.core.agenda import Agenda
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.notes import NOTE_MAX
from aggregator.core.question import Post
from aggregator.core.store import Store
from tests.fixtures.browser import TIMEOUT_MS, open_console, serious
from tests.waiting import wait_in_page
from web.screen_links import ScreenLinks

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
TABLET = {"width": 1024, "height": 768}

NOW = ("Why are ambulance response times in the north of the county twice as long as in the "
       "south, and what is the Trust doing about it this winter?")
QUEUE = [
    ("fb", "Will the minor injuries unit at Millbrook reopen before the winter?", "Dot Hemsworth"),
    ("ig", "How many paramedic vacancies are there right now, and how long have they been open?",
     "Aled Vaughan"),
    ("web", "Can the board publish the hospital handover delays every month, by hospital?", ""),
    ("yt", "What is the plan for the new station at Eastgate?", "Sam Okafor"),
]
NOTE = "This one is for the Chief Executive; answer in writing if time runs short."


def _fill(store: Store) -> None:
    """The meeting: a question asked by two people on screen, four waiting."""
    moderation = Moderation(store.conn, store.keys.event)

    def add(i: int, platform: str, text: str, author: str) -> str:
        post = Post(platform, f"90{i}", text, author, "")
        (qid,) = store.ingest(platform, [(normalise(post), {})])
        return qid

    def act(action: str, qid: str, **params: Any) -> None:
        q = store.question(qid)
        assert q is not None
        moderation.apply(action, qid, q.version, "sam", **params)

    now = add(0, "x", NOW, "Ann Hughes")
    act("group", add(1, "yt", "why is the north so slow??", "Sam Okafor"), parent=now)
    for i, (platform, text, author) in enumerate(QUEUE, start=2):
        act("approve", add(i, platform, text, author))
    act("screen", now)


def _chair(browser: Any, contexts: list[Any], base: str, links: ScreenLinks,
           errors: list[str]) -> Any:
    secret, _ = links.create("top table", "chair")
    context = browser.new_context(viewport=TABLET, reduced_motion="reduce")
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/chair/{secret}")
    page.wait_for_selector('body[data-connection="live"]')
    return page


def test_a_note_is_sent_acknowledged_and_seen_by_the_moderators(
        browser: Any, contexts: list[Any], live_server: str, store: Store,
        settings: Settings) -> None:
    settings.event.title = "Riverside Health & Ambulance Trust: Annual Public Meeting"
    settings.chair.board_members = ["the Chair", "the Chief Executive"]
    _fill(store)
    links = ScreenLinks(store.conn, store.keys.event)
    errors: list[str] = []
    chair = _chair(browser, contexts, live_server, links, errors)
    expect(chair.locator("#now-text")).to_have_text(NOW)
    expect(chair.locator("#now-asker")).to_have_text("Ann Hughes · X")
    expect(chair.locator("#now-group")).to_have_text("asked by 2 people on 2 platforms")
    expect(chair.locator("#next-list .slot:not(.empty) .slot-text")).to_have_text(
        [text for _, text, _ in QUEUE[:3]])
    expect(chair.locator("#waiting")).to_have_text("· 4 waiting in all")
    wait_in_page(chair, "/^\\d+:\\d\\d$/.test(document.getElementById('timer').textContent)")
    expect(chair.locator("#notes-empty")).to_be_visible()

    console = open_console(browser, contexts, live_server)
    console.fill("#note-text", NOTE)
    console.click("#note-form button[type=submit]")
    sent = console.locator("#notes-sent .chair-note")
    expect(sent).to_have_count(1)
    expect(sent.locator(".chair-note-meta")).to_contain_text("not seen yet")
    expect(console.locator("#note-text")).to_have_value("")

    # The question on screen is directed to a board member (key b): the chair sees it.
    console.locator("#list-screen .card").click()
    console.keyboard.press("b")
    expect(console.locator("#choice-ask-title")).to_have_text("For which board member?")
    console.keyboard.press("2")
    expect(chair.locator("#now-asker")).to_have_text("Ann Hughes · X · for the Chief Executive")
    expect(console.locator("#list-screen .card .badge.item")).to_have_text(
        "for the Chief Executive")

    note = chair.locator("#notes-list .note")
    expect(note.locator(".note-text")).to_have_text(NOTE)
    expect(chair.locator("#notes-count")).to_have_text("(1 new)")
    assert serious(chair) == []
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    chair.screenshot(path=str(ROOT / "test-artifacts" / "chair-tablet.png"))

    note.get_by_role("button", name="Seen").click()
    expect(note.locator(".seen-mark")).to_have_text("Seen")
    expect(chair.locator("#notes-count")).to_have_text("")
    # The moderators see it, in whichever console: through the log.
    expect(sent).to_have_class("chair-note seen")
    expect(sent.locator(".chair-note-meta")).to_contain_text("seen by chair (top table)")
    assert [e.type for e in store.log_after() if e.type.startswith("note")] == [
        "note", "note_seen"]
    assert serious(chair) == []
    assert errors == []


def test_a_note_longer_than_the_view_shows_is_refused_and_one_at_the_limit_shows_whole(
        browser: Any, contexts: list[Any], live_server: str, store: Store) -> None:
    links = ScreenLinks(store.conn, store.keys.event)
    errors: list[str] = []
    chair = _chair(browser, contexts, live_server, links, errors)
    console = open_console(browser, contexts, live_server)
    words = "Answer in writing: the figures for each station are in the annual report. "
    at_limit = (words * 5)[:NOTE_MAX - 1] + "."
    too_long = at_limit + "."
    console.fill("#note-text", too_long)
    expect(console.locator("#note-count")).to_have_text("1 characters too long")
    console.click("#note-form button[type=submit]")
    expect(console.locator("#note-msg")).to_contain_text(
        f"at most {NOTE_MAX} characters, so the chair sees it whole; this one has {NOTE_MAX + 1}")
    expect(console.locator("#note-text")).to_have_value(too_long)  # kept, to be shortened
    assert not [e for e in store.log_after() if e.type == "note"]

    console.fill("#note-text", at_limit)
    expect(console.locator("#note-count")).to_have_text(f"{NOTE_MAX} / {NOTE_MAX}")
    console.click("#note-form button[type=submit]")
    expect(console.locator("#notes-sent .chair-note")).to_have_count(1)
    text = chair.locator("#notes-list .note .note-text")
    expect(text).to_have_text(at_limit)
    shown = chair.evaluate("""() => {
        const t = document.querySelector('#notes-list .note .note-text').getBoundingClientRect();
        const list = document.getElementById('notes-list').getBoundingClientRect();
        return {inside: t.top >= list.top && t.bottom <= list.bottom,
                scrolls: document.scrollingElement.scrollHeight > innerHeight};
    }""")
    assert shown == {"inside": True, "scrolls": False}
    assert errors == []


def test_the_timer_turns_amber_at_the_soft_limit(browser: Any, contexts: list[Any],
                                                 live_server: str, store: Store,
                                                 settings: Settings) -> None:
    settings.chair.soft_limit_seconds = 1
    _fill(store)
    links = ScreenLinks(store.conn, store.keys.event)
    errors: list[str] = []
    chair = _chair(browser, contexts, live_server, links, errors)
    wait_in_page(chair, "document.body.classList.contains('over-limit')")
    background = chair.evaluate(
        "getComputedStyle(document.getElementById('timer')).backgroundColor")
    assert background == "rgb(255, 200, 87)"
    console = open_console(browser, contexts, live_server)
    expect(console.locator("#screen-timer")).to_have_class("screen-timer over-limit")
    expect(console.locator("#screen-timer")).to_contain_text("on screen ")
    assert errors == []


def test_a_revoked_chair_link_clears_the_view(browser: Any, contexts: list[Any],
                                              live_server: str, store: Store) -> None:
    _fill(store)
    links = ScreenLinks(store.conn, store.keys.event)
    errors: list[str] = []
    chair = _chair(browser, contexts, live_server, links, errors)
    expect(chair.locator("#now-text")).to_have_text(NOW)
    for link in links.all():
        links.revoke(link)
    chair.wait_for_selector('body[data-connection="revoked"]')
    expect(chair.locator("#status")).to_have_text("This chair link was revoked.")
    expect(chair.locator("#now-text")).to_have_text("")
    expect(chair.locator("#next-list .slot:not(.empty)")).to_have_count(0)


def test_the_item_flow_tag_move_and_the_board_shows_only_its_queue(
        browser: Any, contexts: list[Any], live_server: str, store: Store,
        settings: Settings) -> None:
    settings.agenda = AgendaSettings.model_validate({"items": [
        {"id": "finance", "title": "Finance", "keywords": ["budget", "cost"]},
        {"id": "ambulances", "title": "Ambulance response times", "keywords": ["ambulance"]}]})
    Agenda(store.conn, store.keys.event).seed(settings.agenda.items)
    moderation = Moderation(store.conn, store.keys.event)
    texts = ["What will the new budget cost the county?", "Why are ambulances so slow?",
             "Is the car park staying free?"]
    ids = []
    for i, text in enumerate(texts):
        (qid,) = store.ingest("x", [(normalise(Post("x", f"80{i}", text, "Ann Hughes", "")), {})])
        moderation.apply("approve", qid, 1, "sam")
        ids.append(qid)
    links = ScreenLinks(store.conn, store.keys.event)
    secret, _ = links.create("hall", "screen")
    board_context = browser.new_context(viewport={"width": 1280, "height": 720},
                                        reduced_motion="reduce")
    contexts.append(board_context)
    board = board_context.new_page()
    board.goto(f"{live_server}/screen/{secret}")
    board.wait_for_selector('body[data-connection="live"]')
    expect(board.locator("#next-list .slot:not(.empty) .slot-text")).to_have_text(texts)
    expect(board.locator("#agenda-item")).to_have_text("")

    console = open_console(browser, contexts, live_server)
    card = console.locator(f'#list-queue .card[data-qid="{ids[0]}"]')
    expect(card.locator(".badge.suggest")).to_have_text("Finance? (t)")
    card.click()
    console.keyboard.press("t")
    expect(console.locator("#choice-ask")).to_be_visible()
    expect(console.locator("#choice-list button").first).to_have_text("1 Finance (suggested)")
    console.keyboard.press("1")
    expect(card.locator(".badge.item")).to_have_text("on Finance")
    other = console.locator(f'#list-queue .card[data-qid="{ids[1]}"]')
    other.click()
    console.keyboard.press("t")
    console.keyboard.press("2")
    expect(other.locator(".badge.item")).to_have_text("on Ambulance response times")

    # The console filters by item.
    console.select_option("#f-item", "finance")
    expect(console.locator("#list-queue .card")).to_have_count(1)
    console.select_option("#f-item", "-")
    expect(console.locator("#list-queue .card")).to_have_count(1)
    expect(console.locator("#list-queue .card .text")).to_have_text(texts[2])
    console.select_option("#f-item", "")

    # The meeting moves to Finance: the board names it and lists only its questions.
    console.get_by_role("button", name="Questions on this: Finance").click()
    expect(board.locator("#agenda-item")).to_have_text("Questions on: Finance")
    expect(board.locator("#next-list .slot:not(.empty) .slot-text")).to_have_text([texts[0]])
    expect(console.locator(".agenda-row.now .agenda-title")).to_have_text("Finance")
    # The console's preview shows what the board shows.
    expect(console.locator("#preview .preview-next-title").first).to_have_text(
        "Questions on: Finance")
    expect(console.locator("#preview .preview-next li")).to_have_count(1)

    # Renamed live, the board follows; back to all questions, it lists them all again.
    console.get_by_role("button", name="Rename: Finance").click()
    console.keyboard.press("Control+a")
    console.keyboard.type("Finance and audit")
    console.keyboard.press("Enter")
    expect(board.locator("#agenda-item")).to_have_text("Questions on: Finance and audit")
    expect(card.locator(".badge.item")).to_have_text("on Finance and audit")
    expect(console.locator("#preview .preview-next-title").first).to_have_text(
        "Questions on: Finance and audit")
    console.click("#agenda-all")
    expect(board.locator("#agenda-item")).to_have_text("")
    expect(board.locator("#next-list .slot:not(.empty) .slot-text")).to_have_text(texts)

    # An item removed while a question is tagged: the question stays, with no item.
    console.get_by_role("button", name="Remove: Ambulance response times").click()
    expect(other.locator(".badge.item")).to_have_text("its agenda item was removed")
    console.select_option("#f-item", "-")
    expect(console.locator("#list-queue .card")).to_have_count(2)


@pytest.mark.parametrize("kind, size, video", [("screen", (1920, 1080), True),
                                               ("screen", (1280, 720), False),
                                               ("overlay", (1920, 1080), False)])
def test_the_qr_code_on_the_board_and_overlay_reads_as_the_ask_address(
        browser: Any, contexts: list[Any], live_server: str, store: Store, settings: Settings,
        kind: str, size: tuple[int, int], video: bool) -> None:
    import zxingcpp
    from PIL import Image

    settings.screen.ask_url = "https://floor.example.org/ask"
    settings.screen.youtube_video_id = "dQw4w9WgXcQ" if video else ""
    _fill(store)
    secret, _ = ScreenLinks(store.conn, store.keys.event).create("hall", kind)
    context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                  reduced_motion="reduce")
    contexts.append(context)
    page = context.new_page()
    page.route("https://www.youtube-nocookie.com/**",
               lambda route: route.fulfill(content_type="text/html", body="<body>stream</body>"))
    page.goto(f"{live_server}/{kind}/{secret}")
    page.wait_for_selector('body[data-connection="live"]')
    expect(page.locator("#now-text")).to_have_text(NOW)
    expect(page.locator(".ask-address")).to_have_text("Ask at floor.example.org/ask")
    wait_in_page(page, "document.querySelector('#ask-qr img').complete "
                       "&& document.querySelector('#ask-qr img').naturalWidth > 0")
    # Read back from the pixels on the page, as a phone would.
    shot = page.locator("#ask-qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert [code.text for code in found] == ["https://floor.example.org/ask"]
    # The corner is kept free: the QR code covers none of the question or the queue.
    overlaps = page.evaluate("""() => {
        const qr = document.getElementById('ask-qr').getBoundingClientRect();
        return [...document.querySelectorAll('#now-text, .slot:not(.empty), .asker')]
          .filter((e) => { const r = e.getBoundingClientRect();
            return r.width && r.left < qr.right && r.right > qr.left
                   && r.top < qr.bottom && r.bottom > qr.top; })
          .map((e) => e.id || e.className);
    }""")
    assert overlaps == []
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-artifacts" / f"{kind}-{size[0]}x{size[1]}-qr.png"),
                    omit_background=kind == "overlay")
    assert serious(page) == []


def test_the_chair_taps_an_item_and_the_board_follows(browser: Any, contexts: list[Any],
                                                      live_server: str, store: Store,
                                                      settings: Settings) -> None:
    settings.agenda = AgendaSettings.model_validate({"items": [
        {"id": "finance", "title": "Finance"}, {"id": "roads", "title": "Roads"}]})
    Agenda(store.conn, store.keys.event).seed(settings.agenda.items)
    _fill(store)
    links = ScreenLinks(store.conn, store.keys.event)
    secret, _ = links.create("hall", "screen")
    errors: list[str] = []
    chair = _chair(browser, contexts, live_server, links, errors)
    board = chair.context.new_page()
    board.goto(f"{live_server}/screen/{secret}")
    board.wait_for_selector('body[data-connection="live"]')
    nav = chair.locator("#agenda-nav")
    expect(nav.get_by_role("button", name="All questions")).to_have_attribute(
        "aria-pressed", "true")
    nav.get_by_role("button", name="Roads").click()
    expect(board.locator("#agenda-item")).to_have_text("Questions on: Roads")
    expect(board.locator("#next-list .slot:not(.empty)")).to_have_count(0)
    expect(nav.get_by_role("button", name="Roads")).to_have_attribute("aria-pressed", "true")
    expect(chair.locator("#agenda-item")).to_have_text("Questions on: Roads · 0 waiting")
    assert serious(chair) == []
    nav.get_by_role("button", name="All questions").click()
    expect(board.locator("#agenda-item")).to_have_text("")
    assert errors == []
