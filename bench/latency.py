"""Approve -> screen update latency, against the bare Socket.IO round trip on the same server.

    python bench/latency.py [--screens 50] [--rounds 300] [--delayed-ack]
                            [--async-mode threading|gevent] [--python PYTHON]

Starts Floor's web app in a subprocess (as ``floor web`` runs it), connects SCREENS screen
clients (python-socketio over WebSocket; all but one in a child process) and a moderator's
console. Then, ROUNDS times, with the same screens connected:
1. a moderator approves a question through the console's socket; we time until the screen
   connected last (so served last) has it in its "next" list, and until all SCREENS have;
2. a bench-only handler broadcasts a board-sized payload to the same room (no Floor work);
3. a bare Socket.IO emit -> receive round trip (an echo handler only this bench registers).
Prints p50 and p99 of each and the ratios (target: approve -> screen p99 within 3x of the bare
round trip's p99).

The server sets TCP_NODELAY on each connection, as ``floor web`` does; ``--delayed-ack`` serves
without it (then a frame sent soon after another waits for the client's delayed ACK).
Uses REDIS_URL when set, else an embedded Redis in a temporary folder. ``--async-mode gevent``
needs gevent installed in the server's interpreter (``--python``); it is not one of Floor's
dependencies.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_NAMESPACE = "/bench"
MODERATOR = ("bench", "bench password for the moderator")


# -- the server (a subprocess) --------------------------------------------------------------

def serve(args: argparse.Namespace) -> None:
    """Floor's web app plus two bench-only handlers on their own namespace."""
    if args.server == "gunicorn":
        serve_gunicorn(args)
        return
    if args.async_mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
    from flask_socketio import emit

    from aggregator.base.redis_server import connect
    from aggregator.base.settings import EventSettings, ScreenSettings, Settings
    from web import create_app
    from web.extensions import socketio

    @socketio.on("echo", namespace=BENCH_NAMESPACE)
    def echo(data: Any) -> None:
        emit("echo", data)

    @socketio.on("broadcast", namespace=BENCH_NAMESPACE)
    def broadcast(data: Any) -> None:
        # The bare fan-out: the same room of screens, no Floor work at all.
        socketio.emit("bare", data, namespace="/screen", to="screens")

    # The dev server logs each WebSocket's closing bytes as a bad request: noise here.
    logging.getLogger("werkzeug").disabled = True
    settings = Settings(event=EventSettings(slug=args.event), screen=ScreenSettings())
    app = create_app(settings, connect(args.redis))
    if args.async_mode != "threading":
        socketio.init_app(app, async_mode=args.async_mode)
    options: dict[str, Any] = {}
    if args.nodelay and args.async_mode == "threading":
        from web.extensions import NoDelayRequestHandler  # as `floor web` serves

        options["request_handler"] = NoDelayRequestHandler
    elif args.nodelay and args.async_mode == "gevent":
        from gevent.pywsgi import WSGIHandler

        class NoDelayGevent(WSGIHandler):
            def __init__(self, sock: Any, *rest: Any, **kwargs: Any) -> None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().__init__(sock, *rest, **kwargs)

        options["handler_class"] = NoDelayGevent
    socketio.run(app, host="127.0.0.1", port=args.port, allow_unsafe_werkzeug=True,
                 log_output=False, **options)


def serve_gunicorn(args: argparse.Namespace) -> None:
    """As `floor web` serves (web/serve.py), or with gunicorn's gevent worker for
    ``--async-mode gevent`` (which patches the worker itself). gunicorn always sets
    TCP_NODELAY."""
    from flask_socketio import emit

    from aggregator.base.redis_server import connect
    from aggregator.base.settings import EventSettings, ScreenSettings, Settings
    from web import create_app
    from web.extensions import socketio
    from web.serve import serve

    @socketio.on("echo", namespace=BENCH_NAMESPACE)
    def echo(data: Any) -> None:
        emit("echo", data)

    @socketio.on("broadcast", namespace=BENCH_NAMESPACE)
    def broadcast(data: Any) -> None:
        socketio.emit("bare", data, namespace="/screen", to="screens")

    def build() -> Any:
        settings = Settings(event=EventSettings(slug=args.event), screen=ScreenSettings())
        app = create_app(settings, connect(args.redis))
        if args.async_mode != "threading":
            socketio.init_app(app, async_mode=args.async_mode)
        return app

    worker = "gevent" if args.async_mode == "gevent" else None
    raise SystemExit(serve(build, "127.0.0.1", args.port, worker=worker))


def raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """The web app in a subprocess on a free port, with its own event in Redis."""

    def __init__(self, async_mode: str, python: str = sys.executable,
                 nodelay: bool = False, server: str = "gunicorn", via_nginx: bool = False
                 ) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="floor-bench-")
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            from aggregator.base.redis_server import connect, url_of

            self._embedded = connect(url="", data_dir=Path(self.tmp.name) / "redis")
            redis_url = url_of(self._embedded)
        from aggregator.base.redis_server import connect
        from aggregator.core.store import Store
        from web.accounts import Accounts
        from web.screen_links import ScreenLinks

        self.event = "bench-" + uuid.uuid4().hex[:8]
        self.conn = connect(redis_url)
        self.store = Store(self.conn, self.event)
        Accounts(self.conn, self.event).add(*MODERATOR)
        self.token = ScreenLinks(self.conn, self.event).create("bench")[0]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FLOOR_SECRET_KEY": "bench", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [python, __file__, "--serve", "--port", str(self.port), "--event", self.event,
             "--redis", redis_url, "--async-mode", async_mode, "--server", server,
             *([] if nodelay else ["--delayed-ack"])], env=env)
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: the server did not start")
            time.sleep(0.1)
        self.proxy = None
        if via_nginx:  # the clients go through nginx, as in docs/deployment.md
            from tests import nginx_proxy

            listen = free_port()
            self.proxy = nginx_proxy.start(Path(self.tmp.name) / "nginx", listen, [self.port])
            while True:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", listen)) == 0:
                        break
                if self.proxy.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("bench: nginx did not start")
                time.sleep(0.1)
            self.url = f"http://127.0.0.1:{listen}"

    def ingest(self, text: str) -> str:
        from aggregator.core.normalise import normalise
        from aggregator.core.question import Post

        post = Post("web", uuid.uuid4().hex, text, "Bench Viewer")
        (qid,) = self.store.ingest("web", [(normalise(post), {})])
        return str(qid)

    def stop(self) -> None:
        if self.proxy is not None:
            from tests import nginx_proxy

            nginx_proxy.stop(self.proxy)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        from aggregator.base.keys import Keys

        keys = list(self.conn.scan_iter(Keys(self.event).pattern, count=1000))
        if keys:
            self.conn.delete(*keys)
        self.tmp.cleanup()


# -- clients --------------------------------------------------------------------------------

def screen_client(url: str, token: str, on_board: Callable[[dict], None],
                  on_bare: Callable[[dict], None] | None = None,
                  namespaces: tuple[str, ...] = ("/screen",),
                  on_lost: Callable[..., None] | None = None,
                  on_refused: Callable[[Any], None] | None = None) -> Any:
    import socketio

    client = socketio.Client(reconnection=False)
    if on_refused is not None:
        client.on("connect_error", on_refused, namespace="/screen")
    client.on("board", on_board, namespace="/screen")
    if on_bare is not None:
        client.on("bare", on_bare, namespace="/screen")
    if on_lost is not None:
        client.on("disconnect", on_lost, namespace="/screen")
    client.connect(url, namespaces=list(namespaces), transports=["websocket"],
                   auth={"token": token}, wait_timeout=30)
    # python-engineio's client gives up when it has sent nothing for ping interval + 5 s, so a
    # ping answered a few seconds late on this overloaded machine (1,000 clients on 2 cores)
    # cuts it off. Browsers wait for interval + timeout (45 s); give these clients as long.
    client.eio.ping_interval += client.eio.ping_timeout
    return client


