"""The `floor` command, run as a user runs it: in subprocesses."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
import socketio

from aggregator.base.keys import Keys
from aggregator.base.redis_server import connect
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from cli.supervisor import EX_CONFIG, Supervisor, restart_delay
from tests.waiting import wait_until

FLOOR = [sys.executable, "-m", "cli"]


def floor(*args: str, env: dict[str, str], stdin: str | None = None,
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOOR, *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("command", [[], ["demo"], ["run"], ["web"], ["poll"], ["check"], ["init"],
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
    assert unknown.returncode == EX_CONFIG and "unknown source 'tiktok'" in unknown.stderr
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


def test_export_counts_in_words(floor_env: dict[str, str], store: Store) -> None:
    assert floor("export", env=floor_env).stderr.splitlines()[-1] == "exported 0 questions"
    store.ingest("web", [(normalise(Post("web", "one", "Only one question?")), {})])
    assert floor("export", env=floor_env).stderr.splitlines()[-1] == "exported 1 question"


def _free_port() -> int:
    """A port that was free a moment ago (the kernel's pick, not a fixed one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
            board = re.search(r"Board:\s+(\S+)", seen)
            overlay = re.search(r"Overlay:\s+(\S+)", seen)
            chair = re.search(r"Chair:\s+(\S+)", seen)
            data = re.search(r"data in (\S+) \(removed", seen)
            assert url and login and board and overlay and chair and data, seen
            return {"url": url[1], "user": login[1], "password": login[2], "board": board[1],
                    "overlay": overlay[1], "chair": chair[1], "data": data[1]}
    raise AssertionError(f"no banner from floor demo:\n{seen}")


@pytest.mark.slow
@pytest.mark.parametrize("ctrl_c", [1, 2], ids=["ctrl-c", "impatient double ctrl-c"])
def test_demo_on_a_fresh_machine_serves_and_stops_cleanly(tmp_path: Path, ctrl_c: int) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOOR_") and k != "REDIS_URL"}
    env["HOME"] = str(tmp_path)  # nothing configured, no Redis: as a new user
    process = subprocess.Popen([*FLOOR, "demo", "--port", str(_free_port()), "--speed", "600"],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        banner = _banner(process)
        base = banner["url"].rsplit("/", 1)[0]
        for kind in ("board", "overlay", "chair"):  # the links work in the demo's own event
            assert banner[kind].startswith(base), banner
            assert requests.get(banner[kind], timeout=10).status_code == 200, kind
        http = requests.Session()
        page = http.get(f"{base}/login", timeout=10)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        assert token, page.text
        login = http.post(f"{base}/login", data={"csrf_token": token[1], "username":
                                                 banner["user"], "password": banner["password"]},
                          timeout=10)
        assert login.status_code == 200 and login.url == banner["url"]
        console = socketio.Client(http_session=http, reconnection=False)
        console.connect(base, namespaces=["/console"], transports=["websocket"],
                        wait_timeout=30)  # the web process now tails the log for it
        board = socketio.Client(reconnection=False)  # and checks the board's link every second
        board.connect(base, namespaces=["/screen"], transports=["websocket"], wait_timeout=30,
                      auth={"token": banner["board"].rsplit("/", 1)[1]})
        conn = connect(url="", data_dir=Path(banner["data"]) / "data")
        deadline = time.monotonic() + 30
        while conn.zcard(Keys("demo").questions) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert conn.zcard(Keys("demo").questions) >= 20, "the rehearsal feed is not flowing"
        conn.connection_pool.disconnect()
        family = psutil.Process(process.pid).children(recursive=True)
        server = [p for p in psutil.process_iter(["cmdline"])
                  if banner["data"] in " ".join(p.info["cmdline"] or [])
                  and "redis-server" in " ".join(p.info["cmdline"] or [])]
        assert len(family) >= 2
        console.disconnect()
        board.disconnect()
        for _ in range(ctrl_c):
            process.send_signal(signal.SIGINT)
            time.sleep(0.05)
        assert process.wait(timeout=30) == 0
        assert process.stdout is not None
        after = process.stdout.read()
        # The banner stays on screen: no line per poll; and a normal stop warns of nothing.
        assert "poller rehearsal: stored" not in after, after
        assert "cannot read the log" not in after and "Traceback" not in after, after
        if ctrl_c == 1:
            assert "WARNING" not in after and "ERROR" not in after, after
        _, alive = psutil.wait_procs(family + server, timeout=10)
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
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
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([*FLOOR, "web", "--port", str(port)], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Refused while it starts; a first answer slower than the request's timeout (a loaded
        # machine: it took over 2 s beside another test process) is not yet, not a failure.
        wait_until(lambda: requests.get(f"{base}/login", timeout=5).status_code == 200, 60,
                   what="floor web to answer", ignore=(requests.RequestException,))
        assert len(_servers_in(tmp_path)) == 1
        http = requests.Session()  # a login attempt: the rate limiter counts it in Redis too
        page = http.get(f"{base}/login", timeout=5).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token
        attempt = http.post(f"{base}/login", timeout=5, data={
            "csrf_token": token[1], "username": "nobody", "password": "wrong password"})
        assert attempt.status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        wait_until(lambda: not _servers_in(tmp_path), 10,
                   what="the embedded Redis to end with its last user")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for orphan in _servers_in(tmp_path):
            orphan.kill()


# -- failing honestly --------------------------------------------------------------------------

@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on (the kernel picks it: no fixed ports)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("command", ["run", "web"])
def test_a_port_in_use_is_one_line_at_once(command: str, taken_port: int,
                                           floor_env: dict[str, str]) -> None:
    result = floor(command, "--port", str(taken_port), env=floor_env)
    assert result.returncode == EX_CONFIG, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{taken_port}: Address already in use; stop what "
        "uses it, or choose another port with --port"]
    assert "serving" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["run", "web", "demo"])
def test_an_impossible_port_is_refused(command: str, floor_env: dict[str, str]) -> None:
    result = floor(command, "--port", "99999", env=floor_env)
    assert result.returncode == 2
    assert "Error: Invalid value for '--port': 99999 is not in the range 1<=x<=65535." \
        in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["a-file/data", "a-file"])
