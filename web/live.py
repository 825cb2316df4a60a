"""Relay the event's log to the browsers: one tail of the Redis stream per web process.

The stream is the message queue: every change, whoever made it and in whichever process, is an
entry there, so each web process tails it and emits each entry to its own clients, in stream
order. A client that missed entries asks for those after the last id it saw.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask_socketio import SocketIO

from aggregator.core.store import LogEntry, Store

log = logging.getLogger("floor.live")

# How long one XREAD blocks: it returns at once when an entry arrives, so this only bounds how
# long a stop takes to be noticed; an idle feed costs one round trip per block.
BLOCK_MS = 500
RETRY_SECONDS = 1.0


class LiveFeed:
    def __init__(self, socketio: SocketIO, store: Store) -> None:
        self.socketio = socketio
        self.store = store
        self.listeners: list[Callable[[Any, LogEntry], None]] = []
        self._lock = threading.Lock()
        self._server: Any = None
        self._stopped = threading.Event()
        self._thread: Any = None
        # While the listeners run: the id of the log entry before the one they are given (the
        # log's end when the tail started, for its first), so a client can tell a gap.
        self.before = "0-0"

    def on_entry(self, listener: Callable[[Any, LogEntry], None], first: bool = False) -> None:
        """Call ``listener(server, entry)`` for every new log entry, in order; ``first``: before
        the listeners added so far (the screens' push, which a meeting sees, goes before the
        consoles' relay and the tallies: measured in bench/latency.py)."""
        if first:
            self.listeners.insert(0, listener)
        else:
            self.listeners.append(listener)

    def start(self) -> None:
        """Start the tail once for the current Socket.IO server (idempotent). Call it before
        reading the state a client is sent first: the tail starts at the log's end as read
        here, so nothing written after that read is missed. Raises RedisError if Redis is
        away (then a later call tries again)."""
        with self._lock:
            if self._server is self.socketio.server:
                return
            last = self.store.last_log_id()
            self._server = self.socketio.server
            self._stopped.clear()
            self._thread = self.socketio.start_background_task(self._run, self._server, last)

    @property
    def running(self) -> bool:
        """Whether this process's tail of the log is running, for the current server."""
        thread = self._thread
        return (thread is not None and thread.is_alive() and not self._stopped.is_set()
                and self._server is self.socketio.server)

    def stop(self) -> None:
        """Stop the tail and wait for it (within one block)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5 * BLOCK_MS / 1000)

    def _run(self, server: Any, last: str) -> None:
        while self.socketio.server is server and not self._stopped.is_set():
            try:
                entries = self.store.wait_log(last, BLOCK_MS)
            except (redis.RedisError, OSError, ValueError) as exc:
                # OSError/ValueError: the connection was closed under us (the process stops).
                if self._stopped.is_set():
                    return
                log.warning("live: cannot read the log (%s); retrying", exc)
                time.sleep(RETRY_SECONDS)
                continue
            for entry in entries:
                self.before = last
                for listener in self.listeners:
                    self._deliver(listener, server, entry)
                last = entry.id

    def _deliver(self, listener: Any, server: Any, entry: Any) -> None:
        """One listener on one entry. While Redis cannot be reached (a failover, a restart) it
        waits and tries again, so no screen or console misses the entry; any other error is
        logged and the feed goes on (one broken listener must not stop it)."""
        while not self._stopped.is_set():
            try:
                listener(server, entry)
                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("live: cannot reach Redis for entry %s (%s); retrying", entry.id, exc)
                time.sleep(RETRY_SECONDS)
            except Exception:  # noqa: BLE001
                log.exception("live: listener failed on entry %s", entry.id)
                return