def console_client(url: str) -> Any:
    """A moderator's console socket, logged in through the login form (CSRF and all)."""
    import requests
    import socketio

    http = requests.Session()
    page = http.get(f"{url}/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    data = {"username": MODERATOR[0], "password": MODERATOR[1]}
    if token:
        data["csrf_token"] = token[1]
    response = http.post(f"{url}/login", data=data, allow_redirects=False)
    if response.status_code != 302:
        raise SystemExit(f"bench: cannot log in ({response.status_code})")
    client = socketio.Client(http_session=http, reconnection=False)
    client.connect(url, namespaces=["/console"], transports=["websocket"], wait_timeout=30)
    return client


def hang_up(client: Any) -> None:
    """Close at once: a polite close waits seconds for the dev server's close frame."""
    client.reconnection = False
    ws = getattr(client.eio, "ws", None)
    if ws is not None and ws.sock is not None:
        try:
            ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    client.disconnect()


def shown_as(qid: str) -> str:
    """The id a screen knows question ``qid`` by (the board never carries platform ids)."""
    from web.screen import screen_id

    return screen_id(qid)


def act(console: Any, action: str, qid: str, version: int, **params: Any) -> None:
    console.emit("act", {"action": action, "qid": qid, "version": version, "params": params},
                 namespace="/console")


class Tally:
    """Inside a worker: per key, how many of its screens have seen it, and when the last did.
    Once all have, the worker tells the bench (CLOCK_MONOTONIC is shared by the processes)."""

    def __init__(self, count: int, pipe: Any) -> None:
        self.count = count
        self.pipe = pipe
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.stopping = False

    def screen(self) -> tuple[Callable[[dict], None], Callable[[dict], None],
                              Callable[..., None]]:
        """Handlers for one screen: board, bare broadcast, disconnect."""
        mine: set[str] = set()

        def note(key: str) -> None:
            now = time.monotonic_ns()
            if key in mine:
                return
            mine.add(key)
            with self.lock:
                self.seen[key] = self.seen.get(key, 0) + 1
                self.last[key] = max(self.last.get(key, 0), now)
                if self.seen[key] == self.count:
                    self.pipe.send((key, self.last[key]))

        def on_board(board: dict) -> None:
            for q in board.get("next", []):
                note(q["id"])

        def on_bare(data: dict) -> None:
            note(f"bare:{data['round']}")

        def on_lost(*reason: Any) -> None:
            if not self.stopping:
                with self.lock:
                    self.pipe.send(("lost", 1))

        return on_board, on_bare, on_lost


def screens_worker(url: str, token: str, count: int, pipe: Any, clients: str) -> None:
    """A child process holding ``count`` screens (threads, or asyncio with aiohttp)."""
    raise_file_limit(count * 4 + 256)
    tally = Tally(count, pipe)
    if clients == "asyncio":
        import asyncio

        asyncio.run(_async_screens(url, token, count, tally))
        return
    refusals: list[str] = []

    def open_screen(handlers: Any) -> Any:
        import socketio

        said: list[Any] = []
        try:
            return screen_client(url, token, handlers[0], handlers[1], on_lost=handlers[2],
                                 on_refused=said.append)
        except socketio.exceptions.ConnectionError as exc:  # a full server says why
            refusals.append(_words(said, exc))
            return None

    with ThreadPoolExecutor(16) as pool:
        screens = [c for c in pool.map(open_screen, [tally.screen() for _ in range(count)])
                   if c is not None]
    tally.count = len(screens)
    pipe.send(("ready", (len(screens), refusals)))
    pipe.recv()  # told to stop
    tally.stopping = True
    for client in screens:
        hang_up(client)


def _words(said: list[Any], exc: Exception) -> str:
    """What the server said when it refused a screen (its connect_error), else the error."""
    for data in said:
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    return str(exc)


async def _async_screens(url: str, token: str, count: int, tally: Tally) -> None:
    """python-socketio's asyncio client: one event loop for all, far cheaper per message than
    a thread per client, so the bench measures the server rather than its own clients."""
    import asyncio

    import socketio

    gate = asyncio.Semaphore(32)

    async def connect() -> Any:
        on_board, on_bare, on_lost = tally.screen()
        client = socketio.AsyncClient(reconnection=False)
        client.on("board", on_board, namespace="/screen")
        client.on("bare", on_bare, namespace="/screen")
        client.on("disconnect", on_lost, namespace="/screen")
        said: list[Any] = []
        client.on("connect_error", said.append, namespace="/screen")
        async with gate:
            try:
                await client.connect(url, namespaces=["/screen"], transports=["websocket"],
                                     auth={"token": token}, wait_timeout=30)
            except socketio.exceptions.ConnectionError as exc:  # a full server says why
                refusals.append(_words(said, exc))
                return None
        client.eio.ping_interval += client.eio.ping_timeout  # see screen_client
        return client

    refusals: list[str] = []
    screens = [c for c in await asyncio.gather(*(connect() for _ in range(count)))
               if c is not None]
    tally.count = len(screens)
    tally.pipe.send(("ready", (len(screens), refusals)))
    await asyncio.get_running_loop().run_in_executor(None, tally.pipe.recv)
    tally.stopping = True
    # Close each client's HTTP session without the polite goodbye (which waits on the server):
    # their sockets close with it, and aiohttp has nothing left to complain about at exit.
    await asyncio.gather(*(client.eio.http.close() for client in screens if client.eio.http),
                         return_exceptions=True)


class Screens:
    """Screens in child processes; ``wait(key)`` returns when all have seen ``key``."""

    def __init__(self, url: str, token: str, count: int, processes: int,
                 clients: str = "threads") -> None:
        ctx = mp.get_context("spawn")
        self.count = count
        self.pipes: list[Any] = []
        self.procs: list[Any] = []
        self.results: dict[str, list[int]] = {}
        self.lost = 0
        self.cond = threading.Condition()
        sizes = [count // processes + (1 if i < count % processes else 0)
                 for i in range(processes)]
        for size in sizes:
            if size == 0:
                continue
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=screens_worker,
                               args=(url, token, size, theirs, clients), daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)
        # Screens a full server refused (its words, and how many said them), and those served.
        self.refused: dict[str, int] = {}
        self.served = 0
        waiting = []
        for pipe in self.pipes:
            key, (served, refusals) = pipe.recv()
            assert key == "ready"
            self.served += served
            for words in refusals:
                self.refused[words] = self.refused.get(words, 0) + 1
            if served:
                waiting.append(pipe)
        self.waiting = len(waiting)
        for pipe in self.pipes:
            threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe: Any) -> None:
        while True:
            try:
                key, when = pipe.recv()
            except (EOFError, OSError):
                return
            with self.cond:
                if key == "lost":
                    self.lost += 1
                    print("bench: a screen lost its connection", file=sys.stderr)
                else:
                    self.results.setdefault(key, []).append(when)
                self.cond.notify_all()

    def wait(self, key: str, timeout: float = 30) -> int:
        """CLOCK_MONOTONIC ns at which the last of these screens saw ``key``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.results.get(key, [])) < self.waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"bench: not every screen saw {key} "
                                     f"({self.lost} lost their connection)")
                self.cond.wait(left)
            return max(self.results[key])

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.send("stop")
        for proc in self.procs:
            proc.join(timeout=30)


def default_clients() -> str:
    """asyncio clients when aiohttp is there (cheap per message), else a thread per client."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return "threads"
    return "asyncio"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(name: str, values_ms: list[float]) -> str:
    return (f"{name:<44} p50 {percentile(values_ms, 50):7.3f} ms   "
            f"p99 {percentile(values_ms, 99):7.3f} ms   (n={len(values_ms)})")


