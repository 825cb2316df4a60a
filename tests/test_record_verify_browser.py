"""`verify.html` in real Chromium: a good record checks out, over the web and from a folder on
the reader's computer; one byte changed in each kind of file gives the verdict that names it;
with scripts off the page says how to check without it, and prints."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from aggregator.base.settings import EventSettings, Settings, TriageSettings
from aggregator.core.moderation import Moderation
from aggregator.core.store import Store
from aggregator.followers.record.build import build
from aggregator.followers.record.signing import create
from aggregator.followers.record.site import publish
from aggregator.followers.triage.worker import TriageWorker
from tests.fixtures.browser import serious
from tests.posts import act, ingest
from tests.rehearsed import rehearse

pytestmark = pytest.mark.browser


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def record(conn: redis.Redis, event: str, tmp_path: Path) -> Path:
    """The rehearsal's first 80 posts, moderated, then triaged (so the record lists some and
    counts the others by kind), and a question with the event's hashtag answered; built and
    signed."""
    rehearse(conn, event, limit=80)
    ingest(Store(conn, event), "no sound on the stream here", "you are all grotbags",
           "How will response times improve in rural areas?",
           "How will response times improve in rural areas??", platform="yt")
    worker = TriageWorker(conn, event, TriageSettings(abuse_words=["grotbags"]), use_model=False)
    worker.setup()
    worker.drain()
    store = Store(conn, event)
    (tagged,) = ingest(store, "When does the new unit open? #APM2026")
    act(Moderation(conn, event), store, "screen", tagged, then="answered")
    folder = tmp_path / "r"
    build(conn, Settings(event=EventSettings(slug=event, title="Board meeting, May")), folder,
          create(tmp_path / "k")[0])
    return folder


@pytest.fixture
def served(record: Path) -> Iterator[str]:
    """The record's folder on a web server of its own (127.0.0.1 is a secure context)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(record)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/verify.html"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _changed(path: Path, at: bytes, shift: int = 0) -> Iterator[None]:
    """One byte of ``path`` changed, the byte ``shift`` on from the first ``at`` in it; as it was
    after."""
    data = path.read_bytes()
    where = data.index(at) + shift
    changed = bytearray(data)
    changed[where] = changed[where] ^ 0x01
    path.write_bytes(bytes(changed))
    try:
        yield
    finally:
        path.write_bytes(data)


def _verdict(page: Any) -> tuple[str, dict[str, str], dict[str, str]]:
    """The verdict's state, and each check's state and words."""
    page.wait_for_selector('#verdict[data-state="ok"], #verdict[data-state="bad"]')
    checks = page.eval_on_selector_all(
        "#checks > li", "items => items.map(i => [i.dataset.check, i.dataset.state, "
        "i.innerText])")
    return (page.get_attribute("#verdict", "data-state"),
            {name: state for name, state, _ in checks}, {name: words for name, _, words in checks})


# The kinds of file, the byte changed (the first of these bytes), and which checks then differ,
# each saying what: the file's name, or the entry or signature that breaks.
TAMPERED = {
    "ledger.jsonl": (b'type":"received', {"chain": "its hash does not match its content",
                                     "files": "ledger.jsonl: changed"}),
    "head.txt": (b"made: ", {"signature": "head.sig is not a valid signature of head.txt"}),
    "head.sig": (b"", {"signature": "head.sig is not a valid signature of head.txt"}),
    "public-key.pem": (b"AyEA", {"signature": "public-key.pem",
                                 "files": "public-key.pem: changed"}),
    "SHA256SUMS": (b"  ", {"files": "SHA256SUMS was changed"}),
    "record.json": (b'answered"', {"questions": "the ledger says \"already answered\"",
                                     "files": "record.json: changed"}),
    "index.html": (b"Published record", {"files": "index.html: changed"}),
    "questions.csv": (b"\n", {"files": "questions.csv: changed"}),
    "charts/platforms.svg": (b"<title", {"files": "charts/platforms.svg: changed"}),
    "verify.html": (b"Nothing is sent", {"files": "verify.html: changed"}),
    "verify.js": (b"Checks a published", {"files": "verify.js: changed"}),
}


