"""Floor behind Redis Sentinel: a real primary, a replica and three Sentinels on loopback.

The primary is killed (SIGKILL) mid-meeting while a poller, a web process and a moderator are
at work; every Floor process reaches the primary through REDIS_URL=redis+sentinel://...
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
import socketio

from aggregator.base.keys import Keys
from aggregator.base.redis_server import connect, replicated
from aggregator.core.moderation import Moderation, Refused
from aggregator.core.store import Store
from tests.moderators import MODERATOR
from tests.redis_nodes import (
    Node,
    free_port,
    needs_redis_server,
    nodes,
    sentinel_conf,
    server_args,
    wait_for,
)
from web.accounts import Accounts
from web.screen import screen_id
from web.screen_links import ScreenLinks

# One at a time on one pytest-xdist worker (docs/testing.md, "In parallel"): a failover
# on a timer, and its own redis-servers.
pytestmark = [needs_redis_server, pytest.mark.slow, pytest.mark.xdist_group("servers")]
SERVICE = "floor"


class Deployment:
    def __init__(self, primary: Node, replica: Node, sentinels: list[Node]) -> None:
        self.primary, self.replica, self.sentinels = primary, replica, sentinels
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in sentinels)
        self.url = f"redis+sentinel://{hosts}/{SERVICE}"


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with nodes() as started:
        first = free_port()
        primary = Node(tmp_path / "primary", first, server_args(first))
        started.append(primary)
        second = free_port()
        replica = Node(tmp_path / "replica", second,
                       server_args(second, "--replicaof", "127.0.0.1", str(first)))
        started.append(replica)
        wait_for(lambda: replica.client.info("replication")["master_link_status"] == "up",
                 what="the replica to sync")
        sentinels = []
        for index in range(3):
            port = free_port()
            conf = sentinel_conf(tmp_path / f"s{index}", port, SERVICE, first)
            sentinels.append(Node(conf.parent, port, [str(conf), "--sentinel"]))
            started.append(sentinels[-1])
        for sentinel in sentinels:
            wait_for(lambda s=sentinel: len(s.client.sentinel_sentinels(SERVICE)) == 2
                     and len(s.client.sentinel_slaves(SERVICE)) == 1,
                     what="the Sentinels to know each other and the replica")
        yield Deployment(primary, replica, sentinels)


def _floor(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cli", *args], env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _log_in(base: str, http: requests.Session) -> None:
    page = http.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    data = {"username": MODERATOR[0], "password": MODERATOR[1]}
    if token:
        data["csrf_token"] = token[1]
    assert http.post(f"{base}/login", data=data, timeout=10).ok


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.stderr is not None
    out = process.stderr.read()
    process.stderr.close()
    return out


def test_the_primary_dies_mid_meeting(deployment: Deployment, tmp_path: Path) -> None:
    event = "t-sentinel-" + uuid.uuid4().hex[:8]
    config = tmp_path / "event.toml"
    config.write_text(f'[event]\nslug = "{event}"\n\n[sources.rehearsal]\nenabled = true\n'
                      f"speed = 100\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOOR_")}
    env.update(REDIS_URL=deployment.url, FLOOR_CONFIG=str(config), FLOOR_SECRET_KEY="test",
               FLOOR_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    conn = connect(deployment.url)
    store, mod = Store(conn, event), Moderation(conn, event)
    token = ScreenLinks(conn, event).create("board")[0]
    Accounts(conn, event).add(*MODERATOR)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = _floor(env, "web", "--port", str(port))
    poller = _floor(env, "poll", "rehearsal")
    on_screen: list[str] = []  # the question on screen in every board the screen got
    screen = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=1)
    screen.on("board", lambda board: on_screen.append((board.get("current") or {}).get("id")),
              namespace="/screen")
    acked: list[tuple[float, str]] = []  # (when, question) of every approval Redis confirmed
    errors: list[str] = []
    done = threading.Event()

    def moderate() -> None:
        """A moderator approving each new question as it comes, through the failover."""
        while not done.is_set():
            try:
                taken = {qid for _, qid in acked}
                for qid in store.question_ids():
                    question = store.question(qid)
                    if qid in taken or question is None or question.state != "new":
                        continue
                    try:
                        mod.apply("approve", qid, question.version, "ana")
                    except Refused:
                        continue  # approved by our own retried call, unacknowledged: not counted
                    acked.append((time.monotonic(), qid))
            except redis.RedisError as exc:
                errors.append(type(exc).__name__)
            time.sleep(0.05)

    entries: list[tuple[str, str]] = []  # (type, question) of every entry the console got
    http = requests.Session()  # the console's, logged in once the web app is up
    console = socketio.Client(http_session=http, reconnection_delay=0.2,
                              reconnection_delay_max=1)
    console.on("entry", lambda entry: entries.append((entry.get("type"), entry.get("qid"))),
               namespace="/console")
    moderator = threading.Thread(target=moderate, daemon=True)
    try:
        wait_for(lambda: requests.get(f"{base}/login", timeout=2).status_code == 200,
                 what="the web app")
        screen.connect(base, namespaces=["/screen"], transports=["websocket"],
                       auth={"token": token}, wait_timeout=10)
        _log_in(base, http)
        console.connect(base, namespaces=["/console"], transports=["websocket"],
                        wait_timeout=10)
        moderator.start()
        wait_for(lambda: len(acked) >= 5, what="a meeting under way")

        killed = time.monotonic()
        deployment.primary.kill()
        # Sentinel's own failover (its down-after and election) takes seconds more when the
        # machine is busy: the bound is generous, the condition is the same.
        wait_for(lambda: any(when > killed for when, _ in acked), timeout=20,
                 what="an action acknowledged after the failover")
        first_after = min(when for when, _ in acked if when > killed)
        stored = conn.zcard(store.keys.questions)
        wait_for(lambda: conn.zcard(store.keys.questions) > stored, timeout=10,
                 what="the poller storing again")
        wait_for(lambda: requests.get(f"{base}/login", timeout=2).status_code == 200,
                 timeout=10, what="the web app answering")
        done.set()
        moderator.join(timeout=10)
        shown = acked[-1][1]
        question = store.question(shown)
        assert question is not None
        mod.apply("screen", shown, question.version, "ana")
        wait_for(lambda: on_screen and on_screen[-1] == screen_id(shown), timeout=10,
                 what="the board screen showing the question put on screen after the failover")
        wait_for(lambda: ("screen", shown) in entries, timeout=10,
                 what="the console told of it too")

        new_primary = deployment.replica.client.info("replication")
        assert new_primary["role"] == "master"
        lost = [qid for _, qid in acked
                if (q := store.question(qid)) is None or q.state == "new"]
        assert lost == [], f"acknowledged approvals lost in the failover: {lost}"
        print(f"\nfailover: first acknowledged action {first_after - killed:.2f} s after the "
              f"kill; {len(acked)} approvals acknowledged, none lost; errors meanwhile: "
              f"{len(errors)}")
    finally:
        done.set()
        screen.disconnect()
        console.disconnect()
        http.close()
        poller_log = _stop(poller)
        web_log = _stop(web)
        conn.close()
    assert web.returncode == 0 and poller.returncode == 0, web_log + poller_log
    assert "Traceback" not in web_log + poller_log, web_log + poller_log


def test_sentinels_that_name_no_primary_are_waited_for_with_a_reason(
        deployment: Deployment, tmp_path: Path) -> None:
    wrong = deployment.url.replace(f"/{SERVICE}", "/flor")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOOR_")}
    env.update(REDIS_URL=wrong, PYTHONUNBUFFERED="1", FLOOR_DATA_DIR=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-m", "cli", "moderator", "list"], env=env,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: sum("retrying" in line for line in seen) >= 2, timeout=20,
                 what="two attempts")
        assert process.poll() is None, "it gave up instead of waiting for a primary"
        assert "monitor no service 'flor' (they monitor: floor)" in seen[0], seen
        assert "Traceback" not in "".join(seen)
    finally:
        process.kill()
        process.wait()
        reader.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


def test_an_action_waits_for_the_replica_and_says_when_none_confirms(
        deployment: Deployment, caplog: pytest.LogCaptureFixture) -> None:
    conn = connect(deployment.url)
    key = Keys("t-wait").prefix + "x"
    try:
        conn.set(key, "1")
        assert replicated(conn)
        assert deployment.replica.client.get(key) == "1"
        deployment.replica.kill()
        conn.set(key, "2")
        assert not replicated(conn)
        assert "no replica confirmed an action" in caplog.text
        conn.delete(key)
    finally:
        conn.close()
