"""Every documented shape of REDIS_URL, read once (aggregator.base.redis_server.parse_url) and
served by every client Floor makes: a moderator's failed login is counted by the rate limiter, a
good one gets in, and an approval over the console's socket lands on the server the URL names.

Each shape runs against its own real redis-server processes on loopback: one server (with and
without a database number), one over TLS with a throwaway certificate authority, a primary with
a replica behind a Sentinel (with and without a database number, and all over TLS), and a
three-primary Cluster (and one over TLS).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from aggregator.base.keys import Keys
from aggregator.base.redis_server import RedisTarget, connect, parse_url, url_of
from aggregator.base.settings import EventSettings, Settings
from aggregator.core.normalise import normalise
from aggregator.core.question import Post
from aggregator.core.store import Store
from tests.moderators import MODERATOR
from tests.redis_nodes import (
    Node,
    TLSFiles,
    free_port,
    needs_redis_server,
    nodes,
    sentinel_conf,
    server_args,
    start_cluster,
    tls_files,
    tls_server_args,
    wait_for,
)
from web import create_app
from web.accounts import Accounts
from web.extensions import socketio

# One at a time on one pytest-xdist worker (docs/testing.md, "In parallel"): its own
# redis-servers, Sentinels and a Cluster, some on TLS, for the module.
pytestmark = pytest.mark.xdist_group("servers")

SERVICE = "floor"
_ids = itertools.count(1)


# -- the parser -------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("redis://db.example:6380", RedisTarget(
        "redis://db.example:6380", "server", nodes=(("db.example", 6380),))),
    ("redis://db.example/3", RedisTarget(
        "redis://db.example/3", "server", nodes=(("db.example", 6379),), db=3)),
    ("rediss://floor:s%40cret@db.example:6380/2?ssl_ca_certs=/etc/ca.pem", RedisTarget(
        "rediss://floor:s%40cret@db.example:6380/2?ssl_ca_certs=/etc/ca.pem", "server",
        nodes=(("db.example", 6380),), db=2, username="floor", password="s@cret", tls=True,
        tls_options=(("ssl_ca_certs", "/etc/ca.pem"),))),
    ("unix:///run/redis.sock?db=4", RedisTarget(
        "unix:///run/redis.sock?db=4", "unix", path="/run/redis.sock", db=4)),
    ("redis+sentinel://:pw@a:26380,b/floor", RedisTarget(
        "redis+sentinel://:pw@a:26380,b/floor", "sentinel", nodes=(("a", 26380), ("b", 26379)),
        service="floor", password="pw")),
    ("redis+sentinel://a:26379,b/floor/2", RedisTarget(
        "redis+sentinel://a:26379,b/floor/2", "sentinel", nodes=(("a", 26379), ("b", 26379)),
        service="floor", db=2)),
    ("redis+cluster://a:7000,b:7001", RedisTarget(
        "redis+cluster://a:7000,b:7001", "cluster", nodes=(("a", 7000), ("b", 7001)))),
    ("rediss+cluster://a:7000", RedisTarget(
        "rediss+cluster://a:7000", "cluster", nodes=(("a", 7000),), tls=True)),
])
def test_each_url_shape_reads_as_one_value(url: str, expected: RedisTarget) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize(("url", "says"), [
    ("http://db.example", "starts with one of"),
    ("redis+sentinel://a:26379", "names the service"),
    ("redis+sentinel://a:26379/floor/0/1", "one database number"),
    ("redis+cluster://a:7000/3", "only database 0"),
    ("redis://a,b", "names one server"),
    ("redis://a/x", "is a number"),
    ("redis://a/1?db=2", "two databases"),
    ("redis://a?socket_timeout=1", "no option socket_timeout"),
    ("redis://a?ssl_ca_certs=/etc/ca.pem", "need TLS: rediss://"),
])
def test_a_url_floor_cannot_serve_is_refused_saying_why(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_url(url)


# -- each shape, served for real -----------------------------------------------------------------

@dataclass
class Place:
    """A REDIS_URL, and a client of our own (not made from that URL) on where its data must
    land."""

    url: str
    holds_data: redis.Redis | redis.RedisCluster


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("redis-urls")


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[Node]:
    with nodes() as started:
        port = free_port()
        started.append(Node(folder / "server", port, server_args(port)))
        yield started[0]


@pytest.fixture(scope="module")
def tls(folder: Path) -> TLSFiles:
    return tls_files(folder / "certificates")


@pytest.fixture(scope="module")
def tls_server(folder: Path, tls: TLSFiles) -> Iterator[Node]:
    with nodes() as started:
        port = free_port()
        started.append(Node(folder / "tls", port, tls_server_args(port, tls),
                            client_options=tls.client_options))
        yield started[0]


@contextmanager
def sentinel_deployment(folder: Path, tls: TLSFiles | None = None) -> Iterator[tuple[Node, Node]]:
    """(the primary, its Sentinel); a replica keeps the actions' WAIT short."""
    options = tls.client_options if tls else None

    def args(port: int, *extra: str) -> list[str]:
        return tls_server_args(port, tls, *extra) if tls else server_args(port, *extra)

    with nodes() as started:
        first, second, watch = free_port(), free_port(), free_port()
        primary = Node(folder / "primary", first, args(first), client_options=options)
        started.append(primary)
        replica = Node(folder / "replica", second,
                       args(second, "--replicaof", "127.0.0.1", str(first)),
                       client_options=options)
        started.append(replica)
        wait_for(lambda: replica.client.info("replication")["master_link_status"] == "up",
                 what="the replica to sync")
        conf = sentinel_conf(folder / "sentinel", watch, SERVICE, first, quorum=1, tls=tls)
        started.append(Node(conf.parent, watch, [str(conf), "--sentinel"],
                            client_options=options))
        yield primary, started[-1]


