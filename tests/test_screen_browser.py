"""The board screen and the overlay in real Chromium: screenshots at both sizes (saved in
test-artifacts/), long questions, live updates without layout shift, a dropped connection.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.base.settings import Settings
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.question import Post, Question, utc_now
from aggregator.core.store import Store
from tests.fixtures.browser import serious
from tests.waiting import wait_in_page
from web.screen_links import ScreenLinks

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SIZES = [(1920, 1080), (1280, 720)]
VIDEO_ID = "dQw4w9WgXcQ"
# Stands in for the YouTube player: the tests run offline.
PLAYER = ("<body style='margin:0;background:#222;color:#bbb;display:grid;place-items:center;"
          "font:24px sans-serif'>live stream</body>")

NOW = ("Why are ambulance response times in the north of the county twice as long as in the "
       "south, and what is the Trust doing about it this winter?")
QUEUE = [
    ("fb", "Will the minor injuries unit at Millbrook reopen before the winter?", "Dot Hemsworth"),
    ("ig", "How many paramedic vacancies are there right now, and how long have they been "
           "open? كم عدد الوظائف الشاغرة؟", "Aled Vaughan"),
    ("web", "Can the board publish the hospital handover delays every month, by hospital, "
            "so that the public can see whether things are getting better or worse?", ""),
]


class Board:
    """Questions put on the board through the moderators' own verbs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.moderation = Moderation(store.conn, store.keys.event)
        self.count = 0

    def add(self, text: str, platform: str = "x", author: str = "Ann Hughes") -> str:
        self.count += 1
        post = Post(platform, f"{self.count}{threading.get_ident()}", text, author, "")
        (qid,) = self.store.ingest(platform, [(normalise(post), {})])
        return qid

    def add_long(self, length: int) -> str:
        """A question longer than normalising allows: the screen must still fit it."""
        words = ("Will the Trust explain in full why the new station was delayed again and "
                 "what it costs? ")
        text = (words * (length // len(words) + 1))[:length - 1] + "?"
        question = Question(id="x:long", platform="x", text=text, original=text,
                            author_name="Ann Hughes", received_at=utc_now())
        self.store.ingest("x", [(question, {})])
        return question.id

    def act(self, action: str, qid: str, **params: Any) -> None:
        question = self.store.question(qid)
        assert question is not None
        self.moderation.apply(action, qid, question.version, "sam", **params)

    def fill(self) -> str:
        """The picture of a meeting: a question asked by three people on screen, three next."""
        now = self.add(NOW)
        for text in ("why is the north so slow??", "North county ambulances take too long"):
            self.act("group", self.add(text, "yt", "Sam Okafor"), parent=now)
        for platform, text, author in QUEUE:
            self.act("approve", self.add(text, platform, author))
        self.act("screen", now)
        return now


@pytest.fixture
def board(store: Store, settings: Settings) -> Board:
    settings.event.title = "Riverside Health & Ambulance Trust: Annual Public Meeting"
    return Board(store)


@pytest.fixture
def open_page(browser: Any, live_server: str, links: ScreenLinks
              ) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(kind: str = "screen", size: tuple[int, int] = (1920, 1080),
              reduced_motion: str = "reduce", prepare: Callable[[Any], None] | None = None
              ) -> Any:
        secret, _ = links.create(f"test {kind}", kind)
        context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                      reduced_motion=reduced_motion)
        contexts.append(context)
        page = context.new_page()
        page.route("https://www.youtube-nocookie.com/**",
                   lambda route: route.fulfill(content_type="text/html", body=PLAYER))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        if prepare is not None:
            prepare(page)
        page.goto(f"{live_server}/{kind}/{secret}")
        wait_in_page(page, "document.body.dataset.connection === 'live'")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == []


def _shows(page: Any, text: str) -> None:
    wait_in_page(page, "document.getElementById('now-text').textContent === arg", text)


def _question_fits(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => {
        const box = document.getElementById('now-box');
        const text = document.getElementById('now-text');
        const r = text.getBoundingClientRect();
        const card = document.getElementById('now-card');
        return {fits: box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth,
                font: parseFloat(getComputedStyle(text).fontSize), width: r.width,
                height: r.height, opacity: getComputedStyle(card).opacity,
                page_scrolls: document.scrollingElement.scrollHeight > innerHeight
                              || document.scrollingElement.scrollWidth > innerWidth};
    }""")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("video", [True, False], ids=["video", "no-video"])
def test_screen_screenshots(open_page: Callable[..., Any], board: Board, settings: Settings,
                            size: tuple[int, int], video: bool) -> None:
    settings.screen.youtube_video_id = VIDEO_ID if video else ""
    board.fill()
    page = open_page("screen", size)
    _shows(page, NOW)
    wait_in_page(page, "document.querySelectorAll('#next-list .slot:not(.empty)').length == 3")
    assert page.locator(".group").text_content() == "asked by 3 people on 2 platforms"
    assert page.locator("#now-asker").text_content() == "Ann Hughes · X"
    assert page.locator("iframe").count() == (1 if video else 0)
    fit = _question_fits(page)
    assert fit["fits"] and not fit["page_scrolls"] and fit["opacity"] == "1"
    # Large type: the question at least 4% of the screen's height.
    assert fit["font"] >= 0.04 * size[1]
    ARTIFACTS.mkdir(exist_ok=True)
    name = f"screen-{size[0]}x{size[1]}-{'video' if video else 'no-video'}.png"
    page.screenshot(path=str(ARTIFACTS / name))
    assert serious(page) == []


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_overlay_screenshots(open_page: Callable[..., Any], board: Board,
                             size: tuple[int, int]) -> None:
    board.fill()
    page = open_page("overlay", size)
    _shows(page, NOW)
    transparent = page.evaluate("""() => [document.documentElement, document.body].map(
        e => getComputedStyle(e).backgroundColor)""")
    assert transparent == ["rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0)"]
    assert page.locator("#next-list").count() == 0
    assert _question_fits(page)["fits"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"overlay-{size[0]}x{size[1]}.png"),
                    omit_background=True)
    assert serious(page) == []


@pytest.mark.parametrize("kind, size, video", [
    ("screen", (1920, 1080), True), ("screen", (1280, 720), True),
    ("screen", (1280, 720), False), ("overlay", (1920, 1080), False),
    ("overlay", (1280, 720), False)])
def test_a_2000_character_question_fits(open_page: Callable[..., Any], board: Board,
                                        settings: Settings, kind: str, size: tuple[int, int],
                                        video: bool) -> None:
    settings.screen.youtube_video_id = VIDEO_ID if video else ""
    qid = board.add_long(2_000)
    text = board.store.question(qid).text  # type: ignore[union-attr]
    assert len(text) == 2_000
    board.act("screen", qid)
    page = open_page(kind, size)
    _shows(page, text)
    fit = _question_fits(page)
    assert fit["fits"] and not fit["page_scrolls"], fit
    assert fit["font"] >= 8 and fit["width"] > 0 and fit["height"] > 0, fit
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{kind}-{size[0]}x{size[1]}-2000-chars.png"),
                    omit_background=kind == "overlay")


def test_updates_fade_in_place_without_moving_anything(open_page: Callable[..., Any],
                                                       board: Board) -> None:
    board.fill()
    page = open_page("screen", (1920, 1080), reduced_motion="no-preference")
    _shows(page, NOW)
    boxes = "() => ['.now', '.next', '.top', '.slot'].map(s => " \
            "JSON.stringify(document.querySelector(s).getBoundingClientRect()))"
    before = page.evaluate(boxes)
    hostile = "<img src=x onerror=alert(1)> Is this shown as text?"
    qid = board.add(hostile)
    board.act("screen", qid)
    _shows(page, "Is this shown as text?")  # the markup was cleaned away on the way in
    wait_in_page(page, "getComputedStyle(document.getElementById('now-card')).opacity == 1")
    assert page.evaluate(boxes) == before
    assert page.locator("#now-text img").count() == 0
    board.act("edit", qid, text="<b>Edited</b> on the screen?")
    _shows(page, "Edited on the screen?")
    board.moderation.clear_screen("sam")  # it fades out, then the screen waits calmly
    _shows(page, "")
    assert page.evaluate("document.body.classList.contains('is-idle')")
    assert page.evaluate(boxes) == before


def test_a_dropped_connection_keeps_the_board_and_resyncs(open_page: Callable[..., Any],
                                                          board: Board) -> None:
    board.fill()
    network: dict[str, Any] = {"up": True, "sockets": []}

    def relay(ws: Any) -> None:
        if not network["up"]:
            ws.close()
            return
        ws.connect_to_server()
        network["sockets"].append(ws)

    def through_us(page: Any) -> None:
        """The page's Socket.IO traffic goes through us, so we can cut it."""
        page.route_web_socket(re.compile(r"/socket\.io/"), relay)
        page.route(re.compile(r"/socket\.io/"),
                   lambda route: route.continue_() if network["up"] else route.abort())

    page = open_page("screen", (1280, 720), prepare=through_us)
    _shows(page, NOW)
    network["up"] = False
    for ws in network["sockets"]:
        ws.close()
    wait_in_page(page, "document.body.dataset.connection === 'down'")
    assert page.locator("#status").text_content() == "Reconnecting…"
    assert page.locator("#now-text").text_content() == NOW  # the last state stays up
    later = board.add("Asked while the screen was offline?")
    board.act("screen", later)
    network["up"] = True
    wait_in_page(page, "document.body.dataset.connection === 'live'", timeout=15)
    _shows(page, "Asked while the screen was offline?")
    assert page.locator("#status").text_content() == ""


def test_a_revoked_link_clears_the_screen(open_page: Callable[..., Any], board: Board,
                                          links: ScreenLinks) -> None:
    board.fill()
    page = open_page("screen", (1280, 720))
    _shows(page, NOW)
    for link in links.all():
        links.revoke(link)
    wait_in_page(page, "document.body.dataset.connection === 'revoked'")
    assert page.locator("#status").text_content() == "This screen link was revoked."
    wait_in_page(page, "document.getElementById('now-text').textContent === ''")


@pytest.mark.parametrize("kind", ["screen", "overlay"])
def test_each_question_reads_in_its_own_direction(open_page: Callable[..., Any], board: Board,
                                                  settings: Settings, kind: str) -> None:
    """An Arabic question that starts with a Latin hashtag still reads right to left (with
    dir="auto" the hashtag would make it left to right); the next one, English, left to right.
    """
    settings.screen.strip_hashtags = False
    arabic = "#APM2026 متى سيفتح المركز الجديد في ميلبروك؟"
    page = open_page(kind)
    board.act("screen", board.add(arabic))
    _shows(page, arabic)
    wait_in_page(page, "document.getElementById('now-text').dir === 'rtl'")
    english = "#APM2026 When will the Millbrook centre open?"
    board.act("screen", board.add(english), then="answered")
    _shows(page, english)
    wait_in_page(page, "document.getElementById('now-text').dir === 'ltr'")
    if kind == "screen":
        board.act("approve", board.add(arabic, "fb", "Huda Saleh"))
        wait_in_page(page, "document.querySelector('#next-list .slot-text').dir === 'rtl'")
