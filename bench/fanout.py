"""Fan-out: time until 1,000 connected screens all have an update, against a bare broadcast to
the same screens on the same server, in the same run.

    python bench/fanout.py [--screens 1000] [--processes 4] [--rounds 20] [--delayed-ack]
                           [--async-mode threading|gevent] [--python PYTHON] [--sockets N]

Starts Floor's web app in a subprocess (see bench/latency.py), connects SCREENS screen clients
(python-socketio over WebSocket) spread over PROCESSES child processes, and a moderator's
console. Each round, alternately: a moderator approves a question and we time until every
screen has a board showing it; and a bench-only handler broadcasts a payload of the same size
to the same room, with no Floor work, and we time until every screen has it. Prints p50 and the
worst of each, and the ratio (targets: within 2x of the bare broadcast, never over a second).

A node takes at most ``FLOOR_SOCKETS`` sockets (``--sockets``; default ``floor web``'s: its
threads less 100, web/capacity.py): screens past that are refused in words, counted and shown,
and the rounds run with the screens served. The console and the bench's own control socket
connect first. Each round also times ``GET /login`` while the screens are connected (target:
within a second at any load, issue 26).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency import (  # noqa: E402
    BENCH_NAMESPACE,
    Screens,
    Server,
    act,
    add_server_option,
    console_client,
    default_clients,
    hang_up,
    percentile,
    raise_file_limit,
    screen_client,
    shown_as,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screens", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--async-mode", default="threading", choices=["threading", "gevent"])
    parser.add_argument("--delayed-ack", dest="nodelay", action="store_false",
                        help="Serve without TCP_NODELAY, to see what it saves (see the README).")
    add_server_option(parser)
    parser.add_argument("--python", default=sys.executable,
                        help="Interpreter for the server (e.g. a venv with gevent).")
    parser.add_argument("--smoke", action="store_true",
                        help="10 screens, 2 rounds, a limit of 10 sockets (two screens refused), "
                             "to see that the bench still works (CI runs this; its figures mean "
                             "nothing).")
    parser.add_argument("--sockets", type=int, default=None,
                        help="The node's socket limit (FLOOR_SOCKETS; default: floor web's).")
    parser.add_argument("--clients", choices=["threads", "asyncio"], default=default_clients(),
                        help="The screens' client: asyncio (needs aiohttp) is far cheaper.")
    args = parser.parse_args()
    if args.smoke:  # a limit of 10 sockets: the console, the control socket (two), 7 screens
        args.screens, args.processes, args.rounds = 10, 1, 2
        args.sockets = 10 if args.sockets is None else args.sockets
    # Each screen is a socket here and one in the server (a child of ours: it inherits this).
    raise_file_limit(args.screens * 2 + 1024)
    if args.sockets is not None:
        os.environ["FLOOR_SOCKETS"] = str(args.sockets)  # the server's environment
    server = Server(args.async_mode, args.python, args.nodelay, args.server, args.via_nginx)
    screens = None
    clients: list[Any] = []
    try:
        console = console_client(server.url)
        control = screen_client(server.url, server.token, lambda board: None,
                                namespaces=("/screen", BENCH_NAMESPACE))
        clients = [console, control]
        started = time.monotonic()
        screens = Screens(server.url, server.token, args.screens, args.processes, args.clients)
        connected = time.monotonic() - started
        if not screens.served:
            raise SystemExit(f"bench/fanout: no screen was served: {screens.refused}")
        login_ms: list[float] = []
        # Every screen got this board; a bare payload of the same size keeps the rounds fair.
        payload = {"id": "0-0", "current": None, "next": [
            {"id": "0" * 16, "text": "Bench question 0: will the figures be published?",
             "platform": "Web form", "asked_by": 1, "author": "Bench Viewer"}]}
        floor_ms, bare_ms = [], []
        for round_ in range(args.rounds + 2):
            qid = server.ingest(f"Bench question {round_}: will the figures be published?")
            time.sleep(0.05)
            start = time.monotonic_ns()
            act(console, "approve", qid, 1)
            done = screens.wait(shown_as(qid))
            if round_ >= 2:
                floor_ms.append((done - start) / 1e6)
            act(console, "reject", qid, 2, reason="bench: clearing the queue")
            time.sleep(0.3)  # every screen takes the clearing board before the next round

            start = time.monotonic_ns()
            control.emit("broadcast", {**payload, "round": round_}, namespace=BENCH_NAMESPACE)
            done = screens.wait(f"bare:{round_}")
            if round_ >= 2:
                bare_ms.append((done - start) / 1e6)
            time.sleep(0.3)
            login_ms.append(http_ms(server.url + "/login"))

        print(f"bench/fanout: {args.screens} screens ({args.clients} clients) in "
              f"{args.processes} processes (connected in {connected:.1f} s), {args.rounds} "
              f"rounds, {args.server} server{' via nginx' if args.via_nginx else ''}, "
              f"async mode {args.async_mode}, TCP_NODELAY "
              f"{'on' if args.nodelay else 'off'}, load {os.getloadavg()[0]:.1f}")
        for name, values in (("bare broadcast -> all screens have it", bare_ms),
                             ("approve -> all screens have the board", floor_ms)):
            print(f"{name:<40} p50 {percentile(values, 50):7.1f} ms   "
                  f"worst {max(values):7.1f} ms")
        print(f"screens served {screens.served} of {args.screens}"
              + "".join(f"; {n} refused: {words!r}" for words, n in screens.refused.items()))
        print(f"GET /login while they are connected: p50 {percentile(login_ms, 50):.0f} ms, "
              f"worst {max(login_ms):.0f} ms (target < 1000 ms)")
        ratio = percentile(floor_ms, 50) / percentile(bare_ms, 50)
        print(f"ratio p50 Floor / bare: {ratio:.2f}x (target <= 2x); "
              f"worst Floor {max(floor_ms):.0f} ms (target < 1000 ms)")
    finally:
        for client in clients:
            hang_up(client)
        if screens is not None:
            screens.stop()
        server.stop()


def http_ms(url: str) -> float:
    """How long one GET takes to answer (any status), in ms; a hang counts as 10 s."""
    import requests

    started = time.monotonic()
    try:
        requests.get(url, timeout=10)
    except requests.RequestException:
        return 10_000.0
    return (time.monotonic() - started) * 1000


if __name__ == "__main__":
    main()