def test_an_unusable_data_dir_is_one_line(where: str, floor_env: dict[str, str],
                                          tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env = {k: v for k, v in floor_env.items() if k != "REDIS_URL"}
    result = floor("--data-dir", str(tmp_path / where), "moderator", "list", env=env)
    # A file named as the folder is click's usage error (2); a folder under a file, ours (78).
    assert result.returncode == (2 if where == "a-file" else EX_CONFIG), result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(tmp_path / "a-file") in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def _crasher(code: int) -> list[str]:
    return [sys.executable, "-c", f"raise SystemExit({code})"]


def test_a_child_that_keeps_dying_is_restarted_ever_more_slowly(
        caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor({"crasher": _crasher(3)}, first_delay=0.05, max_delay=0.4)
    supervisor.start("crasher")
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    with caplog.at_level(logging.ERROR, logger="floor.run"):
        watcher.start()
        deadline = time.monotonic() + 60
        while len(caplog.records) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        supervisor.stopping.set()
        watcher.join(timeout=30)
    delays = [float(re.search(r"restarting in ([\d.]+)s", r.getMessage())[1])  # type: ignore
              for r in caplog.records[:6]]
    assert delays == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
    assert "FAILING" in caplog.records[1].getMessage()
    assert "3 times in a row" in caplog.records[2].getMessage()


def test_restart_delays_double_up_to_a_minute() -> None:
    assert [restart_delay(n) for n in range(1, 9)] == [2, 4, 8, 16, 32, 60, 60, 60]


def test_a_child_that_cannot_run_as_configured_stops_everything() -> None:
    supervisor = Supervisor({"bad": _crasher(EX_CONFIG),
                             "good": [sys.executable, "-c", "import time; time.sleep(120)"]})
    supervisor.start("bad")
    supervisor.start("good")
    returned: list[int] = []
    watcher = threading.Thread(target=lambda: returned.append(supervisor.watch()), daemon=True)
    watcher.start()
    watcher.join(timeout=60)
    if watcher.is_alive():  # it restarts instead: stop it, then fail
        supervisor.stopping.set()
        watcher.join(timeout=30)
    assert returned == [EX_CONFIG]
    assert supervisor.children["good"].poll() is not None, "the others were not stopped"


def test_floor_run_stops_when_its_web_app_cannot_start(floor_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    """The port is free when checked but the web process still fails at start (here: its
    settings file is made unreadable to it): one error, no restart loop."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\ncase " $* " in *" web "*) export FLOOR_CONFIG='
                       f'{tmp_path}/missing.toml;; esac\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([str(wrapper), "-c", "import sys; sys.executable = sys.argv[1]; "
                             "from cli import main; sys.exit(main(sys.argv[2:]))",
                             str(wrapper), "run", "--port", str(port)],
                            env=floor_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == EX_CONFIG, result.stderr
    assert "the web app did not start" in result.stderr
    assert "restarting" not in result.stderr


# -- what each command imports ------------------------------------------------------------------

WEB_STACK = ("flask", "flask_socketio", "werkzeug", "socketio", "engineio", "flask_limiter")


def _modules_after(argv: list[str], env: dict[str, str]) -> set[str]:
    script = ("import json, sys\nfrom cli import main\ncode = main(sys.argv[1:])\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
              "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", script, *argv], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_floor_poll_imports_no_web_stack(floor_env: dict[str, str]) -> None:
    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text(config.read_text() + "[sources.rehearsal]\nenabled = true\nspeed = 0\n")
    loaded = _modules_after(["poll", "rehearsal", "--once"], floor_env)
    assert "aggregator" in loaded and "redis" in loaded  # it did poll
    assert loaded.isdisjoint(WEB_STACK), loaded & set(WEB_STACK)
    # nor any other platform's client library
    assert loaded.isdisjoint({"tweepy", "facebook", "instaloader", "googleapiclient"})


def test_floor_help_imports_neither_the_web_stack_nor_redis(floor_env: dict[str, str]) -> None:
    loaded = _modules_after(["--help"], floor_env)
    # nor any of Floor's own modules: the masking of secrets, imported by the first message
    assert loaded.isdisjoint({*WEB_STACK, "redis", "pydantic", "argon2", "googleapiclient",
                              "aggregator", "web"})


def test_no_module_of_the_command_line_imports_the_web_stack() -> None:
    """`floor` imports every module of cli/ to list its commands: none may import Flask (or
    anything else heavy) at import, so a poller or a follower never loads the web stack."""
    script = ("import importlib, json, pkgutil, sys\nimport cli\n"
              "for module in pkgutil.iter_modules(cli.__path__, 'cli.'):\n"
              "    if module.name != 'cli.__main__':\n"
              "        importlib.import_module(module.name)\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert {"cli.workers", "cli.meeting", "cli.purge", "cli.supervisor"} <= loaded
    assert {m.split(".")[0] for m in loaded}.isdisjoint({*WEB_STACK, "web", "redis", "pydantic"})


@pytest.mark.parametrize("command", ["poll", "triage", "ledger"])
def test_the_workers_help_imports_no_web_stack(command: str, floor_env: dict[str, str]) -> None:
    loaded = _modules_after([command, "--help"], floor_env)
    assert loaded.isdisjoint({*WEB_STACK, "web"}), loaded & {*WEB_STACK, "web"}


def test_floor_run_sums_up_the_event_in_one_line(store: Store,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    from aggregator.ingest.health import Health
    from cli.meeting import _summary

    report = _summary(store.conn, store.keys.event, ["rehearsal"])
    Health(store.conn, store.keys.event).record("rehearsal", state="ok")
    # A one-off `floor poll x --once` of a source this run does not poll: no standing state.
    Health(store.conn, store.keys.event).record("x", state="stopped")
    with caplog.at_level(logging.INFO, logger="floor"):
        store.ingest("web", [(normalise(Post("web", "a", "First?")), {})])
        report()
        store.ingest("web", [(normalise(Post("web", "b", "Second?")), {}),
                             (normalise(Post("web", "c", "Third?")), {})])
        report()
    assert [r.getMessage() for r in caplog.records] == [
        "run: 1 question so far; sources: rehearsal ok",
        "run: 3 questions so far (+2 this minute); sources: rehearsal ok"]


def test_importing_the_accounts_computes_no_hash() -> None:
    """A hash costs what a login costs: `floor moderator list` and every web process would pay
    it at start for nothing."""
    script = ("import argon2\n"
              "def refuse(*args, **kwargs):\n    raise SystemExit('hashed at import')\n"
              "argon2.PasswordHasher.hash = refuse\n"
              "import web.accounts\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_screen_links_data_needs_no_command_line() -> None:
    script = ("import sys\nimport web.screen_links\n"
              "print(sorted(m for m in ('cli', 'click', 'flask') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_answer_note_takes_the_public_id_the_record_shows(floor_env: dict[str, str],
                                                         store: Store) -> None:
    from aggregator.core.public_ids import resolve
    from aggregator.followers.ledger import Ledger

    posts = [Post("x", f"66{i}", f"Question {i}?", "Ann Hughes", "ann") for i in range(3)]
    qids = store.ingest("x", [(normalise(p), {}) for p in posts])
    ledger = Ledger(store.conn, store.keys.event)
    ledger.catch_up()
    public = ledger.public_ids(qids)
    assert resolve(store.conn, store.keys.event, public[qids[1]]) == qids[1]
    assert resolve(store.conn, store.keys.event, qids[2]) == qids[2]
    done = floor("answer-note", public[qids[1]], "--in-writing", env=floor_env)
    assert done.returncode == 0, done.stderr
    assert store.question(qids[1]).in_writing  # type: ignore[union-attr]
    assert not store.question(qids[0]).in_writing  # type: ignore[union-attr]
    unknown = floor("answer-note", "x-" + "0" * 20, "--in-writing", env=floor_env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines()[-1] == (
        "Error: there is no question x-00000000000000000000: give the id the record or the "
        "console shows (e.g. x-6ba569e483d815f5649b) or the one in Redis (e.g. x:1852...)")


# -- the first run -----------------------------------------------------------------------------

def _bare(floor_env: dict[str, str]) -> dict[str, str]:
    """No settings file named and no REDIS_URL: what a new user's shell has."""
    return {k: v for k, v in floor_env.items() if k not in ("FLOOR_CONFIG", "REDIS_URL")}


def _in(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOOR, *args], env=env, cwd=folder, capture_output=True,
                          text=True, timeout=120)


def test_run_without_settings_points_to_init_which_writes_them(
        floor_env: dict[str, str], tmp_path: Path) -> None:
    from aggregator.base.settings import load

    env = _bare(floor_env)
    refused = _in(tmp_path, "run", "--port", str(_free_port()), env=env)
    assert refused.returncode == EX_CONFIG
    assert (refused.stdout + refused.stderr).strip().splitlines() == [
        "Error: no config/event.toml here: write one with `floor init` (or name one with "
        "--config; `floor demo` runs a rehearsal)"]
    made = _in(tmp_path, "init", "--slug", "apm-2026", "--title", "Annual Public Meeting",
               "--hashtags", "#APM2026, Riverside", "--sources", "rehearsal x", env=env)
    assert made.returncode == 0, made.stderr
    settings = load(tmp_path / "config" / "event.toml")
    assert (settings.event.slug, settings.event.title) == ("apm-2026", "Annual Public Meeting")
    assert settings.event.hashtags == ["#APM2026", "#Riverside"]
    assert settings.enabled_sources() == ["rehearsal", "x"]
    text = (tmp_path / "config" / "event.toml").read_text(encoding="utf-8")
    assert text.count("\n# ") >= 5  # commented
    again = _in(tmp_path, "init", "--slug", "b", "--title", "B", "--hashtags", "",
                "--sources", "rehearsal", env=env)
    assert again.returncode == EX_CONFIG and "exists already" in again.stderr
    asked = subprocess.run([*FLOOR, "init"], env=env, cwd=tmp_path / "config",
                           input="agm\nAGM\n#AGM\nrehearsal\n", capture_output=True,
                           text=True, timeout=120)
    assert asked.returncode == 0, asked.stderr
    assert load(tmp_path / "config" / "config" / "event.toml").event.slug == "agm"


@pytest.mark.parametrize("command", [["web", "--port", "0"], ["run", "--port", "0"], ["check"]])
def test_an_unusable_data_dir_is_one_line_and_78(command: list[str], floor_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    env = {k: v for k, v in floor_env.items() if k != "REDIS_URL"}
    if command[1:] == ["--port", "0"]:
        command = [command[0], "--port", str(_free_port())]
    result = floor("--data-dir", "/proc/nope", *command, env=env)
    assert result.returncode == EX_CONFIG, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if not line.startswith("settings: ok")]  # floor check says what it checked
    assert lines == ["Error: cannot start the embedded Redis in /proc/nope: [Errno 2] No such "
                     "file or directory: '/proc/nope'"]


def test_a_screen_link_without_an_address_is_asked_for(floor_env: dict[str, str],
                                                      store: Store) -> None:
    refused = floor("screen-link", "create", "board2", env=floor_env)
    assert refused.returncode == 2
    assert "Give --base-url" in refused.stderr and "FLOOR_BASE_URL" in refused.stderr
    assert store.conn.hlen(store.keys.screen_links) == 0  # no link made, none lost
    told = floor("screen-link", "create", "board2",
                 env={**floor_env, "FLOOR_BASE_URL": "http://192.168.1.20:5002/"})
    assert told.returncode == 0, told.stderr
    assert re.search(r"^http://192\.168\.1\.20:5002/screen/\S+$", told.stdout, re.M)


def test_the_demo_has_board_members_and_agenda_items() -> None:
    import tomllib

    from aggregator.base.settings import Settings
    from cli.meeting import DEMO_CONFIG

    settings = Settings.model_validate(tomllib.loads(DEMO_CONFIG.format(speed=10.0)))
    assert len(settings.chair.board_members) >= 2 and len(settings.agenda.items) >= 2


# -- quiet unless something is wrong -------------------------------------------------------------

def test_a_group_named_alone_prints_its_help(floor_env: dict[str, str]) -> None:
    for group in ("keys", "control-token", "screen-link", "moderator"):
        result = floor(group, env=floor_env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Usage: floor {group} [OPTIONS] COMMAND") \
            and "Commands:" in result.stdout and result.stderr == ""


def test_moderator_add_finds_redis_down_before_asking_for_a_password(
        floor_env: dict[str, str]) -> None:
    result = floor("moderator", "add", "sam", env={**floor_env, "REDIS_URL":
                                                    "redis://127.0.0.1:1/0"},
                   stdin="a long enough password\na long enough password\n")
    assert result.returncode == 1
    assert "Password" not in result.stdout + result.stderr
    assert result.stderr.startswith("Error: cannot reach Redis at redis://127.0.0.1:1/0")


def test_the_appendonly_warning_only_where_it_matters(floor_env: dict[str, str],
                                                      conn: object) -> None:
    """The tests' Redis keeps nothing on disk: a command that only reads or writes a record
    says nothing of it; `floor check` lists it; `floor run` says it once, not once a process."""
    import redis as redis_py

    assert isinstance(conn, redis_py.Redis)
    assert conn.config_get("appendonly")["appendonly"] == "no" and not conn.config_get(
        "save")["save"]
    listed = floor("moderator", "list", env=floor_env)
    assert listed.returncode == 0 and "keeps nothing on disk" not in listed.stderr
    checked = floor("check", env=floor_env)
    assert "redis: keeps nothing on disk (redis://127.0.0.1" in checked.stdout
    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text(config.read_text() + "[triage]\nenabled = false\n")
    process = subprocess.Popen([*FLOOR, "run", "--port", str(_free_port())], env=floor_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = ""
    try:
        assert process.stdout is not None
        while "Ctrl-C to stop" not in seen:
            line = process.stdout.readline()
            assert line, seen
            seen += line
    finally:
        process.send_signal(signal.SIGINT)
        seen += process.communicate(timeout=60)[0]
    assert seen.count("keeps nothing on disk") == 1, seen
