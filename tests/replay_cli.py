"""Run the ``floor`` CLI in a subprocess with the platforms simulated at the HTTP layer.

    python tests/replay_cli.py EXCHANGES.json poll x --once

EXCHANGES.json is a list of recorded exchanges, served in order for each (method, url):
``{"method": "GET", "url": "https://api.twitter.com/2/tweets/search/recent",
"status": 200, "headers": {...}, "json": {...}}`` (or ``"body": "text"``). ``url`` matches
without its query string. requests-based clients (tweepy, facebook-sdk, instaloader) are
served through ``responses``; httpx-based ones (atproto) through ``respx``; httplib2
(google-api-python-client) through a patched ``httplib2.Http.request``. Anything not listed
fails the request, as it would offline.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict, deque
from typing import Any
from urllib.parse import urlsplit

import httplib2
import httpx
import responses
import respx


def _key(method: str, url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return method.upper(), f"{parts.scheme}://{parts.netloc}{parts.path}"


def install(exchanges: list[dict[str, Any]]) -> responses.RequestsMock:
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    queues: dict[tuple[str, str], deque[dict[str, Any]]] = defaultdict(deque)
    for exchange in exchanges:
        queues[_key(exchange.get("method", "GET"), exchange["url"])].append(exchange)
        body = exchange.get("body")
        mock.add(
            exchange.get("method", "GET").upper(), exchange["url"],
            status=exchange.get("status", 200), headers=exchange.get("headers"),
            **({"json": exchange["json"]} if "json" in exchange else {"body": body or ""}),
        )

    def request(self: httplib2.Http, uri: str, method: str = "GET", *args: Any,
                **kwargs: Any) -> tuple[httplib2.Response, bytes]:
        queue = queues.get(_key(method, uri))
        if not queue:
            raise httplib2.ServerNotFoundError(f"no recorded exchange for {method} {uri}")
        exchange = queue.popleft() if len(queue) > 1 else queue[0]
        status = exchange.get("status", 200)
        headers = {"status": str(status), "content-type": "application/json",
                   **{k.lower(): v for k, v in (exchange.get("headers") or {}).items()}}
        body = json.dumps(exchange["json"]) if "json" in exchange else exchange.get("body", "")
        return httplib2.Response(headers), body.encode()

    httplib2.Http.request = request  # type: ignore[method-assign]
    router = respx.mock(assert_all_called=False)
    for exchange in exchanges:
        reply = httpx.Response(exchange.get("status", 200), headers=exchange.get("headers"),
                               **({"json": exchange["json"]} if "json" in exchange
                                  else {"text": exchange.get("body") or ""}))
        router.route(method=exchange.get("method", "GET").upper(),
                     url__startswith=exchange["url"]).mock(return_value=reply)
    router.route().mock(side_effect=httpx.ConnectError("no recorded exchange"))
    router.start()
    mock.start()
    return mock


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        install(json.load(f))
    from cli import main as floor

    return floor(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
