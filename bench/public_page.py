"""The live public page (/record): how many viewers one web process holds with every view at
most 5 s behind, against a bare page of the same size on the same server, in the same run.

    python bench/public_page.py [--questions 5000] [--viewers 250,500,1000,2000,4000,10000]
                                [--smoke]

Starts Floor's web app in a subprocess (as ``floor web`` serves it) with an event of QUESTIONS
questions, plus one bench-only route that returns a fixed page of the same size with an ETag:
the bare baseline, no Floor work. While a moderator approves and answers a question every
second (so the page really changes), VIEWERS simulated viewers (asyncio, aiohttp) each reload
the page every 3 s as its script does: a conditional GET (If-None-Match). A view is at most
3 s (the reload) + 1 s (the page is redrawn at most once a second) + the response time behind,
so a step holds when the p99 response time is within 1 s and nothing fails. Each step runs two
reload rounds after one to ramp up; the bench stops at the first step that does not hold.
Prints, for Floor and the bare page, the most viewers held and the ratio.

Behind a caching proxy (nginx ``proxy_cache`` honours ``Cache-Control: public, max-age=1``) the
web process sees about one request a second whatever the audience: this bench measures the web
process alone, the harder case.

``--smoke`` (for CI): 200 questions, 10 and 20 viewers; nothing judged.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REFRESH = 3.0
BOUND = 1.0  # p99 response time that keeps every view within 5 s
POOL = 256  # connections the viewers share (as a proxy's pool would)


def serve(port: int, event: str, redis_url: str) -> None:
    from flask import make_response, request

    from aggregator.redis_server import connect
    from aggregator.settings import EventSettings, Settings
    from web import create_app
    from web.extensions import NoDelayRequestHandler, socketio

    logging.getLogger("werkzeug").disabled = True
    app = create_app(Settings(event=EventSettings(slug=event)), connect(redis_url))
    body: list[bytes] = []

    @app.get("/bench/bare")
    def bare() -> Any:
        if request.if_none_match.contains("bare"):
            response = make_response("", 304)
        else:
            response = make_response(body[0])
        response.set_etag("bare")
        response.headers["Cache-Control"] = "public, max-age=1"
        return response

    with app.test_client() as client:
        body.append(client.get("/record").data)  # the bare page: as big as Floor's
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, log_output=False,
                 request_handler=NoDelayRequestHandler)


def fill(conn: Any, event: str, count: int) -> list[str]:
    from aggregator.normalise import normalise
    from aggregator.question import Post
    from aggregator.store import Store

    store = Store(conn, event)
    for first in range(0, count, 500):
        batch = [(normalise(Post(random.choice(["x", "yt", "fb", "ig"]), f"q{i}",
                                 f"Bench question {i}: will the figures be published?",
                                 f"Viewer {i}")), {})
                 for i in range(first, min(first + 500, count))]
        store.ingest("bench", batch)
    return store.question_ids()


def moderate(conn: Any, event: str, qids: list[str], stop: threading.Event) -> None:
    """A question approved and answered every second: the page changes all the time."""
    from aggregator.moderation import Moderation

    moderation = Moderation(conn, event)
    for qid in qids:
        if stop.wait(1.0):
            return
        moderation.apply("approve", qid, 1, "sam")
        moderation.apply("screen", qid, 2, "sam", then="answered")


async def viewers(url: str, count: int, rounds: int) -> tuple[list[float], int]:
    import aiohttp

    times: list[float] = []
    failures = 0
    end = time.monotonic() + REFRESH * (rounds + 1)
    measure_from = time.monotonic() + REFRESH

    async def viewer(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        etag = ""
        await asyncio.sleep(random.uniform(0, REFRESH))
        while time.monotonic() < end:
            start = time.monotonic()
            try:
                async with session.get(url, headers={"If-None-Match": etag} if etag else {}) as r:
                    await r.read()
                    if r.status not in (200, 304):
                        raise aiohttp.ClientError(f"status {r.status}")
                    etag = r.headers.get("ETag", etag)
            except (TimeoutError, aiohttp.ClientError):
                failures += start >= measure_from
            took = time.monotonic() - start
            if start >= measure_from:
                times.append(took)
            await asyncio.sleep(max(0.0, REFRESH - took))

    connector = aiohttp.TCPConnector(limit=POOL)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(viewer(session) for _ in range(count)))
    return times, failures


def viewers_in_threads(url: str, count: int, rounds: int) -> tuple[list[float], int]:
    """The same viewers on threads and the standard library, when aiohttp is not installed
    (the bench extra): fine for a smoke run, far too heavy for thousands."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    times: list[float] = []
    failures = [0]
    end = time.monotonic() + REFRESH * (rounds + 1)
    measure_from = time.monotonic() + REFRESH
    lock = threading.Lock()

    def viewer() -> None:
        etag = ""
        time.sleep(random.uniform(0, REFRESH))
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        while time.monotonic() < end:
            start = time.monotonic()
            try:
                connection.request("GET", parts.path, headers={"If-None-Match": etag} if etag
                                   else {})
                response = connection.getresponse()
                response.read()
                if response.status not in (200, 304):
                    raise OSError(f"status {response.status}")
                etag = response.getheader("ETag") or etag
            except (OSError, http.client.HTTPException):
                connection.close()
                with lock:
                    failures[0] += start >= measure_from
            took = time.monotonic() - start
            if start >= measure_from:
                with lock:
                    times.append(took)
            time.sleep(max(0.0, REFRESH - took))
        connection.close()

    threads = [threading.Thread(target=viewer, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, failures[0]


def measure(url: str, count: int, rounds: int) -> tuple[list[float], int]:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return viewers_in_threads(url, count, rounds)
    return asyncio.run(viewers(url, count, rounds))


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=None, help="5,000 (smoke: 200)")
    parser.add_argument("--viewers", default=None,
                        help="steps, e.g. 250,500,1000 (smoke: 10,20)")
    parser.add_argument("--rounds", type=int, default=2, help="reload rounds measured a step")
    parser.add_argument("--smoke", action="store_true", help="a small run for CI")
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "EVENT", "REDIS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2])
        return
    questions = args.questions or (200 if args.smoke else 5_000)
    steps = [int(v) for v in (args.viewers or ("10,20" if args.smoke else
                                               "250,500,1000,2000,4000,10000")).split(",")]
    from aggregator.keys import Keys
    from aggregator.redis_server import connect, url_of

    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(data_dir=Path(tmp) / "redis")
        redis_url = os.environ.get("REDIS_URL") or url_of(conn)
        event = "bench-" + uuid.uuid4().hex[:8]
        qids = fill(conn, event, questions)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), event,
                                   redis_url], env={**os.environ, "FLOOR_SECRET_KEY": "bench"})
        stop = threading.Event()
        mover = threading.Thread(target=moderate, args=(conn, event, qids, stop), daemon=True)
        try:
            deadline = time.monotonic() + 60
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("bench: the server did not start")
                time.sleep(0.1)
            mover.start()
            print(f"public page bench: {questions} questions, a change every second, reload "
                  f"every {REFRESH:g} s, held = p99 response <= {BOUND:g} s and no failure")
            held = {}
            for name, path in (("floor /record", "/record"), ("bare page", "/bench/bare")):
                held[name] = 0
                for count in steps:
                    times, failures = measure(f"http://127.0.0.1:{port}{path}", count,
                                              args.rounds)
                    ok = failures == 0 and p99(times) <= BOUND
                    print(f"  {name:14} {count:6} viewers: {len(times)} views, p99 "
                          f"{p99(times) * 1000:7.1f} ms, {failures} failed -> "
                          f"{'held' if ok else 'NOT held'}")
                    if not ok:
                        break
                    held[name] = count
            ratio = held["floor /record"] / held["bare page"] if held["bare page"] else 0.0
            print(f"  viewers held within 5 s: floor /record {held['floor /record']}, bare "
                  f"page {held['bare page']} (ratio {ratio:.2f})")
            if args.smoke:
                print("  (smoke run: nothing judged)")
        finally:
            stop.set()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            keys = list(conn.scan_iter(Keys(event).pattern, count=1000))
            for start in range(0, len(keys), 1000):
                conn.delete(*keys[start:start + 1000])


if __name__ == "__main__":
    main()
