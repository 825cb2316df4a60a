"""Two `floor web` nodes behind Debian's nginx (sticky by client address, WebSockets proxied).

The test starts its own nginx (own prefix, config and free port in a temporary folder, in the
foreground), never the system's. A moderator's console and two board screens (one on
WebSocket, one on long-polling) connect through nginx; the node serving them is killed
mid-meeting; they must come back through nginx on the other node and converge with every
acknowledged action.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from tests import nginx_proxy
from tests.moderators import MODERATOR
from tests.redis_nodes import free_port, wait_for
from web.accounts import Accounts
from web.screen import screen_id
from web.screen_links import ScreenLinks

# One at a time on one pytest-xdist worker (docs/testing.md, "In parallel"): nodes killed
# and timed, and a cache measured in requests a second.
# A node killed mid-request leaves its clients' sockets (python-engineio's polling session) to
# the garbage collector: an unclosed-socket warning, whenever collection happens, is not this
# module's failure. Collected here after each test, so none reaches a later one.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("servers"), pytest.mark.skipif(
    nginx_proxy.NGINX is None, reason="needs Debian's nginx (.ci/run installs it)"),
    pytest.mark.filterwarnings("ignore::ResourceWarning")]


@pytest.fixture(autouse=True)
def _collect_abandoned_sockets() -> Iterator[None]:
    yield
    gc.collect()


class Node:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "web", "--port", str(port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def clients(self) -> float:
        """Its connected screens and consoles, from its own /metrics (this machine: allowed)."""
        text = requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        return sum(float(m[1]) for m in re.finditer(
            r'^floor_clients_connected\{namespace="[^"]+"\} (\S+)$', text, re.M))

    def crash(self) -> None:
        """The machine goes: `floor web` and its server's worker, at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def cluster_of_two(floor_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, list[Node]]]:
    ports = [free_port(), free_port()]
    listen = free_port()
    nodes = [Node(floor_env, port) for port in ports]
    proxy = nginx_proxy.start(tmp_path / "nginx", listen, ports)
    try:
        for node in nodes:
            wait_for(lambda n=node: requests.get(f"http://127.0.0.1:{n.port}/login",
                                                 timeout=2).ok, what="a web node")
        wait_for(lambda: requests.get(f"http://127.0.0.1:{listen}/login", timeout=2).ok,
                 what="nginx")
        yield f"http://127.0.0.1:{listen}", nodes
    finally:
        for node in nodes:
            node.stop()
        nginx_proxy.stop(proxy)


def _log_in(base: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    data = {"username": MODERATOR[0], "password": MODERATOR[1]}
    if token:
        data["csrf_token"] = token[1]
    assert http.post(f"{base}/login", data=data, timeout=10).ok
    return http


def test_a_node_dies_mid_meeting_and_its_clients_carry_on_on_the_other(
        cluster_of_two: tuple[str, list[Node]], store: Store, event: str) -> None:
    base, nodes = cluster_of_two
    Accounts(store.conn, event).add(*MODERATOR)
    token = ScreenLinks(store.conn, event).create("board")[0]
    qids = store.ingest("web", [(normalise(Post("web", f"n{i}", f"Question {i} for the "
                                                 "board?")), {}) for i in range(4)])
    boards: dict[str, list[Any]] = {"websocket": [], "polling": []}
    screens = []
    for transport, seen in boards.items():
        screen = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=1)
        screen.on("board", seen.append, namespace="/screen")
        screen.connect(base, namespaces=["/screen"], transports=[transport],
                       auth={"token": token}, wait_timeout=10)
        screens.append(screen)
    snapshots: list[dict[str, Any]] = []
    console = socketio.Client(http_session=_log_in(base), reconnection_delay=0.2,
                              reconnection_delay_max=1)
    console.on("snapshot", snapshots.append, namespace="/console")
    console.connect(base, namespaces=["/console"], transports=["websocket"], wait_timeout=10)
    lock = threading.Lock()

    def act(action: str, qid: str) -> None:
        """An action through the console, retried until the server acknowledges it."""
        def answered() -> bool:
            with lock:
                question = store.question(qid)
                assert question is not None
                try:
                    reply = console.call("act", {"action": action, "qid": qid, "version":
                                                 question.version, "params": {}},
                                         namespace="/console", timeout=5)
                except socketio.exceptions.SocketIOError:
                    return False  # not connected (yet again), or the node died meanwhile
                return bool(reply and reply.get("ok"))
        wait_for(answered, timeout=20, what=f"{action} {qid} acknowledged")

    def on_screen(qid: str) -> bool:
        return all(seen and (seen[-1].get("current") or {}).get("id") == screen_id(qid)
                   for seen in boards.values())

    try:
        act("approve", qids[0])
        act("screen", qids[0])
        wait_for(lambda: on_screen(qids[0]), what="both screens showing the first question")
        serving = [node for node in nodes if node.clients() > 0]
        assert len(serving) == 1, "ip_hash keeps one address's clients on one node"
        serving[0].crash()  # mid-meeting, no goodbye

        act("answer", qids[0])  # the first acknowledged action after the loss
        act("approve", qids[1])
        act("screen", qids[1])
        wait_for(lambda: on_screen(qids[1]), timeout=20,
                 what="both screens, reconnected, showing the question screened after")
        other = next(node for node in nodes if node is not serving[0])
        assert other.clients() == 3  # two screens and the console, now all on the other node
        wait_for(lambda: len(snapshots) >= 2, what="the console's fresh snapshot")
        states = {q["id"]: q["state"] for q in store.snapshot().to_dict()["questions"]}
        assert (states[qids[0]], states[qids[1]]) == ("answered", "on_screen")
        act("answer", qids[1])  # and the console keeps working there
        final = store.question(qids[1])
        assert final is not None and final.state == "answered"
    finally:
        for client in [*screens, console]:
            client.disconnect()


