"""The Procfile, run as a Procfile host runs it (honcho): the settings decide what works, and a
process with nothing to do waits instead of stopping everything."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis
import requests
import socketio

from aggregator.base.keys import Keys
from aggregator.base.platforms import OPTIONS
from aggregator.core.store import Store
from tests.moderators import MODERATOR
from tests.waiting import wait_until
from web.accounts import Accounts

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_the_procfile_under_honcho_runs_the_meeting_and_idles_what_is_off(
        floor_env: dict[str, str], conn: redis.Redis, event: str) -> None:
    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text(config.read_text() + "[sources.rehearsal]\nenabled = true\nspeed = 600\n"
                      "interval = 0.2\n[triage]\nenabled = false\n", encoding="utf-8")
    Accounts(conn, event).add(*MODERATOR)
    port = _free_port()
    env = {**floor_env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as output:
        honcho = subprocess.Popen([sys.executable, "-m", "honcho", "-f", str(REPO / "Procfile"),
                                   "start", "--no-colour", "-p", str(port)], env=env, cwd=REPO,
                                  stdout=output, stderr=subprocess.STDOUT, text=True)
        try:
            # Ready: the web app tails the log, the rehearsal's poller and the ledger writer
            # beat; the disabled sources and triage are not waited for.
            def ready() -> bool:
                assert honcho.poll() is None, "honcho stopped: one of the processes exited"
                return requests.get(f"{base}/readyz", timeout=5).status_code == 200

            wait_until(ready, 60, what="the Procfile's processes to be ready",
                       ignore=(requests.RequestException,))
            keys = Keys(event)
            qid = wait_until(lambda: conn.zrange(keys.questions, 0, 0), 20,
                             what="a rehearsal question")[0]

            http = requests.Session()
            page = http.get(f"{base}/login", timeout=10)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
            assert token, page.text
            http.post(f"{base}/login", timeout=10, data={
                "csrf_token": token[1], "username": MODERATOR[0], "password": MODERATOR[1]})
            console = socketio.Client(http_session=http, reconnection=False)
            entries: list[dict[str, object]] = []
            console.on("entry", entries.append, namespace="/console")
            console.connect(base, namespaces=["/console"], transports=["websocket"],
                            wait_timeout=10)
            try:
                question = Store(conn, event).question(qid)
                assert question is not None
                reply = console.call("act", {"action": "approve", "qid": qid,
                                             "version": question.version, "params": {}},
                                     namespace="/console", timeout=10)
                assert reply["ok"], reply
                wait_until(lambda: any(e.get("type") == "approve" for e in entries), 10,
                           what="the approval to reach the console through the log")
            finally:
                console.disconnect()
            approval = next(entry_id for entry_id, fields in conn.xrevrange(keys.log, count=50)
                            if fields["type"] == "approve")
            wait_until(lambda: conn.xrange(keys.ledger, approval, approval), 10,
                       what="the ledger writer to chain the approval")
            assert honcho.poll() is None, "honcho stopped: a process exited"
        finally:
            honcho.send_signal(signal.SIGTERM)
            code = honcho.wait(timeout=30)
        output.seek(0)
        said = output.read()
    assert code == 143, said  # honcho's own status after a SIGTERM
    for name in OPTIONS:
        if name != "rehearsal":
            assert f"poller {name}: [sources.{name}] is not enabled; waiting" in said, said
    assert "triage: [triage] enabled = false in the settings; waiting" in said, said
    # Each stopped when asked (honcho reports the status of the shell it ran the line in),
    # within honcho's grace: none was killed.
    stopped = re.findall(r"(\S+)\.1 stopped \(rc=-?\d+\)", said)
    assert sorted(stopped) == sorted(["web", "ledger", "triage",
                                      *(f"poll-{name}" for name in OPTIONS)]), said
    assert "SIGKILL" not in said, said
    assert re.search(r"(?m)^.*stopped \(rc=(?!-15\)).*$", said) is None, said
    assert "Traceback" not in said, said
