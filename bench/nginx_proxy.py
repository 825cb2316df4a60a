"""Debian's nginx in front of Floor's web nodes, as docs/deployment.md configures it: its own
prefix, configuration and port in a given folder, in the foreground, never the system's.
Used by bench/latency.py (``--via-nginx``) and tests/test_nginx.py."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin")

CONF = """\
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
{body}
}}
"""


def http_block(listen: int, nodes: list[int], websockets: bool = True) -> str:
    """The ``http`` part of docs/deployment.md's configuration, for these loopback ports
    (``websockets=False``: a proxy that drops the Upgrade headers)."""
    servers = "\n".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;"
                        for port in nodes)
    upgrade = ("      proxy_set_header Upgrade $http_upgrade;\n"
               "      proxy_set_header Connection $connection_upgrade;\n") if websockets else ""
    return f"""\
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream floor_web {{
    ip_hash;
{servers}
  }}
  server {{
    listen 127.0.0.1:{listen};
    location / {{
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


def start(folder: Path, listen: int, nodes: list[int], websockets: bool = True
          ) -> subprocess.Popen[bytes]:
    if NGINX is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    (folder / "nginx.conf").write_text(
        CONF.format(body=http_block(listen, nodes, websockets)), encoding="utf-8")
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
