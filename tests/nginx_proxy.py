"""Debian's nginx in front of Floor's web nodes, as docs/deployment.md configures it: its own
prefix, configuration and port in a given folder, in the foreground, never the system's.
Used by tests/test_nginx.py, and by bench/latency.py (``--via-nginx``), bench/servers.py and
bench/public_page.py, which may import the tests' helpers (tests never import a bench)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin")

CONF = """\
{user}worker_processes 1;
worker_rlimit_nofile 20000;
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 19000; }}
http {{
  access_log off;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  proxy_cache_path tmp/cache levels=1 keys_zone=floor_record:1m max_size=10m inactive=1m;
{body}
}}
"""

# The live public page's micro-cache: nginx keeps /record for the second its Cache-Control
# allows, answers viewers' conditional GETs itself (304 while the ETag holds), lets one request
# at a time through to the web nodes (the rest wait for it, or get the page it replaces while it
# is being fetched), revalidates with If-None-Match, and goes on serving the last page if the
# nodes fail. The web nodes then see about one request a second each, whatever the audience.
RECORD_LOCATION = """\
    location = /record {
      proxy_pass http://floor_web;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache floor_record;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 2s;
      proxy_cache_revalidate on;
      proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;
      add_header X-Cache $upstream_cache_status always;
    }
"""


def http_block(listen: int, nodes: list[int], websockets: bool = True,
               micro_cache: bool = True) -> str:
    """The ``http`` part of docs/deployment.md's configuration, for these loopback ports
    (``websockets=False``: a proxy that drops the Upgrade headers; ``micro_cache=False``:
    /record passed through like any page)."""
    servers = "\n".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;"
                        for port in nodes)
    upgrade = ("      proxy_set_header Upgrade $http_upgrade;\n"
               "      proxy_set_header Connection $connection_upgrade;\n") if websockets else ""
    return f"""\
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream floor_web {{
    ip_hash;
{servers}
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{listen} backlog=16384;
    keepalive_requests 100000;
{RECORD_LOCATION if micro_cache else ""}    location / {{
      proxy_pass http://floor_web;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
    location /socket.io/ {{
      proxy_pass http://floor_web;
      proxy_http_version 1.1;
{upgrade}      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_read_timeout 3600s;
    }}
  }}"""


def start(folder: Path, listen: int, nodes: list[int], websockets: bool = True,
          micro_cache: bool = True) -> subprocess.Popen[bytes]:
    if NGINX is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    (folder / "nginx.conf").write_text(
        CONF.format(body=http_block(listen, nodes, websockets, micro_cache),
                    # Run as root (CI containers), nginx's workers would be "nobody", unable to
                    # write the cache in a private temporary folder: they stay who we are.
                    user="user root;\n" if os.geteuid() == 0 else ""), encoding="utf-8")
    return subprocess.Popen([NGINX, "-p", str(folder), "-c", "nginx.conf", "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