def test_a_proxy_without_websockets_still_serves_long_polling(
        floor_env: dict[str, str], tmp_path: Path, store: Store, event: str) -> None:
    """A proxy that drops the Upgrade header: long-polling still works through it."""
    port, listen = free_port(), free_port()
    node = Node(floor_env, port)
    proxy = nginx_proxy.start(tmp_path / "nginx", listen, [port], websockets=False)
    token = ScreenLinks(store.conn, event).create("board")[0]
    screen = socketio.Client(reconnection=False)
    boards: list[Any] = []
    screen.on("board", boards.append, namespace="/screen")
    try:
        wait_for(lambda: requests.get(f"http://127.0.0.1:{listen}/login", timeout=2).ok,
                 what="nginx and the node")
        screen.connect(f"http://127.0.0.1:{listen}", namespaces=["/screen"],
                       auth={"token": token}, wait_timeout=10)  # polling, then upgrade tried
        wait_for(lambda: boards, what="a board over long-polling")
        assert screen.transport() == "polling"
    finally:
        screen.disconnect()
        node.stop()
        nginx_proxy.stop(proxy)


def test_a_web_worker_whose_parent_dies_ends_with_it(floor_env: dict[str, str],
                                                      store: Store, event: str) -> None:
    """`floor web` killed alone (kill -9 of the PID a supervisor knows): its server's worker,
    holding the WebSockets, hangs up and ends too, so the clients go to a live node."""
    import psutil

    port = free_port()
    node = Node(floor_env, port)
    token = ScreenLinks(store.conn, event).create("board")[0]
    lost = threading.Event()
    screen = socketio.Client(reconnection=False)
    screen.on("disconnect", lambda *reason: lost.set(), namespace="/screen")
    try:
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/login", timeout=2).ok,
                 what="the node")
        screen.connect(f"http://127.0.0.1:{port}", namespaces=["/screen"],
                       transports=["websocket"], auth={"token": token}, wait_timeout=10)
        (worker,) = psutil.Process(node.process.pid).children()
        node.process.kill()
        node.process.wait()
        assert lost.wait(15), "the orphaned worker kept its WebSocket open"
        worker.wait(15)
    finally:
        screen.disconnect()
        node.crash() if node.process.poll() is None else None
        for orphan in psutil.Process().children(recursive=True):
            if "-m cli " in " ".join(orphan.cmdline()) + " ":
                orphan.kill()


def test_the_live_page_is_micro_cached(floor_env: dict[str, str], tmp_path: Path, store: Store,
                                       event: str) -> None:
    """/record through nginx's micro-cache (docs/deployment.md): a crowd of conditional GETs
    reaches the node about once a second, every viewer holding the current page gets a 304, and
    a change still shows through the cache within the page's bound."""
    from concurrent.futures import ThreadPoolExecutor

    from aggregator.core.moderation import Moderation

    qids = store.ingest("x", [(normalise(Post("x", f"c{i}", f"Cached question {i}?", "A", "a")),
                               {}) for i in range(3)])
    port, listen = free_port(), free_port()
    node = Node(floor_env, port)
    proxy = nginx_proxy.start(tmp_path / "nginx", listen, [port])
    url = f"http://127.0.0.1:{listen}/record"
    try:
        wait_for(lambda: requests.get(url, timeout=2).ok, what="nginx and the node")
        first = requests.get(url, timeout=5)
        etag = first.headers["ETag"]

        def viewer(_: int) -> tuple[int, str, str]:
            with requests.Session() as http:
                got = http.get(url, headers={"If-None-Match": etag}, timeout=5)
                return got.status_code, got.headers.get("X-Cache", ""), got.headers["ETag"]

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(viewer, range(400)))
        seconds = time.monotonic() - started
        assert {status for status, _, tag in answers if tag == etag} == {304}
        through = [cache for _, cache, _ in answers if cache != "HIT"]
        assert len(answers) - len(through) > 0.8 * len(answers)
        assert len(through) <= seconds + 2, f"{len(through)} reached the node in {seconds:.1f} s"

        Moderation(store.conn, event).apply("approve", qids[0], 1, "sam")
        Moderation(store.conn, event).apply("screen", qids[0], 2, "sam", then="answered")
        changed = time.monotonic()
        wait_for(lambda: "Cached question 0?" in requests.get(url, timeout=5).text.split(
            'id="now-h"')[1].split("</section>")[0], what="the change through the cache")
        # The node redraws within 1 s, nginx's copy lasts 1 s: the viewer's reload is the rest.
        assert time.monotonic() - changed < 3.0
    finally:
        node.stop()
        nginx_proxy.stop(proxy)
