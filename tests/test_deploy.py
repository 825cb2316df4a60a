"""The files a deployer looks for agree with the code: ``.env.example`` with the environment
object, ``gunicorn.conf.py`` with ``floor web``, the systemd units with systemd and with the
Procfile, and ``floor --version`` with the package."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from aggregator.base.environment import VARIABLES, is_secret
from aggregator.base.platforms import OPTIONS
from cli.context import EX_CONFIG
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
UNITS = REPO / "deploy" / "systemd"
# Where the units expect Floor's virtual environment (docs/deployment.md, "systemd").
INSTALLED = "/opt/floor/venv/bin/floor"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_env_example_names_every_variable_and_which_are_secret() -> None:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    described = re.findall(r"(?m)^# ([A-Z][A-Z0-9_]*) \((SECRET|not secret)\): \S", text)
    assigned = re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=(.*)$", text)
    assert [name for name, _ in described] == [name for name, _ in assigned]
    assert sorted(name for name, _ in assigned) == sorted(VARIABLES)
    assert {name: kind == "SECRET" for name, kind in described} == {
        name: is_secret(name) for name in VARIABLES}
    assert all(value == "" for _, value in assigned), "an example holds no value"


def test_floor_version_is_the_package_version() -> None:
    result = subprocess.run([sys.executable, "-m", "cli", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"floor {version('floor-qa')}"


# `floor` in a process where the named packages are not installed (as on a web node).
WITHOUT = ("import sys\nfor name in sys.argv[1].split(','): sys.modules[name] = None\n"
           "from cli import main\nsys.exit(main(sys.argv[2:]))")


@pytest.mark.parametrize(("args", "missing", "extra", "status"), [
    (["triage", "--once"], "sklearn", "triage", EX_CONFIG),
    (["poll", "x", "--once"], "tweepy", "sources", EX_CONFIG),
    (["check"], "tweepy", "sources", 1)])  # a check's answer to any problem it finds
def test_a_process_whose_extra_is_missing_names_it(args: list[str], missing: str, extra: str,
                                                   status: int, floor_env: dict[str, str]
                                                   ) -> None:
    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text(config.read_text() + '[sources.x]\nenabled = true\n'
                      'hashtags = ["#floor"]\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", WITHOUT, missing, *args], env=floor_env,
                            capture_output=True, text=True, timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode == status, said
    assert f"pip install 'floor-qa[{extra}]'" in said and "Traceback" not in said, said


def test_gunicorn_conf_py_is_what_floor_web_serves_with(monkeypatch: pytest.MonkeyPatch) -> None:
    from gunicorn.app.wsgiapp import WSGIApplication

    from web.gunicorn_conf import SPARE_CONNECTIONS
    from web.serve import FloorWorker, application

    floor_web = application(lambda: None, "127.0.0.1", 5000, 1000)  # `floor web`'s defaults
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "argv", ["gunicorn", "-c", "gunicorn.conf.py", "-b",
                                      "127.0.0.1:5000", "--threads", "1000"])
    plain = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]")
    differ = {name for name, setting in floor_web.cfg.settings.items()
              if setting.get() != plain.cfg.settings[name].get()}
    assert differ == {"config"}  # the file's name alone
    assert floor_web.cfg.worker_class is FloorWorker and floor_web.cfg.workers == 1
    assert plain.app_uri == "web.wsgi:app"

    few = application(lambda: None, "127.0.0.1", 5000, 50)  # `floor web --threads 50`
    few.cfg.on_starting(SimpleNamespace(cfg=few.cfg))  # as the arbiter calls it, before forking
    assert few.cfg.worker_connections == 50 + SPARE_CONNECTIONS


def test_the_socket_limit_follows_the_threads_however_the_app_is_served(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    from web import gunicorn_conf, serve
    from web.capacity import default_for

    app = Flask(__name__)
    monkeypatch.setattr(serve, "_app", [app])  # as boot() keeps it, in the worker
    gunicorn_conf.post_worker_init(SimpleNamespace(cfg=SimpleNamespace(threads=500)))
    assert app.config["FLOOR_SOCKETS"] == default_for(500)
    app.config["FLOOR_SOCKETS"] = 7  # FLOOR_SOCKETS given: kept
    gunicorn_conf.post_worker_init(SimpleNamespace(cfg=SimpleNamespace(threads=500)))
    assert app.config["FLOOR_SOCKETS"] == 7


@pytest.mark.slow
def test_plain_gunicorn_serves_the_app_and_stops_at_a_bad_setting(
        floor_env: dict[str, str], tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b",
                               f"127.0.0.1:{port}"], env=floor_env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: requests.get(f"{base}/healthz", timeout=5).ok, 60,
                   what="gunicorn to serve", ignore=(requests.RequestException,))
        assert requests.get(f"{base}/login", timeout=5).status_code == 200
        assert requests.get(f"{base}/readyz", timeout=5).json()["status"] == "not ready"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    broken = tmp_path / "broken.toml"
    broken.write_text("[event]\nslug = 'Not A Slug'\n", encoding="utf-8")
    failed = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b",
                             f"127.0.0.1:{port}"], env={**floor_env, "FLOOR_CONFIG": str(broken)},
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0
    assert "web: cannot start:" in failed.stderr and "slug" in failed.stderr, failed.stderr
    assert failed.stderr.count("web: cannot start:") == 1, failed.stderr  # no restart loop
    assert "Traceback" not in failed.stderr, failed.stderr


def _procfile() -> dict[str, str]:
    lines = (REPO / "Procfile").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def _exec_start(unit: str) -> str:
    found = re.search(r"(?m)^ExecStart=(.*)$", (UNITS / unit).read_text(encoding="utf-8"))
    assert found, unit
    return found[1]


def test_the_procfile_and_the_units_run_every_process_alike() -> None:
    procfile = _procfile()
    assert set(procfile) == {"web", "ledger", "triage"} | {f"poll-{name}" for name in OPTIONS}
    assert _exec_start("floor-web.service").startswith(f"{INSTALLED} web ")
    for name in ("ledger", "triage"):
        assert _exec_start(f"floor-{name}.service") == f"{INSTALLED} {procfile[name][6:]}"
    template = _exec_start("floor-poll@.service")
    for name in OPTIONS:
        assert template.replace("%i", name) == f"{INSTALLED} {procfile[f'poll-{name}'][6:]}"


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd (.ci/run does)"
    floor = Path(sys.executable).parent / "floor"
    assert floor.exists(), f"no {floor}: pip install -e . first"
    # verify checks that ExecStart's program exists: point the units at this one.
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(
            unit.read_text(encoding="utf-8").replace(INSTALLED, str(floor)), encoding="utf-8")
    names = sorted(unit.name for unit in tmp_path.iterdir())
    assert {"floor.target", "floor-web.service", "floor-ledger.service",
            "floor-triage.service", "floor-poll@.service"} <= set(names)
    result = subprocess.run([analyze, "verify", *names, "floor-poll@x.service"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


def test_the_nginx_example_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin")
    assert nginx, "nginx is missing: apt-get install nginx (.ci/run does)"
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=floor.example.org", "-keyout", str(tls / "privkey.pem"), "-out",
                    str(tls / "fullchain.pem")], check=True, capture_output=True, timeout=60)
    site = (REPO / "deploy" / "nginx" / "floor.conf").read_text(encoding="utf-8")
    site = site.replace("/etc/floor/tls", str(tls)).replace("/var/cache/nginx/floor",
                                                             str(tmp_path / "cache"))
    (tmp_path / "floor.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        "pid nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n"
        "  include floor.conf;\n}\n", encoding="utf-8")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", "nginx.conf"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr and "[warn]" not in result.stderr, result.stderr
