"""Every console receives the log in order, whole, under load: posts arriving fast while three
moderators act and screens watch (issue #19, item 7).

    pytest -q tests/test_console_order.py                 # a few seconds (CI)
    FLOOR_ORDER_FULL=1 pytest -q tests/test_console_order.py   # 5,000 posts a minute for a
                                                              # minute, 100 screens

Each relayed entry names the entry before it in the log (``prev``), so a console can tell a gap
from the next entry; here each console's entries, in the order they came off the wire, must
chain from its snapshot to the end of the log with no gap and nothing out of order.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from typing import Any

import pytest
import requests
import socketio as sio
from flask import Flask

from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import LogEntry, Store
from tests.fixtures.consoles import drop_client
from tests.moderators import MODERATOR
from tests.waiting import wait_until
from web.screen_links import ScreenLinks

# One at a time on one pytest-xdist worker (docs/testing.md, "In parallel"): posts at
# 20,000 a minute to thirteen consoles.
pytestmark = pytest.mark.xdist_group("kills")

NS = "/console"
FULL = os.environ.get("FLOOR_ORDER_FULL") == "1"
POSTS_PER_MINUTE = 5_000
SECONDS = 60.0 if FULL else 3.0
SCREENS = 100 if FULL else 10
MODERATORS = 3
LATE_CONSOLES = 4
_native = itertools.count(1)


class WireConsole:
    """A moderator's console over a real socket that keeps the entries in the order they came
    off the wire. python-socketio's threaded client runs each message's handler on a thread of
    its own, so handlers may see two entries swapped that arrived in order: the order is taken
    where the client reads the WebSocket, one message after another."""

    def __init__(self, url: str) -> None:
        self.http = requests.Session()
        response = self.http.post(f"{url}/login", data={"username": MODERATOR[0],
                                                        "password": MODERATOR[1]})
        assert response.ok, response.text
        self.wire: list[tuple[str, dict[str, Any]]] = []  # (event, payload), as received
        self.client = sio.Client(http_session=self.http, reconnection=False)
        receive = self.client.eio._receive_packet

        def in_order(pkt: Any) -> None:
            self._take(pkt)
            receive(pkt)

        self.client.eio._receive_packet = in_order  # type: ignore[method-assign]
        self.client.connect(url, namespaces=[NS], transports=["websocket"], wait_timeout=10)

    def _take(self, eio_pkt: Any) -> None:
        if not isinstance(eio_pkt.data, str) or not eio_pkt.data.startswith(f"2{NS},"):
            return
        pkt = sio.packet.Packet(encoded_packet=eio_pkt.data)
        if pkt.data[0] in ("snapshot", "entry"):
            self.wire.append((pkt.data[0], pkt.data[1]))

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [payload for name, payload in self.wire if name == "entry"]

    def snapshot(self) -> dict[str, Any] | None:
        return next((payload for name, payload in self.wire if name == "snapshot"), None)

    def check(self, log: list[str]) -> None:
        """What came after the snapshot is in log order and newer than it; with the entries
        that came before it (the console holds those back until it has the snapshot), it is
        every entry of ``log`` after the snapshot, each naming the one before it."""
        names = [name for name, _ in self.wire]
        assert names.count("snapshot") == 1
        at = names.index("snapshot")
        snapshot = self.wire[at][1]
        after = [payload["id"] for _, payload in self.wire[at + 1:]]
        assert all(_pos(i) > _pos(snapshot["last_id"]) for i in after), (
            f"entries the snapshot at {snapshot['last_id']} holds came after it: "
            f"{[i for i in after if _pos(i) <= _pos(snapshot['last_id'])]}")
        assert after == sorted(after, key=_pos) and len(set(after)) == len(after)
        held = [payload for _, payload in self.wire[:at]
                if _pos(payload["id"]) > _pos(snapshot["last_id"])]
        applied = held + [payload for _, payload in self.wire[at + 1:]]
        expected = log[log.index(snapshot["last_id"]) + 1:] if snapshot["last_id"] in log \
            else log
        assert [e["id"] for e in applied] == expected
        assert [e["prev"] for e in applied] == [snapshot["last_id"], *expected[:-1]]


def _pos(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


def _ingest_at_rate(store: Store, stop: threading.Event, per_minute: int) -> int:
    """Posts in small batches at ``per_minute``; returns how many."""
    batch, count = 5, 0
    interval = 60.0 / per_minute * batch
    next_at = time.monotonic()
    while not stop.is_set():
        posts = [Post("x", str(next(_native)), f"Question {n} about the budget?", f"Viewer {n}",
                      f"v{n}") for n in range(count, count + batch)]
        store.ingest("x", [(normalise(p), {"id": p.native_id}) for p in posts])
        count += batch
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    return count


def _moderate(console: WireConsole, stop: threading.Event, seed: int) -> int:
    """Approve, star and reject what came in, as a moderator would; returns the acts answered."""
    rng = random.Random(seed)
    acted = 0
    while not stop.is_set():
        fresh = [q for e in console.entries[-50:] for q in e.get("qs", [])
                 if q.get("state") == "new"]
        if not fresh:
            time.sleep(0.02)
            continue
        q = rng.choice(fresh)
        action, params = rng.choice([("approve", {}), ("star", {}),
                                     ("reject", {"reason": "off topic"})])
        console.client.call("act", {"action": action, "qid": q["id"],
                                    "version": q["version"], "params": params},
                            namespace=NS, timeout=10)
        acted += 1
    return acted


def _post(store: Store, text: str) -> str:
    native = str(next(_native))
    post = Post("x", native, text, "Viewer", f"v{native}")
    (qid,) = store.ingest("x", [(normalise(post), {"id": native})])
    return qid


def test_a_console_opened_while_the_tail_is_behind_gets_nothing_older_than_its_snapshot(
        app: Flask, live_server: str, store: Store) -> None:
    first = WireConsole(live_server)  # the tail runs from here on
    consoles = [first]
    try:
        wait_until(first.snapshot)
        # The tail is held up on one entry (as a burst and a hundred screens hold it up), while
        # the entries after it are already in the log.
        held, go_on = threading.Event(), threading.Event()

        def busy(server: Any, entry: LogEntry) -> None:
            if not held.is_set():
                held.set()
                go_on.wait(10)

        app.extensions["floor"].feed.on_entry(busy)
        _post(store, "Which entry holds the tail up?")
        wait_until(held.is_set)
        for n in range(3):
            _post(store, f"Question {n} written while the tail is busy?")
        late = WireConsole(live_server)
        consoles.append(late)
        wait_until(late.snapshot)
        go_on.set()
        last = _post(store, "And the next one?")
        wait_until(lambda: all(c.entries and c.entries[-1]["qs"][0]["id"] == last
                               for c in consoles))
    finally:
        go_on.set()
        for console in consoles:
            drop_client(console.client)
    log = [e.id for e in store.log_after()]
    for console in consoles:
        console.check(log)
    assert len(late.entries) == 1  # only the entry after its snapshot


@pytest.mark.slow
def test_every_console_gets_the_log_in_order_and_whole(live_server: str, store: Store) -> None:
    token = ScreenLinks(store.conn, store.keys.event).create("load")[0]
    screens = []
    consoles: list[WireConsole] = []
    try:
        for _ in range(SCREENS):
            screen = sio.Client(reconnection=False)
            screen.connect(live_server, namespaces=["/screen"], transports=["websocket"],
                           auth={"token": token}, wait_timeout=10)
            screens.append(screen)
        moderators = [WireConsole(live_server) for _ in range(MODERATORS)]
        consoles += moderators
        wait_until(lambda: all(c.snapshot() for c in moderators))
        stop = threading.Event()
        results: dict[str, int] = {}

        def run(name: str, work: Any) -> None:
            results[name] = work()

        # In CI, four times the rate for a few seconds: the same pressure on the tail, sooner.
        rate = POSTS_PER_MINUTE * (1 if FULL else 4)
        workers = [threading.Thread(target=run, args=("posts", lambda: _ingest_at_rate(
            store, stop, rate)))]
        workers += [threading.Thread(target=run, args=(f"m{i}", lambda c=c, i=i: _moderate(
            c, stop, i))) for i, c in enumerate(moderators)]
        for worker in workers:
            worker.start()
        # Consoles opened under load: their snapshots are read while the tail is busy.
        for _ in range(LATE_CONSOLES):
            time.sleep(SECONDS / (LATE_CONSOLES + 1))
            consoles.append(WireConsole(live_server))
        time.sleep(SECONDS / (LATE_CONSOLES + 1))
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        last = store.last_log_id()
        wait_until(lambda: all(c.entries and c.entries[-1]["id"] == last for c in consoles),
                   timeout=30)
    finally:
        for console in consoles:
            drop_client(console.client)
        for screen in screens:
            drop_client(screen)
    assert results["posts"] > 0 and all(results[f"m{i}"] > 0 for i in range(MODERATORS))
    log = [e.id for e in store.log_after()]
    for console in consoles:
        console.check(log)
