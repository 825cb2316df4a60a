"""End to end: `floor run` with the rehearsal feed at full speed; a moderator in Chromium approves
and screens three questions with the keyboard; the board screen, in a second Chromium context,
shows each in turn, in order, and nothing else.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.base.settings import Settings
from aggregator.core.public_text import Rules, strip_tags
from tests.waiting import wait_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "correct horse battery"
# Records, inside the screen page, every question text it ever shows (now and next).
WATCH_SCREEN = """() => {
  window.floorSeen = {now: [], next: []};
  const note = (list, text) => { if (text && list[list.length - 1] !== text) list.push(text); };
  const now = document.getElementById('now-text');
  new MutationObserver(() => note(floorSeen.now, now.textContent))
    .observe(now, {childList: true, characterData: true, subtree: true});
  for (const slot of document.querySelectorAll('#next-list .slot-text')) {
    new MutationObserver(() => note(floorSeen.next, slot.textContent))
      .observe(slot, {childList: true, characterData: true, subtree: true});
  }
  note(floorSeen.now, now.textContent);
}"""


def _floor(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "cli", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"floor {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def running(floor_env: dict[str, str], store: Any) -> Iterator[tuple[str, str]]:
    """`floor run` with the rehearsal at full speed: (base URL, the board screen's link)."""
    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text(config.read_text(encoding="utf-8")
                      + "\n[sources.rehearsal]\nenabled = true\nspeed = 0\n", encoding="utf-8")
    _floor(floor_env, "moderator", "add", "sam", "--password-stdin", stdin=PASSWORD + "\n")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    created = _floor(floor_env, "screen-link", "create", "top table", "--base-url", base)
    link = re.search(rf"{re.escape(base)}/screen/\S+", created)
    assert link is not None, created
    process = subprocess.Popen([sys.executable, "-m", "cli", "run", "--port", str(port)],
                               env=floor_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, "floor run exited"
            assert time.monotonic() < deadline, "floor run did not start the web app"
            time.sleep(0.1)
        # The rehearsal goes in at full speed: wait until it all has.
        while len(store.question_ids()) < 300 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield base, link[0]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_three_questions_approved_and_screened_with_the_keyboard(
        browser: Any, running: tuple[str, str]) -> None:
    base, link = running
    board = browser.new_context(viewport={"width": 1280, "height": 720})
    desk = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        screen = board.new_page()
        screen.goto(link)
        wait_in_page(screen, "document.body.dataset.connection === 'live'")
        screen.evaluate(WATCH_SCREEN)

        console = desk.new_page()
        console.goto(f"{base}/login")
        console.get_by_label("Username").fill("sam")
        console.get_by_label("Password").fill(PASSWORD)
        console.get_by_role("button", name="Log in").click()
        console.wait_for_url(f"{base}/console")
        console.locator(".card").first.wait_for()
        console.evaluate("() => document.activeElement && document.activeElement.blur()")

        shown = []
        for turn in range(3):
            console.keyboard.press("1")  # the incoming column
            console.keyboard.press("j")
            console.keyboard.press("k")
            selected = console.locator(".card.selected .text")
            text = selected.text_content()
            assert text, "no question is selected"
            on_board = strip_tags(text, Rules.of(Settings()).tags)  # the event's tag left out
            console.keyboard.press("a")  # approve: it joins the queue, and the screen's "next"
            wait_in_page(screen, "[...document.querySelectorAll('#next-list .slot-text')]"
                                 ".some(e => e.textContent === arg)", on_board, timeout=20)
            console.keyboard.press("2")  # the queue: it is the only one there
            wait_in_page(console,
                         "document.querySelector('.card.selected .text')?.textContent === arg",
                         text)
            console.keyboard.press("s")  # put on screen
            if turn:
                console.keyboard.press("a")  # the one on screen now has been answered
            wait_in_page(screen, "document.getElementById('now-text').textContent === arg",
                         on_board, timeout=20)
            shown.append(on_board)
        wait_in_page(screen,
                     "getComputedStyle(document.getElementById('now-card')).opacity === '1'")
        ARTIFACTS.mkdir(exist_ok=True)
        screen.screenshot(path=str(ARTIFACTS / "e2e-screen.png"))
        console.screenshot(path=str(ARTIFACTS / "e2e-console.png"))
        seen = screen.evaluate("() => floorSeen")
        assert len(set(shown)) == 3
        assert seen["now"] == shown  # each in turn, in order, and nothing else
        assert set(seen["next"]) <= set(shown)
    finally:
        board.close()
        desk.close()