# -- the measurement ------------------------------------------------------------------------

def add_server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", choices=["gunicorn", "dev"], default="gunicorn",
                        help="gunicorn as `floor web` runs it (with --async-mode gevent: its "
                             "gevent worker), or the development server of socketio.run.")
    parser.add_argument("--via-nginx", action="store_true",
                        help="Clients connect through Debian's nginx configured as in "
                             "docs/deployment.md (tests/nginx_proxy.py).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screens", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--async-mode", default="threading", choices=["threading", "gevent"])
    parser.add_argument("--delayed-ack", dest="nodelay", action="store_false",
                        help="Serve without TCP_NODELAY, to see what it saves (see the README; "
                             "dev server only).")
    add_server_option(parser)
    parser.add_argument("--python", default=sys.executable,
                        help="Interpreter for the server (e.g. a venv with gevent).")
    parser.add_argument("--clients", choices=["threads", "asyncio"], default=default_clients(),
                        help="The other screens' client: asyncio needs aiohttp.")
    parser.add_argument("--smoke", action="store_true",
                        help="A few rounds with 3 screens, to see that the bench still works "
                             "(CI runs this; its figures mean nothing).")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--event", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if args.smoke:
        args.screens, args.rounds = 3, 3
    raise_file_limit(args.screens * 4 + 256)
    server = Server(args.async_mode, args.python, args.nodelay, args.server, args.via_nginx)
    others = None
    clients: list[Any] = []
    try:
        others = Screens(server.url, server.token, args.screens - 1, 1, args.clients)
        seen: dict[str, int] = {}
        arrived = threading.Event()
        echoed: list[int] = []
        bared: dict[int, int] = {}

        def on_board(board: dict) -> None:
            now = time.perf_counter_ns()
            for q in board.get("next", []):
                seen.setdefault(q["id"], now)
            arrived.set()

        def on_echo(data: Any) -> None:
            echoed.append(time.perf_counter_ns())
            arrived.set()

        def on_bare(data: dict) -> None:
            bared.setdefault(data["round"], time.perf_counter_ns())
            arrived.set()

        # Connected last, so served last by every broadcast to the room.
        screen = screen_client(server.url, server.token, on_board, on_bare,
                               namespaces=("/screen", BENCH_NAMESPACE))
        screen.on("echo", on_echo, namespace=BENCH_NAMESPACE)
        console = console_client(server.url)
        clients = [screen, console]

        def wait(test: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 10
            while not test():
                if time.monotonic() > deadline:
                    raise SystemExit("bench: no update within 10 s")
                arrived.wait(0.5)
                arrived.clear()

        def timed(start: int, start_mono: int, received: int, others_at: int) -> tuple[float,
                                                                                        float]:
            """(this screen, all screens) in ms."""
            return (received - start) / 1e6, max(others_at - start_mono, received - start) / 1e6

        # The same payload as a board, for the bare broadcast.
        payload = {"id": "0-0", "current": None, "next": [
            {"id": "0" * 16, "text": "Bench question 0: will the figures be published?",
             "platform": "Web form", "asked_by": 1, "author": "Bench Viewer"}]}
        rows: dict[str, list[float]] = {name: [] for name in (
            "rtt", "bare_one", "bare_all", "floor_one", "floor_all")}
        warm_up = 1 if args.smoke else 20
        for round_ in range(args.rounds + warm_up):
            keep = round_ >= warm_up
            # 1. Floor: a moderator approves; the screens' "next" shows the question.
            qid = server.ingest(f"Bench question {round_}: will the figures be published?")
            shown = shown_as(qid)
            time.sleep(0.005)  # let the "received" entry pass: it changes no screen
            start_mono, start = time.monotonic_ns(), time.perf_counter_ns()
            act(console, "approve", qid, 1)
            wait(lambda q=shown: q in seen)  # type: ignore[misc]
            one, every = timed(start, start_mono, seen[shown], others.wait(shown))
            if keep:
                rows["floor_one"].append(one)
                rows["floor_all"].append(every)
            act(console, "reject", qid, 2, reason="bench: clearing the queue")
            time.sleep(0.01)

            # 2. Bare broadcast of a board-sized payload to the same room.
            start_mono, start = time.monotonic_ns(), time.perf_counter_ns()
            screen.emit("broadcast", {**payload, "round": round_}, namespace=BENCH_NAMESPACE)
            wait(lambda r=round_: r in bared)  # type: ignore[misc]
            one, every = timed(start, start_mono, bared[round_], others.wait(f"bare:{round_}"))
            if keep:
                rows["bare_one"].append(one)
                rows["bare_all"].append(every)
            time.sleep(0.005)

            # 3. Bare round trip: emit, and the server emits it straight back.
            count = len(echoed)
            start = time.perf_counter_ns()
            screen.emit("echo", {"round": round_}, namespace=BENCH_NAMESPACE)
            wait(lambda c=count: len(echoed) > c)  # type: ignore[misc]
            if keep:
                rows["rtt"].append((echoed[count] - start) / 1e6)

        n = args.screens
        print(f"bench/latency: {n} screens connected, {args.rounds} rounds, async mode "
              f"{args.async_mode}, TCP_NODELAY {'on' if args.nodelay else 'off'}, "
              f"{args.clients} clients, load {os.getloadavg()[0]:.1f}")
        print(summary("bare Socket.IO emit -> receive round trip", rows["rtt"]))
        print(summary("bare broadcast -> the last-served screen", rows["bare_one"]))
        print(summary(f"bare broadcast -> all {n} screens", rows["bare_all"]))
        print(summary("approve -> the last-served screen updated", rows["floor_one"]))
        print(summary(f"approve -> all {n} screens updated", rows["floor_all"]))
        ratio = percentile(rows["floor_one"], 99) / percentile(rows["rtt"], 99)
        print(f"ratio p99 approve->screen / p99 bare round trip: {ratio:.2f}x (target <= 3x)")
        ratio = percentile(rows["floor_one"], 99) / percentile(rows["bare_one"], 99)
        print(f"ratio p99 approve->screen / p99 bare broadcast to the same screens: "
              f"{ratio:.2f}x")
        ratio = percentile(rows["floor_all"], 99) / percentile(rows["bare_all"], 99)
        print(f"ratio p99 approve->all {n} screens / p99 bare broadcast->all {n} screens: "
              f"{ratio:.2f}x (target <= 1.25x)")
    finally:
        for client in clients:
            hang_up(client)
        if others is not None:
            others.stop()
        server.stop()


if __name__ == "__main__":
    main()
