"""The live public page (/record): how many viewers this machine holds with every view at most
5 s behind the meeting, served by one ``floor web`` process directly and through nginx's
micro-cache, against a bare page served the same two ways, in the same run.

    python bench/public_page.py [--questions 5000] [--rounds 3] [--client-procs 2]
                                [--viewers 1000,2000,3000,4000,5000,7000,10000,14000,18000]
                                [--only "floor direct,bare direct,floor via nginx,..."] [--smoke]

Servers, each in its own process, as production runs them:
- ``floor web`` (gunicorn, one process, thread worker; web/serve.py) for an event of QUESTIONS
  questions, while a moderator approves a question and puts it on screen every second, so the
  page really changes (each change is a log entry, and its id is the time it was made);
- the bare page: the same gunicorn worker serving, from memory, a page of the same size whose
  ETag and version marker follow the log's last id (read once a second): what serving a page
  that changes costs on this server, with no Floor in it;
- Debian's nginx in front of each, configured as tests/nginx_proxy.py (and docs/deployment.md)
  does: ``/record`` micro-cached for the second the page's ``Cache-Control`` allows.

Viewers behave like the page's script (web/static/record_live.js): each keeps a keep-alive
connection (reopened when the server closes it, as a browser does) and every REFRESH seconds
(they arrive over a ramp of ARRIVALS a second, as an audience joins; measured once all are in)
sends a conditional GET with the ETag it holds; a 200 brings the page and its
``data-version`` (the log id it shows). How far behind a view is, is measured, not assumed:
just before each response, the view shows version V, so it is behind by the time since the
first log entry after V was written (0 when there is none). A step holds when no request failed
and the p99 of that lag is within 5 s (the worst is printed too). The viewers run on asyncio with
protocols (raw sockets) in CLIENT_PROCS processes; on 2 cores they compete with the servers, and
the client's CPU is printed beside the servers', to say which one ran out. A series stops at
its first step that does not hold.

``--smoke`` (for CI): 200 questions, 10 viewers, one round; nothing judged.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from bisect import bisect_right
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import nginx_proxy  # noqa: E402

REFRESH = 2.0  # web/public.py REFRESH_SECONDS: the page's own reload
ARRIVALS = 1000  # viewers arriving a second while a step ramps up (an audience joins over time)
BOUND = 5.0  # seconds a view may be behind
TIMEOUT = 10.0  # a request not answered within this failed
MARK = b'data-version="'


# -- the servers ------------------------------------------------------------------------------

def serve_bare(port: int, redis_url: str, event: str, size: int) -> None:
    """The bare page on the same server as ``floor web`` (gunicorn, one thread worker)."""
    from gunicorn.app.base import BaseApplication

    from aggregator.base.keys import Keys
    from aggregator.base.redis_server import client_from_url
    from web.gunicorn_conf import DEFAULT_THREADS, SPARE_CONNECTIONS

    def build() -> Any:
        conn = client_from_url(redis_url)
        log = Keys(event).log
        page: list[tuple[str, bytes]] = []

        def follow() -> None:
            while True:
                last = conn.xrevrange(log, count=1)
                version = last[0][0] if last else "0-0"
                if not page or page[0][0] != version:
                    html = f'<!doctype html><main id="live" data-version="{version}">'
                    page[:] = [(version, (html + "x" * max(0, size - len(html) - 8)
                                          + "</main>\n").encode())]
                time.sleep(1.0)

        threading.Thread(target=follow, daemon=True).start()
        while not page:
            time.sleep(0.01)

        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            version, body = page[0]
            etag = f'"{version}"'
            headers = [("ETag", etag), ("Cache-Control", "public, max-age=1")]
            if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
                start_response("304 Not Modified", headers)
                return [b""]
            start_response("200 OK", [*headers, ("Content-Type", "text/html; charset=utf-8"),
                                      ("Content-Length", str(len(body)))])
            return [body]

        return app

    class Bare(BaseApplication):  # type: ignore[misc]
        """The settings web/gunicorn_conf.py gives ``floor web``, without its Socket.IO hang-up."""

        def load_config(self) -> None:
            for key, value in {"bind": [f"127.0.0.1:{port}"], "workers": 1,
                               "worker_class": "gthread", "threads": DEFAULT_THREADS,
                               "worker_connections": DEFAULT_THREADS + SPARE_CONNECTIONS,
                               "control_socket_disable": True, "accesslog": None,
                               "errorlog": "-", "loglevel": "warning"}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return build()

    Bare().run()


def fill(conn: Any, event: str, count: int) -> list[str]:
    from aggregator.core.normalise import normalise
    from aggregator.core.question import Post
    from aggregator.core.store import Store

    store = Store(conn, event)
    for first in range(0, count, 500):
        batch = [(normalise(Post(random.choice(["x", "yt", "fb", "ig"]), f"q{i}",
                                 f"Bench question {i}: will the figures be published?",
                                 f"Viewer {i}")), {})
                 for i in range(first, min(first + 500, count))]
        store.ingest("bench", batch)
    return store.question_ids()


def moderate(conn: Any, event: str, qids: list[str], stop: threading.Event) -> None:
    """A question approved and put on screen every second (the last one answered): the page
    changes all the time."""
    from aggregator.core.moderation import Moderation

    moderation = Moderation(conn, event)
    for qid in qids:
        if stop.wait(1.0):
            return
        moderation.apply("approve", qid, 1, "sam")
        moderation.apply("screen", qid, 2, "sam", then="answered")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not start")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children so far (from /proc), for the who-ran-out line."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for task in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def children(pid: int) -> list[int]:
    try:
        found = [int(c) for c in
                 Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [*found, *(g for c in found for g in children(c))]


# -- the viewers ------------------------------------------------------------------------------

class _Connection(asyncio.Protocol):
    """One TCP connection of a viewer; events of a connection it has left are ignored."""

    def __init__(self, viewer: _Viewer) -> None:
        self.viewer = viewer
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.viewer.connection is self:
            self.viewer.connected()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.viewer.connection is self:
            self.viewer.lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.viewer.connection is self:
            self.viewer.received(data)


class _Viewer:
    """One viewer: a keep-alive connection (made again when the server closes it) and a
    conditional GET every REFRESH seconds. Protocols, not streams: the client must cost far
    less than the servers it measures, and on 2 cores they share the CPU."""

    def __init__(self, crowd: _Crowd) -> None:
        self.crowd = crowd
        self.connection: _Connection | None = None
        self.etag = b""
        self.version = ""
        self.buffer = b""
        self.sent = 0.0
        self.waiting = False  # a request is out
        self.retried = False

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    def reload(self) -> None:
        if time.time() >= self.crowd.end:
            self.close()
            return
        self.sent, self.waiting, self.retried = time.time(), True, False
        self._send()

    def _send(self) -> None:
        connection = self.connection
        if connection is None or connection.transport is None \
                or connection.transport.is_closing():
            self.close()
            self.connection = _Connection(self)
            task = asyncio.ensure_future(self.crowd.loop.create_connection(
                lambda c=self.connection: c, "127.0.0.1", self.crowd.port))
            task.add_done_callback(self._made)
            return
        self.buffer = b""
        connection.transport.write(self.crowd.plain if not self.etag else (
            self.crowd.conditional + self.etag + b"\r\n\r\n"))

    def _made(self, task: asyncio.Future[Any]) -> None:
        if task.exception() is not None:
            if os.environ.get("BENCH_DEBUG"):
                print("viewer: connect", repr(task.exception()), flush=True)
            self.connection = None
            self.done(0)

    def connected(self) -> None:
        if self.waiting:
            self._send()

    def lost(self, exc: Exception | None) -> None:
        self.connection = None
        if self.waiting and not self.retried and time.time() - self.sent < 1.0:
            self.retried = True  # the server closed a kept-alive connection: once more
            self._send()
        elif self.waiting:
            if os.environ.get("BENCH_DEBUG"):
                print("viewer: lost", repr(exc), self.retried, time.time() - self.sent,
                      len(self.buffer), flush=True)
            self.done(0)

    def received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        headers = self.buffer[:end + 4]
        lower = headers.lower()
        at = lower.find(b"content-length:")
        length = int(headers[at + 15:headers.find(b"\r\n", at)]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4:end + 4 + length]
        self.buffer = b""
        status, version = int(headers[9:12]), ""
        if status == 200:
            at = lower.find(b"etag:")
            if at >= 0:
                self.etag = headers[at + 5:headers.find(b"\r\n", at)].strip()
            mark = body.find(MARK)
            if mark >= 0:
                start = mark + len(MARK)
                version = body[start:body.find(b'"', start)].decode()
        if b"connection: close" in lower:
            self.close()
        self.done(status, version)

    def done(self, status: int, version: str = "") -> None:
        if not self.waiting:
            return
        self.waiting = False
        crowd, now = self.crowd, time.time()
        if self.sent >= crowd.measure_from:
            if status not in (200, 304):
                crowd.failures += 1
            else:
                crowd.took.append(now - self.sent)
                if self.version:
                    crowd.seen.append((now, self.version))
        if version:
            self.version = version
        crowd.loop.call_at(crowd.loop.time() + max(0.0, self.sent + REFRESH - now),
                           self.reload)


class _Crowd:
    def __init__(self, port: int, measure_from: float, end: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.port = port
        self.measure_from = measure_from
        self.end = end
        self.seen: list[tuple[float, str]] = []
        self.took: list[float] = []
        self.failures = 0
        self.plain = b"GET /record HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"
        self.conditional = (b"GET /record HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n"
                            b"If-None-Match: ")


async def _viewers(port: int, count: int, start_at: float, ramp: float, measure_from: float,
                   end: float) -> tuple[list[tuple[float, str]], list[float], int]:
    """``count`` viewers; returns ((time of a response, version shown just before it) for the
    responses in the measured window, response times, failures)."""
    crowd = _Crowd(port, measure_from, end)
    viewers = [_Viewer(crowd) for _ in range(count)]
    base = crowd.loop.time() + max(0.0, start_at - time.time())
    for viewer in viewers:
        crowd.loop.call_at(base + random.uniform(0, ramp), viewer.reload)
    await asyncio.sleep(max(0.0, end - time.time()))
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and any(v.waiting for v in viewers):
        await asyncio.sleep(0.1)
    # A request still unanswered TIMEOUT after the end failed.
    crowd.failures += sum(v.waiting and v.sent >= measure_from for v in viewers)
    for viewer in viewers:
        viewer.close()
    return crowd.seen, crowd.took, crowd.failures


def _client(args: tuple[int, int, float, float, float, float]
            ) -> tuple[list[tuple[float, str]], list[float], int, float]:
    port, count, start_at, ramp, measure_from, end = args
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    seen, took, failures = asyncio.run(_viewers(port, count, start_at, ramp, measure_from,
                                                end))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return seen, took, failures, usage.ru_utime + usage.ru_stime


def behind(seen: list[tuple[float, str]], changes: list[tuple[int, int]]) -> list[float]:
    """How far behind each view was just before each response: the time since the first
    change after the version it showed."""
    lags = []
    for now, version in seen:
        ms, _, seq = version.partition("-")
        after = bisect_right(changes, (int(ms), int(seq or 0)))
        first = changes[after][0] / 1000 if after < len(changes) else now
        lags.append(max(0.0, now - first))
    return lags


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("inf")


# -- the run ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=None, help="5,000 (smoke: 200)")
    parser.add_argument("--viewers", default=None,
                        help="steps, e.g. 1000,2000,4000 (smoke: 10)")
    parser.add_argument("--rounds", type=int, default=None, help="reloads measured a step (3)")
    parser.add_argument("--client-procs", type=int, default=2, help="processes of viewers")
    parser.add_argument("--only", default="", help="comma-separated series names to run")
    parser.add_argument("--smoke", action="store_true", help="a small run for CI")
    parser.add_argument("--serve-bare", nargs=4, metavar=("PORT", "REDIS", "EVENT", "SIZE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        port, redis_url, event, size = args.serve_bare
        serve_bare(int(port), redis_url, event, int(size))
        return
    questions = args.questions or (200 if args.smoke else 5_000)
    rounds = args.rounds or (1 if args.smoke else 3)
    steps = [int(v) for v in (args.viewers or ("10" if args.smoke else
                                               "1000,2000,3000,4000,5000,7000,10000,"
                                               "14000,18000")).split(",")]
    from aggregator.base.keys import Keys
    from aggregator.base.redis_server import connect, url_of

    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        conn = connect(url=os.environ.get("REDIS_URL", ""), data_dir=folder / "redis")
        redis_url = os.environ.get("REDIS_URL") or url_of(conn)
        event = "bench-" + uuid.uuid4().hex[:8]
        qids = fill(conn, event, questions)
        config = folder / "event.toml"
        config.write_text(f'[event]\nslug = "{event}"\n', encoding="utf-8")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("FLOOR_")},
               "REDIS_URL": redis_url, "FLOOR_CONFIG": str(config),
               "FLOOR_DATA_DIR": str(folder / "data"), "FLOOR_SECRET_KEY": "bench",
               "FLOOR_TRUSTED_PROXIES": "1"}
        stop = threading.Event()
        try:
            floor_port, bare_port = free_port(), free_port()
            floor_web = subprocess.Popen(
                [sys.executable, "-m", "cli", "web", "--port", str(floor_port)], env=env,
                cwd=Path(__file__).resolve().parent.parent, start_new_session=True)
            processes.append(floor_web)
            wait_for_port(floor_port, floor_web, "floor web")
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{floor_port}/record",
                                        timeout=30) as r:
                size = len(r.read())
            bare = subprocess.Popen([sys.executable, __file__, "--serve-bare", str(bare_port),
                                     redis_url, event, str(size)], env=env,
                                    start_new_session=True)
            processes.append(bare)
            wait_for_port(bare_port, bare, "the bare page")
            series: list[tuple[str, int, int]] = [("floor direct", floor_port, floor_web.pid),
                                                  ("bare direct", bare_port, bare.pid)]
            if nginx_proxy.NGINX is not None:
                for name, node, pid in (("floor via nginx", floor_port, floor_web.pid),
                                        ("bare via nginx", bare_port, bare.pid)):
                    listen = free_port()
                    proxy = nginx_proxy.start(folder / f"nginx-{listen}", listen, [node])
                    processes.append(proxy)
                    wait_for_port(listen, proxy, "nginx")
                    series.append((name, listen, pid))
            else:
                print("  (nginx is not installed: the series through it are skipped)")
            if args.only:
                series = [s for s in series if s[0] in args.only.split(",")]
            mover = threading.Thread(target=moderate, args=(conn, event, qids, stop),
                                     daemon=True)
            mover.start()
            print(f"public page bench: {questions} questions, a change every second, reload "
                  f"every {REFRESH:g} s; held = no failed request and p99 of how far behind a "
                  f"view is <= {BOUND:g} s; {args.client_procs} client processes")
            held: dict[str, int] = {}
            for name, port, server_pid in series:
                held[name] = 0
                proxy_pid = next((p.pid for p in processes if p.pid != server_pid
                                  and p.args and str(p.args[0]) == nginx_proxy.NGINX
                                  and f"nginx-{port}" in " ".join(map(str, p.args))), None)
                for count in steps:
                    ok = run_step(conn, event, name, port, count, rounds, args.client_procs,
                                  server_pid, proxy_pid)
                    if not ok:
                        break
                    held[name] = count
            ratios = []
            for way in ("direct", "via nginx"):
                mine, bare = held.get(f"floor {way}"), held.get(f"bare {way}")
                if mine is not None and bare is not None:
                    ratios.append(f"{way} {mine} vs bare {bare}"
                                  + (f" (ratio {mine / bare:.2f})" if bare else ""))
            print(f"  viewers held within 5 s: floor /record {held.get('floor direct', 0)} "
                  f"direct, {held.get('floor via nginx', 0)} via nginx; " + "; ".join(ratios))
            if args.smoke:
                print("  (smoke run: nothing judged)")
        finally:
            stop.set()
            for process in reversed(processes):
                if process.poll() is None:
                    process.send_signal(signal.SIGQUIT if str(process.args[0]) ==
                                        nginx_proxy.NGINX else signal.SIGTERM)
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            keys = list(conn.scan_iter(Keys(event).pattern, count=1000))
            for start in range(0, len(keys), 1000):
                conn.delete(*keys[start:start + 1000])


def run_step(conn: Any, event: str, name: str, port: int, count: int, rounds: int, procs: int,
             server_pid: int, proxy_pid: int | None) -> bool:
    from aggregator.base.keys import Keys

    start_at = time.time() + 0.5
    ramp = max(REFRESH, count / ARRIVALS)
    measure_from = start_at + ramp + REFRESH + 1.0
    end = measure_from + REFRESH * rounds
    shares = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    server_cpu = cpu_seconds(server_pid)
    proxy_cpu = cpu_seconds(proxy_pid) if proxy_pid else 0.0
    context = multiprocessing.get_context("fork")
    with context.Pool(procs) as pool:
        results = pool.map(_client, [(port, n, start_at, ramp, measure_from, end)
                                     for n in shares if n])
    wall = time.time() - start_at
    server_cpu = cpu_seconds(server_pid) - server_cpu
    proxy_cpu = (cpu_seconds(proxy_pid) - proxy_cpu) if proxy_pid else 0.0
    changes = []
    for entry_id, _ in conn.xrange(Keys(event).log, min=f"{int((start_at - 60) * 1000)}-0"):
        ms, _, seq = entry_id.partition("-")
        changes.append((int(ms), int(seq)))
    seen = [s for r in results for s in r[0]]
    took = [t for r in results for t in r[1]]
    failures = sum(r[2] for r in results)
    client_cpu = sum(r[3] for r in results)
    lags = behind(seen, changes)
    ok = failures == 0 and bool(lags) and pct(lags, 0.99) <= BOUND
    print(f"  {name:16} {count:6} viewers: {len(took):6} requests, response p99 "
          f"{pct(took, 0.99) * 1000:7.1f} ms, behind p50/p99/max {pct(lags, 0.5):4.1f}/"
          f"{pct(lags, 0.99):4.1f}/{max(lags, default=float('inf')):4.1f} s, {failures} failed; "
          f"CPU s over {wall:.0f} s: viewers {client_cpu:.1f}, server {server_cpu:.1f}"
          + (f", nginx {proxy_cpu:.1f}" if proxy_pid else "")
          + f" -> {'held' if ok else 'NOT held'}", flush=True)
    return ok


if __name__ == "__main__":
    main()
