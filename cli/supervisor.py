"""``floor run``'s processes: start them, restart one that dies (ever more slowly while it keeps
dying), stop at once when one cannot run as configured, and stop them all on a signal.

Only the standard library (and click, through cli/context.py) here: the supervisor outlives its
children and must not pay for the web stack it never runs itself.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from types import FrameType

from cli.context import EX_CONFIG  # a child that exits with it is not restarted

log = logging.getLogger("floor.run")

# How long the processes get to stop before they are killed.
STOP_GRACE = 10.0
# A process that dies is restarted after FIRST_DELAY, then twice as long after each quick death
# in a row, up to MAX_DELAY: a broken one costs little CPU and the log stays readable. One that
# ran STABLE_AFTER seconds before dying counts as healthy again.
FIRST_DELAY = 2.0
MAX_DELAY = 60.0
STABLE_AFTER = 60.0


def restart_delay(failures: int, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> float:
    """The wait before the next start after ``failures`` (>= 1) quick deaths in a row."""
    return float(min(cap, first * 2 ** min(max(failures - 1, 0), 32)))


def listen_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host:port`` now, with what to do (None if it could),
    found by binding it as the web server will (SO_REUSEADDR: a port in TIME_WAIT is free)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        return f"unknown address ({exc.strerror}); choose another with --host"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            hint = {
                errno.EADDRINUSE: "stop what uses it, or choose another port with --port",
                errno.EACCES: "ports below 1024 need privileges; choose another with --port",
                errno.EADDRNOTAVAIL: "this machine has no such address; choose another with "
                                     "--host (0.0.0.0: all of its addresses)",
            }.get(exc.errno or 0, "choose another --host or --port")
            return f"{exc.strerror or exc}; {hint}"
    return None


class Supervisor:
    """Runs Floor's processes as children; see the module's docstring."""

    def __init__(self, commands: dict[str, list[str]], *, first_delay: float = FIRST_DELAY,
                 max_delay: float = MAX_DELAY, stable_after: float = STABLE_AFTER) -> None:
        self.commands = commands
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.stopping = threading.Event()
        self.first_delay, self.max_delay, self.stable_after = first_delay, max_delay, stable_after

    def start(self, name: str) -> None:
        # A session of their own: Ctrl-C reaches only us, and we stop them once, in order.
        self.children[name] = subprocess.Popen(self.commands[name], start_new_session=True)
        self.started[name] = time.monotonic()

    def start_all(self) -> None:
        signal.signal(signal.SIGINT, self._signalled)
        signal.signal(signal.SIGTERM, self._signalled)
        for name in self.commands:
            self.start(name)

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        """The first signal stops the children gracefully; a second kills them at once (we never
        exit before them: that would orphan them, and the embedded Redis with them)."""
        if not self.stopping.is_set():
            self.stopping.set()
            return
        log.warning("run: second signal; killing the processes now")
        for child in self.children.values():
            if child.poll() is None:
                child.kill()

    def wait_for_port(self, name: str, host: str, port: int, timeout: float = 60.0) -> bool:
        """Wait until child ``name`` accepts connections (False if it died or we stop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            if self.children[name].poll() is not None:
                return False
            with socket.socket() as probe:
                if probe.connect_ex((host, port)) == 0:
                    return True
            time.sleep(0.1)
        return False

    def watch(self, report: Callable[[], None] | None = None, every: float = 60.0) -> int:
        """Restart children that die until a signal asks us to stop, calling ``report`` every
        ``every`` seconds; then stop them all. Returns 0, or EX_CONFIG if a child said it
        cannot run as configured (then everything stops at once)."""
        due: dict[str, float] = {}
        next_report = time.monotonic() + every
        try:
            while not self.stopping.wait(min([0.5, *(max(0.0, when - time.monotonic())
                                                      for when in due.values())])):
                now = time.monotonic()
                for name, child in self.children.items():
                    if name in due or child.poll() is None:
                        continue
                    if child.returncode == EX_CONFIG:
                        log.error("run: %s cannot run as configured (its error is above); "
                                  "stopping everything", name)
                        return EX_CONFIG
                    due[name] = now + self._died(name, child.returncode, now)
                for name, when in list(due.items()):
                    if now >= when:
                        del due[name]
                        self.start(name)
                if report is not None and now >= next_report:
                    next_report = now + every
                    report()
        finally:
            self.stop()
        return 0

    def _died(self, name: str, code: int | None, now: float) -> float:
        ran = now - self.started[name]
        failures = 1 if ran >= self.stable_after else self.failures.get(name, 0) + 1
        self.failures[name] = failures
        delay = restart_delay(failures, self.first_delay, self.max_delay)
        if failures == 1:
            log.error("run: %s exited with %s after %.0fs; restarting in %gs", name, code, ran,
                      delay)
        else:
            log.error("run: %s is FAILING: exited with %s after %.0fs, %d times in a row; "
                      "restarting in %gs", name, code, ran, failures, delay)
        return delay

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("run: %s did not stop in time; killing it", name)
                child.kill()
                child.wait()
