"""Floor on a real three-primary Redis Cluster on loopback.

Every key of an event carries the hash tag ``{slug}`` (aggregator/base/keys.py), so the store's Lua
script and the moderation's WATCH/MULTI transactions, which touch several keys at once, run in
one slot. The whole store, moderation and screen test modules run here against the cluster,
with REDIS_URL=redis+cluster://..., so every operation they cover (the ingest script, every
moderator action's WATCH/MULTI, the board's script, the log's XREAD, the state machine's racing
moderators) runs in cluster mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import key_slot

from aggregator.base.keys import Keys
from aggregator.base.redis_server import connect
from aggregator.core.store import Store
from tests.redis_nodes import needs_redis_server, nodes, start_cluster

# Each pytest-xdist worker that runs these starts its own three redis-servers (the module's
# fixture); they are not timed, so they may run beside anything.

REPO = Path(__file__).resolve().parent.parent


def test_every_key_of_an_event_is_in_one_slot() -> None:
    keys = Keys("agm-2026")
    names = [getattr(keys, name) for name in dir(Keys)
             if isinstance(getattr(Keys, name), property) and name != "pattern"]
    names += [keys.question("youtube:abc"), keys.health("x"), keys.heartbeat("x")]
    assert len(names) > 15
    assert {key_slot(name.encode()) for name in names} == {key_slot(b"agm-2026")}
    assert key_slot(Keys("other").log.encode()) != key_slot(keys.log.encode())


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("cluster")
    with nodes() as started:
        start_cluster(folder, started)
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in started)


@needs_redis_server
def test_a_cluster_url_makes_a_cluster_client(cluster_url: str) -> None:
    conn = connect(cluster_url)
    try:
        assert isinstance(conn, redis.RedisCluster)
        assert len(conn.get_primaries()) == 3
        store = Store(conn, "t-one-slot")
        assert store.question_ids() == []
    finally:
        conn.close()


# One module a test, so that pytest-xdist can give them to different workers.
@needs_redis_server
@pytest.mark.slow
@pytest.mark.parametrize("module", ["test_store.py", "test_moderation.py", "test_screen.py"])
def test_store_moderation_and_screens_run_on_the_cluster(cluster_url: str, module: str) -> None:
    env = {**os.environ, "REDIS_URL": cluster_url, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist",
         f"tests/{module}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
