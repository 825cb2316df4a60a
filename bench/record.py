"""The published record at scale: time to chain, build and verify the record of a meeting with
50,000 questions.

    python bench/record.py [--questions 50000] [--moderated 5000] [--smoke]

Stores the questions (the bundled rehearsal's posts, cycled with fresh ids and arrival times over
90 minutes) through the real ingest, then has the moderators decide on ``--moderated`` of them
through the real action engine (approve then screen and answer, reject for each reason, group,
hold). Then it times, separately: chaining the whole log into the ledger (during a meeting the
``floor ledger`` process does this as entries arrive), against a raw baseline in the same run
(reading every entry, parsing it and hashing its canonical JSON, with no salts or public ids), with
the CPU seconds of the writer and of Redis (the wall time on a shared machine is mostly waiting);
building the signed record folder, and verifying it (chain, signature, every question, every file
against the manifest), and on its own the part of both that hashes every file for the manifest.
Uses REDIS_URL when set, else an embedded server in a temporary folder; the bench's keys are
deleted at the end.

It also times the console's fairness summary (aggregator/followers/fairness.py) at that size:
feeding it every question state of the whole log, as a web process does from its tail, against a raw
baseline that only files each state in a dict by id, and one summary (pushed at most once a second).

And it times ``verify.html`` checking the record in Chromium (served from 127.0.0.1, a secure
context), from opening the page to its verdict, against a raw baseline in the same browser: a
page that fetches every file the manifest lists and takes the SHA-256 of each once (what any
check must at least do). Skipped, saying so, when Chromium is not installed.

``--smoke`` (for CI): 300 questions, 60 decisions; nothing timed is judged.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.base.keys import Keys  # noqa: E402
from aggregator.base.redis_server import connect  # noqa: E402
from aggregator.base.settings import EventSettings, Settings  # noqa: E402
from aggregator.core.moderation import Moderation  # noqa: E402
from aggregator.core.normalise import InvalidPost, normalise  # noqa: E402
from aggregator.core.question import Post, utc_now  # noqa: E402
from aggregator.core.store import Store  # noqa: E402
from aggregator.followers.fairness import Fairness  # noqa: E402
from aggregator.followers.ledger import GENESIS, Ledger, canonical, link_hash  # noqa: E402
from aggregator.followers.record import MANIFEST_FILE, manifest  # noqa: E402
from aggregator.followers.record.build import build  # noqa: E402
from aggregator.followers.record.signing import create  # noqa: E402
from aggregator.followers.record.verify import verify  # noqa: E402
from aggregator.ingest.sources.rehearsal import BUNDLED  # noqa: E402

# The log fields the ledger reads as JSON (aggregator/followers/ledger.py ``PARSED``).
PARSED = ("qs", "queue", "queue_edit", "was", "seq")
REASONS = ("off topic", "abusive", "personal case to follow up privately", "already answered")


def fill(store: Store, count: int) -> None:
    lines = [json.loads(line) for line in BUNDLED.read_text(encoding="utf-8").splitlines()]
    start = time.time() - 95 * 60
    batch = []
    for i in range(count):
        line = lines[i % len(lines)]
        post = Post(platform=line["platform"], native_id=f"{line['id']}-{i}", text=line["text"],
                    author_name=line["author"], author_handle=line["handle"],
                    url=f"https://example.invalid/{i}")
        try:
            question = normalise(post)
        except InvalidPost:
            continue
        question.received_at = utc_now(start + 5400 * i / count)
        batch.append((question, line))
        if len(batch) == 500:
            store.ingest("bench", batch)
            batch = []
    store.ingest("bench", batch)


def moderate(conn, event: str, store: Store, decisions: int) -> None:  # type: ignore[no-untyped-def]
    moderation = Moderation(conn, event)
    rng = random.Random(2026)
    qids = store.question_ids()
    chosen = sorted(rng.sample(range(len(qids)), min(decisions, len(qids))))
    main = ""
    for n, index in enumerate(chosen):
        qid = qids[index]
        version = 1
        roll = rng.random()
        if roll < 0.45:
            moderation.apply("approve", qid, version, "sam")
            moderation.apply("screen", qid, version + 1, "sam", then="answered")
            main = main or qid
        elif roll < 0.75:
            moderation.apply("reject", qid, version, "kim", reason=REASONS[n % len(REASONS)])
        elif roll < 0.9 and main:
            moderation.apply("group", qid, version, "kim", parent=main)
        else:
            moderation.apply("hold", qid, version, "kim")
    if conn.exists(store.keys.screen):
        moderation.clear_screen("sam")


def fairness(conn, store: Store) -> None:  # type: ignore[no-untyped-def]
    states = [q for _, fields in conn.xrange(store.keys.log)
              for q in json.loads(fields.get("qs", "[]"))]
    started = time.perf_counter()
    raw: dict[str, dict[str, object]] = {}
    for q in states:
        raw[q["id"]] = q
    baseline = time.perf_counter() - started
    tally = Fairness()
    started = time.perf_counter()
    for q in states:
        tally.take(q)
    fed = time.perf_counter() - started
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        summary = tally.summary()
    once = (time.perf_counter() - started) / rounds
    print(f"  fairness: fed {len(states)} question states in {fed * 1000:6.1f} ms (raw dict "
          f"{baseline * 1000:.1f} ms, ratio {fed / baseline if baseline else 0:.1f}); one "
          f"summary {once * 1000:.2f} ms ({summary['total']} questions, "
          f"{summary['repeat_count']} repeat askers)")


def baseline(conn, store: Store) -> float:  # type: ignore[no-untyped-def]
    """The raw floor of chaining: read every log entry in pages, parse its JSON fields, write its
    canonical JSON and SHA-256 it; no salts, no commitments, no public ids, nothing stored."""
    started = time.perf_counter()
    last, previous = "-", GENESIS
    while page := conn.xrange(store.keys.log, min=last, count=500):
        for entry_id, fields in page:
            entry = {name: (json.loads(value) if name in PARSED and value[:1] in "[{" else value)
                     for name, value in fields.items()}
            previous = link_hash(previous, canonical({"id": entry_id, **entry}))
        last = "(" + page[-1][0]
    return time.perf_counter() - started


def _redis_cpu(conn) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds the Redis server has used (all its clients: on a shared server, an upper
    bound of the bench's own)."""
    info = conn.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


