"""CI: Floor as a deployer gets it, from the wheel alone (.ci/run builds it and installs it into a
clean virtual environment, then runs this with that environment's Python, outside the checkout).

    python .ci/wheel_check.py web WHEEL REPO       # after `pip install WHEEL`: a web node
    python .ci/wheel_check.py meeting WHEEL REPO   # after `pip install 'WHEEL[triage]'`

web:
1. The wheel holds every file the checkout tracks under aggregator/, web/ and cli/ (templates,
   static files, scripts, the rehearsal's sample posts), and Floor is imported from the
   environment, not the checkout. ``floor --version`` prints the wheel's version.
2. ``floor web`` serves (``/healthz``, the login page) with the web node's packages alone, and
   ``floor triage`` says which extra it needs (exit status 78), in one line.

meeting:
3. ``floor demo`` serves a live console: the demo's moderator logs in, the console page and its
   scripts load, its socket gets the rehearsal's questions, and ``/readyz`` says ready (every
   process ran, triage's scientific stack included).
4. ``floor record`` builds the demo's published record, signed, and ``floor record verify``
   checks it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests
import socketio


def step(what: str) -> None:
    print(f"wheel: {what}", flush=True)


def wait_for(test: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if test():  # type: ignore[operator]
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"wheel: FAILED: timed out after {timeout:.0f} s waiting for {what}")


FLOOR = str(Path(sys.executable).parent / "floor")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def floor(*args: str, env: dict[str, str], cwd: Path, status: int = 0) -> str:
    done = subprocess.run([FLOOR, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    if done.returncode != status:
        raise SystemExit(f"wheel: FAILED: floor {' '.join(args)} exited {done.returncode}:\n"
                         f"{done.stdout}{done.stderr}")
    return done.stdout + done.stderr if status else done.stdout


def contents(wheel: Path, repo: Path) -> None:
    tracked = subprocess.run(["git", "ls-files", "aggregator", "web", "cli"], cwd=repo,
                             capture_output=True, text=True, check=True).stdout.split()
    held = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in tracked if name not in held]
    if missing:
        raise SystemExit(f"wheel: FAILED: the wheel lacks {missing} (pyproject.toml's "
                         "[tool.setuptools.package-data])")
    import web

    if Path(web.__file__).resolve().is_relative_to(repo.resolve()):
        raise SystemExit(f"wheel: FAILED: web is imported from the checkout ({web.__file__})")
    step(f"{len(tracked)} files of the checkout's packages are all in {wheel.name}")


def web_node(env: dict[str, str], home: Path) -> None:
    port = free_port()
    config = home / "event.toml"
    config.write_text('[event]\nslug = "wheel"\n', encoding="utf-8")
    env = {**env, "FLOOR_CONFIG": str(config), "FLOOR_DATA_DIR": str(home / "data")}
    web = subprocess.Popen([FLOOR, "web", "--port", str(port)], env=env, cwd=home,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{base}/healthz", timeout=5).ok, 120, "floor web")
        assert requests.get(f"{base}/login", timeout=5).status_code == 200
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    assert web.returncode == 0, f"floor web exited {web.returncode}"
    said = floor("triage", "--once", env=env, cwd=home, status=78)
    assert "pip install 'floor-qa[triage]'" in said and "Traceback" not in said, said
    step("floor web serves without the extras; floor triage names the extra it needs")


def demo_and_record(env: dict[str, str], home: Path) -> None:
    port = free_port()
    demo = subprocess.Popen([FLOOR, "demo", "--port", str(port), "--speed", "0"], env=env,
                            cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    said: list[str] = []
    assert demo.stdout is not None
    reader = threading.Thread(target=lambda: said.extend(demo.stdout or []), daemon=True)
    reader.start()
    try:
        wait_for(lambda: "Press Ctrl-C" in "".join(said), 120, "floor demo's banner")
        banner = "".join(said)
        base = re.search(r"Console:\s+(http://\S+)/console", banner)[1]  # type: ignore[index]
        user, password = re.search(r"Log in as: (\S+) / (\S+)", banner).groups()  # type: ignore[union-attr]
        folder = Path(re.search(r"data in (\S+) \(removed", banner)[1])  # type: ignore[index]

        http = requests.Session()
        page = http.get(f"{base}/login", timeout=10).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, page
        http.post(f"{base}/login", timeout=10, data={"csrf_token": token[1], "username": user,
                                                     "password": password})
        console = http.get(f"{base}/console", timeout=10)
        assert console.status_code == 200 and console.url.endswith("/console"), console.url
        scripts = re.findall(r'src="(/static/[^"]+)"', console.text)
        assert scripts, "no script on the console page"
        for script in scripts:
            assert http.get(base + script, timeout=10).status_code == 200, script
        snapshots: list[dict[str, object]] = []
        client = socketio.Client(http_session=http, reconnection=False)
        client.on("snapshot", snapshots.append, namespace="/console")
        client.connect(base, namespaces=["/console"], transports=["polling"], wait_timeout=30)
        wait_for(lambda: snapshots, 30, "the console's snapshot")
        client.disconnect()
        wait_for(lambda: http.get(f"{base}/readyz", timeout=5).status_code == 200, 120,
                 "/readyz to say ready")
        step(f"floor demo: logged in, console and {len(scripts)} scripts served, its socket "
             "live, /readyz ready")

        event = {**env, "FLOOR_CONFIG": str(folder / "event.toml"),
                 "FLOOR_DATA_DIR": str(folder / "data")}
        floor("keys", "create", "--dir", str(home / "keys"), env=event, cwd=home)
        key = home / "keys" / "record-signing-key.pem"
        built = floor("record", str(home / "record"), "--key", str(key), env=event, cwd=home)
        assert "signed by the key" in built, built
        checked = floor("record", "verify", str(home / "record"), env=event, cwd=home)
        summary = next((line for line in built.splitlines() if line.startswith("record:")),
                       built.strip())
        step(f"floor {summary}; verify: {checked.splitlines()[-1]}")
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
        reader.join(timeout=5)
    if demo.returncode != 0:
        raise SystemExit(f"wheel: FAILED: floor demo exited {demo.returncode}:\n{''.join(said)}")


def main() -> None:
    phase, wheel, repo = sys.argv[1], Path(sys.argv[2]).resolve(), Path(sys.argv[3]).resolve()
    home = Path(tempfile.mkdtemp(prefix="floor-wheel-"))
    try:
        # As a new user: nothing configured, no Redis (Floor starts its own).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("FLOOR_") and k not in ("REDIS_URL", "PYTHONPATH")}
        env["HOME"] = str(home)
        if phase == "web":
            contents(wheel, repo)
            version = floor("--version", env=env, cwd=home).strip()
            assert version == f"floor {wheel.name.split('-')[1]}", version
            step(f"`floor --version`: {version}")
            web_node(env, home)
        else:
            demo_and_record(env, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    step(f"{phase}: ok")


if __name__ == "__main__":
    main()