@pytest.fixture(scope="module")
def sentinel(folder: Path) -> Iterator[tuple[Node, Node]]:
    with sentinel_deployment(folder / "sentinel") as deployment:
        yield deployment


@pytest.fixture(scope="module")
def tls_sentinel(folder: Path, tls: TLSFiles) -> Iterator[tuple[Node, Node]]:
    with sentinel_deployment(folder / "tls-sentinel", tls) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def cluster(folder: Path) -> Iterator[list[Node]]:
    with nodes() as started:
        yield start_cluster(folder / "cluster", started)


@pytest.fixture(scope="module")
def tls_cluster(folder: Path, tls: TLSFiles) -> Iterator[list[Node]]:
    with nodes() as started:
        yield start_cluster(folder / "tls-cluster", started, tls=tls)


@pytest.fixture(params=["plain", "db", "tls", "sentinel", "sentinel-db", "tls-sentinel",
                        "cluster", "tls-cluster"])
def place(request: pytest.FixtureRequest) -> Iterator[Place]:
    made: list[redis.Redis | redis.RedisCluster] = []
    kind = request.param
    tls: TLSFiles | None = request.getfixturevalue("tls") if "tls" in kind else None
    scheme, query = ("rediss", f"?ssl_ca_certs={tls.ca}") if tls else ("redis", "")
    options = tls.client_options if tls else {}

    def own(port: int, db: int) -> redis.Redis:
        made.append(redis.Redis(host="127.0.0.1", port=port, db=db, decode_responses=True,
                                **options))
        return made[-1]

    if kind in ("plain", "db", "tls"):
        node: Node = request.getfixturevalue("tls_server" if tls else "server")
        db = {"plain": 0, "db": 3, "tls": 1}[kind]
        path = f"/{db}" if db else ""
        yield Place(f"{scheme}://127.0.0.1:{node.port}{path}{query}", own(node.port, db))
    elif "sentinel" in kind:
        primary, watch = request.getfixturevalue(kind.replace("-db", "").replace("-", "_"))
        db = {"sentinel": 0, "sentinel-db": 3, "tls-sentinel": 2}[kind]
        path = f"/{db}" if db else ""
        yield Place(f"{scheme}+sentinel://127.0.0.1:{watch.port}/{SERVICE}{path}{query}",
                    own(primary.port, db))
    else:
        members: list[Node] = request.getfixturevalue(kind.replace("-", "_"))
        made.append(redis.RedisCluster(host="127.0.0.1", port=members[-1].port,
                                       decode_responses=True, **options))
        seeds = ",".join(f"127.0.0.1:{m.port}" for m in members[:2])
        yield Place(f"{scheme}+cluster://{seeds}{query}", made[-1])
    for client in made:
        client.close()


@needs_redis_server
@pytest.mark.slow
def test_a_moderator_logs_in_and_acts_under_every_documented_url(place: Place) -> None:
    event = "t-url-" + uuid.uuid4().hex[:10]
    conn = connect(place.url)
    assert url_of(conn) == place.url
    post = Post("x", str(next(_ids)), "Will the library open on Sundays?", "Ann", "ann")
    qid = Store(conn, event).ingest("x", [(normalise(post), {"id": post.native_id})])[0]
    Accounts(conn, event).add(*MODERATOR)
    app = create_app(Settings(event=EventSettings(slug=event)), conn,
                     test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    http = app.test_client()
    sock = None
    try:
        wrong = http.post("/login", data={"username": MODERATOR[0], "password": "wrong"})
        assert wrong.status_code == 401, wrong.text
        # Counted once by every window of the login's limits, where the URL says.
        counters = list(place.holds_data.scan_iter(f"LIMITS:*{event}*"))
        assert any(":user:" in key for key in counters), counters
        assert [place.holds_data.get(key) for key in counters] == ["1"] * len(counters)
        right = http.post("/login", data={"username": MODERATOR[0], "password": MODERATOR[1]})
        assert right.status_code == 302, right.text

        sock = socketio.test_client(app, namespace="/console", flask_test_client=http)
        assert sock.is_connected("/console")
        reply = sock.emit("act", {"action": "approve", "qid": qid, "version": 1, "params": {}},
                          namespace="/console", callback=True)
        assert reply["ok"], reply
        projection = place.holds_data.hget(Keys(event).question(qid), "data")
        assert json.loads(projection or "{}")["state"] == "approved"
    finally:
        if sock is not None and sock.is_connected("/console"):
            sock.disconnect("/console")
        app.extensions["floor"].feed.stop()
        conn.close()
