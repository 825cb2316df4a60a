"""The rate limiter's storage: the limits library's Redis storage over the event's own client.

Flask-Limiter builds its storage from a URI and options. Given REDIS_URL, the limits library
would parse it again with its own grammar (a Sentinel URL's ``/SERVICE/0`` reads as the service
``SERVICE0``; no TLS for Sentinel or Cluster), and open connections of its own. Instead the URI
names this storage and the options carry the client ``aggregator.base.redis_server`` already made,
whatever REDIS_URL's shape: one server, Sentinel, Cluster or the embedded one.
"""

from __future__ import annotations

import redis
from limits.storage import RedisStorage, Storage

STORAGE_URI = "floor+client://"


class ClientStorage(RedisStorage):
    """limits' Redis storage (its Lua scripts, its keys) on a client made elsewhere."""

    STORAGE_SCHEME = [STORAGE_URI.removesuffix("://")]  # registers the scheme with limits

    def __init__(self, uri: str, client: redis.Redis, key_prefix: str = RedisStorage.PREFIX,
                 wrap_exceptions: bool = False) -> None:
        # RedisStorage's own __init__ would make a client from ``uri``: skip to Storage's.
        Storage.__init__(self, uri, wrap_exceptions=wrap_exceptions)
        self.key_prefix = key_prefix
        self.target_server = "redis"
        self.dependency = self.dependencies["redis"].module
        self.storage = client
        self.initialize_storage(uri)
