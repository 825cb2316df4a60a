"""``/metrics`` in Prometheus' text format, for the local machine or a holder of the token.

Figures are read when scraped, from Redis (the event's, shared by every Floor process: the
pollers' health records, the questions, the log) and from this web process (its Socket.IO
clients, its CPU and memory), so nothing in the request paths has to count. Each web process
answers for itself: scrape every one (behind a proxy, each node's own address).

Who may read it: a request from this machine that no proxy forwarded (a loopback address and
no forwarding header: a local nginx always adds X-Forwarded-For, see docs/deployment.md), or
one with ``Authorization: Bearer <FLOOR_METRICS_TOKEN>``.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import redis
from flask import Blueprint, Flask, Response, abort, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from aggregator.base.environment import read_environment
from aggregator.base.keys import Keys
from web import Floor, floor

bp = Blueprint("metrics", __name__)

FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
# Log entries read per scrape at most (the rest at the next one), so a scrape stays quick.
LOG_BATCH = 10_000


def allowed() -> bool:
    token = read_environment().token("FLOOR_METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> Response:
    if not allowed():
        abort(403, "metrics: from this machine, or with Authorization: Bearer "
                   "<FLOOR_METRICS_TOKEN>")
    return Response(generate_latest(floor().metrics), mimetype=CONTENT_TYPE_LATEST)


def _seconds_since(stamp: Any) -> float | None:
    try:
        return max(0.0, time.time() - datetime.fromisoformat(str(stamp)).timestamp())
    except ValueError:
        return None


class FloorCollector:
    """The event's figures, read at each scrape."""

    def __init__(self, conn: redis.Redis, event: str) -> None:
        self.conn = conn
        self.keys = Keys(event)
        self.event = event
        self._lock = threading.Lock()
        self._last_id = "0-0"
        self._actions: dict[str, int] = {}

    def describe(self) -> list[Metric]:
        return []  # figures come from Redis at scrape time: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        from web.extensions import socketio

        yield from self._sources()
        yield from self._followers()
        k = self.keys
        posts = GaugeMetricFamily("floor_questions", "Questions stored for the event",
                                  labels=["event"])
        posts.add_metric([self.event], float(self.conn.zcard(k.questions)))
        yield posts
        length = GaugeMetricFamily("floor_log_length", "Entries in the event's log",
                                   labels=["event"])
        length.add_metric([self.event], float(self.conn.xlen(k.log)))
        yield length
        actions = CounterMetricFamily("floor_log_entries", "Log entries by type: posts "
                                      "ingested (received) and each moderator action",
                                      labels=["event", "type"])
        for kind, count in sorted(self._count_log().items()):
            actions.add_metric([self.event, kind], float(count))
        yield actions
        clients = GaugeMetricFamily("floor_clients_connected", "Socket.IO clients of this web "
                                    "process", labels=["namespace"])
        rooms = socketio.server.manager.rooms if socketio.server is not None else {}
        for namespace in ("/console", "/screen"):
            clients.add_metric([namespace], float(len(rooms.get(namespace, {}).get(None, {}))))
        yield clients

    def _count_log(self) -> dict[str, int]:
        """Entry types, counted from where the last scrape stopped (XRANGE is exclusive
        with ``(``)."""
        with self._lock:
            start = "-" if self._last_id == "0-0" else f"({self._last_id}"
            for entry_id, fields in self.conn.xrange(self.keys.log, start, "+", count=LOG_BATCH):
                kind = str(fields.get("type", "?"))
                self._actions[kind] = self._actions.get(kind, 0) + 1
                self._last_id = entry_id
            return dict(self._actions)

    def _sources(self) -> Iterator[Metric]:
        from aggregator.ingest.health import Health

        records = Health(self.conn, self.event).all()
        families = {
            "polls_total": CounterMetricFamily("floor_source_polls", "Polls made",
                                               labels=["source"]),
            "items_total": CounterMetricFamily("floor_source_items", "Items stored",
                                               labels=["source"]),
            "errors_total": CounterMetricFamily("floor_source_errors", "Polls that failed",
                                                labels=["source"]),
            "pauses_total": CounterMetricFamily("floor_source_rate_limit_pauses",
                                                "Polls answered with a rate limit (a pause)",
                                                labels=["source"]),
        }
        since = GaugeMetricFamily("floor_source_seconds_since_last_item",
                                  "Seconds since the source last stored an item",
                                  labels=["source"])
        alive = GaugeMetricFamily("floor_source_alive", "1 if the poller's heartbeat is fresh",
                                  labels=["source"])
        for name, record in records.items():
            for field, family in families.items():
                family.add_metric([name], float(record.get(field) or 0))
            seconds = _seconds_since(record.get("last_item_at"))
            if seconds is not None:
                since.add_metric([name], seconds)
            alive.add_metric([name], 1.0 if record.get("alive") else 0.0)
        yield from families.values()
        yield since
        yield alive


    def _followers(self) -> Iterator[Metric]:
        from aggregator.ingest.health import Health

        alive = GaugeMetricFamily("floor_follower_alive", "1 if the log follower's heartbeat "
                                  "is fresh (triage worker, ledger writer)", labels=["follower"])
        lag = GaugeMetricFamily("floor_follower_lag", "Log entries the follower has not "
                                "handled yet, as it last reported", labels=["follower"])
        for name, record in Health(self.conn, self.event).followers().items():
            alive.add_metric([name], 1.0 if record.get("alive") else 0.0)
            if isinstance(record.get("lag"), int):
                lag.add_metric([name], float(record["lag"]))
        yield alive
        yield lag


def init_app(app: Flask, f: Floor) -> None:
    """``/metrics``, over this app's registry."""
    f.metrics = registry_for(f.store.conn, f.settings.event.slug)
    app.register_blueprint(bp)


def registry_for(conn: redis.Redis, event: str) -> CollectorRegistry:
    """A registry of the event's figures and this process's own (CPU, memory, files)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FloorCollector(conn, event))  # type: ignore[arg-type]
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
