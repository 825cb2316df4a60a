"""A stop with hundreds of clients connected: the web worker ends by itself (issue 26: after a
990-screen run the worker hung in Engine.IO's disconnect, waiting on polling clients that were
gone, deaf to SIGTERM, and outlived its arbiter)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import redis
import requests
import simple_websocket

from tests.waiting import wait_until
from web.screen_links import ScreenLinks

FLOOR = [sys.executable, "-m", "cli"]
WEBSOCKETS = 100
POLLING = 100


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_a_node_with_hundreds_of_sockets_stops_within_seconds(
        floor_env: dict[str, str], conn: redis.Redis, event: str, tmp_path: Path) -> None:
    token = ScreenLinks(conn, event).create("stop test")[0]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([*FLOOR, "web", "--port", str(port), "--threads", "500"],
                               env=floor_env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    websockets: list[simple_websocket.Client] = []
    children: list[psutil.Process] = []
    try:
        wait_until(lambda: requests.get(f"{base}/login", timeout=5).status_code == 200, 60,
                   what="floor web to answer", ignore=(requests.RequestException,))
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) == 1, "gunicorn's one worker"
        hello = "40/screen," + json.dumps({"token": token})
        http = requests.Session()
        for _ in range(POLLING):  # screens that connect by polling, then go away unannounced
            opened = http.get(f"{base}/socket.io/?EIO=4&transport=polling", timeout=10).text
            sid = json.loads(opened[1:])["sid"]
            http.post(f"{base}/socket.io/?EIO=4&transport=polling&sid={sid}", data=hello,
                      timeout=10).raise_for_status()
        for _ in range(WEBSOCKETS):
            ws = simple_websocket.Client.connect(
                f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
            websockets.append(ws)
            ws.receive(timeout=10)  # Engine.IO's open packet
            ws.send(hello)
        for ws in websockets:  # every screen is in: its namespace answered
            while not str(ws.receive(timeout=10)).startswith("40/screen"):
                pass
        # The worker is told to stop and its arbiter dies at once (as when a bench's stop gave
        # up waiting): nothing will kill the worker, it must end by itself.
        (worker,) = children
        worker.send_signal(signal.SIGTERM)
        process.kill()
        process.wait()
        wait_until(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE,
                   30, what="the orphaned worker to end by itself", ignore=(psutil.NoSuchProcess,))
    finally:
        for ws in websockets:
            try:
                ws.close()
            except simple_websocket.ConnectionClosed:
                pass  # the server hung up, as it should
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.wait()
        for child in children:
            if child.is_running():
                child.kill()