CHROMIUM = os.environ.get("FLOOR_CHROMIUM", "/usr/bin/chromium")
# Every file the manifest lists, fetched and hashed once each: the least any check must do.
BASELINE = """async () => {
  const started = performance.now();
  const list = await (await fetch("SHA256SUMS", {cache: "no-store"})).text();
  for (const line of list.split("\\n").filter(Boolean)) {
    const bytes = await (await fetch(line.slice(66), {cache: "no-store"})).arrayBuffer();
    await crypto.subtle.digest("SHA-256", bytes);
  }
  return performance.now() - started;
}"""


class _Quiet(SimpleHTTPRequestHandler):
    """The record's folder, and an empty page of the same origin for the baseline."""

    def do_GET(self) -> None:
        if self.path != "/baseline.html":
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>baseline</title>")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


def in_browser(folder: Path) -> None:
    """verify.html's check of the record in Chromium, against the raw baseline."""
    if not Path(CHROMIUM).exists():
        print(f"  verify.html in a browser: skipped (no Chromium at {CHROMIUM})")
        return
    from playwright.sync_api import sync_playwright

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                                "--disable-background-networking"])
            page = browser.new_page()
            page.goto(f"{base}/baseline.html")
            baseline = page.evaluate(BASELINE) / 1000
            started = time.perf_counter()
            page.goto(f"{base}/verify.html")
            page.wait_for_selector('#verdict[data-state="ok"], #verdict[data-state="bad"]',
                                   timeout=600_000)
            checked = time.perf_counter() - started
            verdict = page.get_attribute("#verdict", "data-state")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"  verify.html in Chromium: {checked:6.2f} s, verdict {verdict} (every file fetched "
          f"and hashed once: {baseline:.2f} s, ratio {checked / baseline if baseline else 0:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=None, help="50,000 (smoke: 300)")
    parser.add_argument("--moderated", type=int, default=None, help="5,000 (smoke: 60)")
    parser.add_argument("--smoke", action="store_true", help="a small run for CI")
    args = parser.parse_args()
    questions = args.questions or (300 if args.smoke else 50_000)
    decisions = args.moderated if args.moderated is not None else (60 if args.smoke else 5_000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        conn = connect(data_dir=folder / "redis")
        event = "bench-" + uuid.uuid4().hex[:8]
        store = Store(conn, event)
        try:
            started = time.perf_counter()
            fill(store, questions)
            moderate(conn, event, store, decisions)
            setup = time.perf_counter() - started
            entries = conn.xlen(store.keys.log)
            print(f"record bench: {questions} questions, {decisions} decisions, {entries} log "
                  f"entries (set up in {setup:.1f} s)")

            raw = baseline(conn, store)
            redis_cpu = _redis_cpu(conn)
            started, cpu = time.perf_counter(), time.process_time()
            Ledger(conn, event).catch_up()
            chained = time.perf_counter() - started
            cpu, redis_cpu = time.process_time() - cpu, _redis_cpu(conn) - redis_cpu
            print(f"  chain the log into the ledger: {chained:6.2f} s "
                  f"({entries / chained:,.0f} entries/s; {chained / raw:.1f}x the raw baseline "
                  f"{raw:.2f} s; CPU: writer {cpu:.2f} s, Redis {redis_cpu:.2f} s; load "
                  f"{os.getloadavg()[0]:.1f})")

            key = create(folder / "keys")[0]
            started = time.perf_counter()
            built = build(conn, Settings(event=EventSettings(slug=event)), folder / "record", key)
            made = time.perf_counter() - started
            size = sum(p.stat().st_size for p in (folder / "record").rglob("*") if p.is_file())
            print(f"  build the signed record:       {made:6.2f} s ({built.questions} questions, "
                  f"{size / 1e6:.1f} MB)")

            started = time.perf_counter()
            done = verify(folder / "record", head=str(built.head))
            checked = time.perf_counter() - started
            print(f"  verify it (chain, signature, questions): {checked:6.2f} s "
                  f"({done.count} links; {done.files} files against the manifest)")
            started = time.perf_counter()
            listed = manifest.parse((folder / "record" / MANIFEST_FILE).read_bytes())
            assert not manifest.differences(folder / "record", listed)
            hashed = time.perf_counter() - started
            print(f"  every file's SHA-256 against the manifest, alone: {hashed:6.2f} s (part "
                  "of verifying; building hashes the same bytes once)")
            in_browser(folder / "record")
            fairness(conn, store)
            if args.smoke:
                print("  (smoke run: nothing judged)")
        finally:
            keys = list(conn.scan_iter(Keys(event).pattern, count=1000))
            for start in range(0, len(keys), 1000):
                conn.delete(*keys[start:start + 1000])


if __name__ == "__main__":
    main()