def test_verify_html_checks_a_good_record_and_names_each_changed_file(
        browser: Any, record: Path, served: str) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.goto(served)
        state, checks, words = _verdict(page)
        assert state == "ok", words
        kinds = {q["kind"] for q in json.loads(
            (record / "record.json").read_text(encoding="utf-8"))["questions"]}
        assert kinds == {"question", "chatter", "stream", "abusive", "duplicate"}, kinds
        assert checks == dict.fromkeys(("chain", "signature", "files", "questions"), "ok")
        named = page.get_attribute("html", "data-fingerprint")
        assert named and page.inner_text("#key-found") == named
        assert f"fingerprint {named}" in words["signature"]
        listed = len((record / "SHA256SUMS").read_text(encoding="utf-8").splitlines())
        assert f"All {listed} files" in words["files"]
        assert serious(page) == []
        for name, (at, differs) in TAMPERED.items():
            with _changed(record / name, at):
                page.goto(served)
                state, checks, words = _verdict(page)
            assert state == "bad", name
            assert {check for check, s in checks.items() if s == "bad"} == set(differs), \
                (name, words)
            if "chain" in differs:  # nothing sure to compare the questions with
                assert checks["questions"] == "skipped"
            for check, said in differs.items():
                assert said in words[check], (name, words[check])
            assert "does NOT check out" in page.inner_text("#verdict")
            assert "the questions" not in page.inner_text("#verdict") or "questions" in differs
        # A question counted as a kind of post the ledger does not make it ("puestion").
        with _changed(record / "record.json", b'"kind": "question"', 9):
            page.goto(served)
            state, checks, words = _verdict(page)
        assert (state, checks["questions"]) == ("bad", "bad")
        assert "it is counted as puestion, the ledger makes it a question to list" in \
            words["questions"]
        page.goto(served)
        assert _verdict(page)[0] == "ok"
        # The question shown without the event's hashtag keeps its proof (checked above); shown
        # without a word more, it differs.
        data = (record / "record.json").read_bytes()
        shown = b'"text": "When does the new unit open?"'
        assert b'"committed": {\n        "text": "When does the new unit open? #APM2026"' in data
        assert data.count(shown) == 1
        (record / "record.json").write_bytes(data.replace(shown,
                                                          b'"text": "When does the unit open?"'))
        try:
            page.goto(served)
            state, checks, words = _verdict(page)
        finally:
            (record / "record.json").write_bytes(data)
        assert (state, checks["questions"]) == ("bad", "bad")
        assert "the shown text is not the committed text with only the event's hashtags left " \
            "out" in words["questions"]
        page.goto(served)
        assert _verdict(page)[0] == "ok"
        # A head noted during the meeting: this record must extend it.
        head = dict(line.split(": ", 1) for line in
                    (record / "head.txt").read_text(encoding="utf-8").splitlines()[1:])
        for noted, state, said in ((f"3:{'0' * 64}", "bad", f"The head you noted, 3:{'0' * 64}, "
                                    "is not in this record"),
                                   (f"{head['links']}:{head['hash']}", "ok",
                                    "It extends the head you noted")):
            page.fill("#noted", noted)
            page.evaluate("document.getElementById('verdict').dataset.state = ''")
            page.click("#check")
            verdict, checks, words = _verdict(page)
            assert (verdict, checks["chain"]) == (state, state) and said in words["chain"]
    finally:
        context.close()


def test_verify_html_from_the_readers_folder(browser: Any, record: Path) -> None:
    """Opened as a file, the page reads the files of the folder the reader chooses, and so
    also sees a file that was added to it."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((record / "verify.html").as_uri())
        assert page.get_attribute("#verdict", "data-state") is None
        assert page.locator("#how-local").is_visible()
        page.set_input_files("#folder", str(record))
        state, _, words = _verdict(page)
        assert state == "ok", words
        (record / "notes.txt").write_text("added later\n", encoding="utf-8")
        page.goto((record / "verify.html").as_uri())
        page.set_input_files("#folder", str(record))
        state, checks, words = _verdict(page)
        assert state == "bad" and checks["files"] == "bad"
        assert "notes.txt: not part of the record" in words["files"]
        assert all(url.startswith("file://") for url in requests)
    finally:
        context.close()


def test_verify_html_without_scripts_says_how_and_prints(browser: Any, record: Path) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto((record / "verify.html").as_uri())
        assert page.locator("#noscript").is_visible()
        assert "sha256sum -c SHA256SUMS" in page.inner_text("#noscript")
        assert page.get_by_role("heading", name="What is checked").is_visible()
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF")
    finally:
        context.close()


def test_the_sites_index_lists_each_record_and_reads_offline(browser: Any, record: Path,
                                                            tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(record, site / "board-may")
    publish(site)
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto((site / "index.html").as_uri())
        row = page.get_by_role("row").nth(1)
        assert "Board meeting, May" in row.inner_text()
        assert serious(page) == []
        page.get_by_role("link", name="check it").click()
        # The reader chooses the site's folder, above the record's: the record is found in it.
        page.set_input_files("#folder", str(site))
        assert _verdict(page)[0] == "ok"
    finally:
        context.close()
