"""The `floor` command, run as a user runs it: in subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from aggregator.redis_server import connect

FLOOR = [sys.executable, "-m", "web.cli"]


def floor(*args: str, env: dict[str, str], stdin: str | None = None,
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOOR, *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("command", [[], ["demo"], ["run"], ["web"], ["poll"], ["check"],
                                     ["moderator"], ["moderator", "add"], ["export"],
                                     ["instagram-login"]])
def test_every_command_has_help(command: list[str], floor_env: dict[str, str]) -> None:
    result = floor(*command, "--help", env=floor_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: floor")


def test_a_typo_in_the_settings_names_file_key_and_fix(floor_env: dict[str, str]) -> None:
    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text('[event]\nslug = "apm"\ntitel = "APM"\n[sources.rehearsal]\nsped = 2\n'
                      '[sources.twiter]\nenabled = true\n')
    result = floor("check", env=floor_env)
    assert result.returncode == 1
    assert f"{config}: unknown setting 'event.titel' (did you mean 'title'?)" in result.stderr
    assert f"{config}: unknown setting 'sources.rehearsal.sped' (did you mean 'speed'?)" \
        in result.stderr
    assert "unknown source '[sources.twiter]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_redis_is_one_line_not_a_traceback(floor_env: dict[str, str]) -> None:
    result = floor("moderator", "list", env={**floor_env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot reach Redis at redis://127.0.0.1:1/0")
    assert "Traceback" not in result.stderr


def test_moderators_add_list_remove(floor_env: dict[str, str]) -> None:
    short = floor("moderator", "add", "sam", "--password-stdin", env=floor_env, stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    added = floor("moderator", "add", "sam", "--password-stdin", env=floor_env,
                  stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    assert floor("moderator", "list", env=floor_env).stdout.split() == ["sam"]
    assert floor("moderator", "remove", "sam", env=floor_env).returncode == 0
    gone = floor("moderator", "remove", "sam", env=floor_env)
    assert gone.returncode == 1 and "there is no moderator 'sam'" in gone.stderr


def test_poll_once_then_export_every_question_with_history(floor_env: dict[str, str]) -> None:
    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text(config.read_text() + "[sources.rehearsal]\nenabled = true\nspeed = 0\n")
    unknown = floor("poll", "tiktok", "--once", env=floor_env)
    assert unknown.returncode == 1 and "unknown source 'tiktok'" in unknown.stderr
    polled = floor("poll", "rehearsal", "--once", env=floor_env)
    assert polled.returncode == 0, polled.stderr
    assert polled.stdout.strip() == "rehearsal: stored 200, dead letters 0, skipped 0"
    exported = floor("export", env=floor_env)
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert exported.stderr.strip().endswith("exported 200 questions")
    assert len(lines) == 200
    first = lines[0]
    assert set(first) == {"question", "raw", "history"}
    assert first["history"][0]["type"] == "received"
    assert first["raw"]["platform"] == first["question"]["platform"]


def _banner(process: subprocess.Popen[str]) -> dict[str, str]:
    seen = ""
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen += line
        if "Press Ctrl-C" in line:
            url = re.search(r"Console:\s+(\S+)", seen)
            login = re.search(r"Log in as: (\S+) / (\S+)", seen)
            data = re.search(r"data in (\S+) \(removed", seen)
            assert url and login and data, seen
            return {"url": url[1], "user": login[1], "password": login[2], "data": data[1]}
    raise AssertionError(f"no banner from floor demo:\n{seen}")


@pytest.mark.slow
@pytest.mark.parametrize("ctrl_c", [1, 2], ids=["ctrl-c", "impatient double ctrl-c"])
def test_demo_on_a_fresh_machine_serves_and_stops_cleanly(tmp_path: Path, ctrl_c: int) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOOR_") and k != "REDIS_URL"}
    env["HOME"] = str(tmp_path)  # nothing configured, no Redis: as a new user
    process = subprocess.Popen([*FLOOR, "demo", "--port", "5917", "--speed", "600"], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        banner = _banner(process)
        base = banner["url"].rsplit("/", 1)[0]
        http = requests.Session()
        page = http.get(f"{base}/login", timeout=10)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        assert token, page.text
        login = http.post(f"{base}/login", data={"csrf_token": token[1], "username":
                                                 banner["user"], "password": banner["password"]},
                          timeout=10)
        assert login.status_code == 200 and login.url == banner["url"]
        conn = connect(url="", data_dir=Path(banner["data"]) / "data")
        deadline = time.monotonic() + 30
        while conn.zcard("floor:demo:questions") < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert conn.zcard("floor:demo:questions") >= 20, "the rehearsal feed is not flowing"
        conn.connection_pool.disconnect()
        family = psutil.Process(process.pid).children(recursive=True)
        server = [p for p in psutil.process_iter(["cmdline"])
                  if banner["data"] in " ".join(p.info["cmdline"] or [])
                  and "redis-server" in " ".join(p.info["cmdline"] or [])]
        assert len(family) >= 2
        for _ in range(ctrl_c):
            process.send_signal(signal.SIGINT)
            time.sleep(0.05)
        assert process.wait(timeout=30) == 0
        time.sleep(0.5)
        alive = [p for p in family + server if p.is_running() and
                 p.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], f"orphans: {alive}"
        assert not Path(banner["data"]).exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def _servers_in(folder: Path) -> list[psutil.Process]:
    """redis-server processes whose data folder is ``folder``."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if "redis-server" in (process.info["name"] or "") and \
                    Path(process.cwd()).resolve() == folder.resolve():
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.slow
def test_web_alone_on_the_embedded_redis_stops_it_on_exit(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOOR_") and k != "REDIS_URL"}
    env["FLOOR_DATA_DIR"] = str(tmp_path)
    process = subprocess.Popen([*FLOOR, "web", "--port", "5918"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get("http://127.0.0.1:5918/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert len(_servers_in(tmp_path)) == 1
        http = requests.Session()  # a login attempt: the rate limiter counts it in Redis too
        page = http.get("http://127.0.0.1:5918/login", timeout=5).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token
        attempt = http.post("http://127.0.0.1:5918/login", timeout=5, data={
            "csrf_token": token[1], "username": "nobody", "password": "wrong password"})
        assert attempt.status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        for _ in range(50):
            if not _servers_in(tmp_path):
                break
            time.sleep(0.2)
        assert _servers_in(tmp_path) == [], "the embedded Redis outlived its last user"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for orphan in _servers_in(tmp_path):
            orphan.kill()
