"""The Meta Graph API client shared by Facebook and Instagram's graph backend.

Both read through facebook-sdk's ``GraphAPI``, which needs the same three repairs:

- facebook-sdk 3.1.0 only accepts Graph API versions up to 3.1 in its constructor, and Meta serves
  calls to a retired version with the oldest live one, so the version is set on the client after
  construction (every path is built from that attribute);
- the library ignores HTTP statuses and headers, so a response hook on our own session keeps the
  last response: its status for messages, its usage headers for pauses and the health record;
- failures arrive as ``GraphAPIError`` with Meta's ``error.code`` (not the HTTP status), which
  ``GraphClient.error`` maps to the poller's health states.

The classification is shared; the words are not: each platform passes its own ``Wording``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import facebook
import requests

from aggregator.base.environment import read_environment
from aggregator.ingest.sources import RateLimited, SourceError, SourceStopped

# Meta's error codes (error.code): an expired or invalid token, a missing permission, throttling
# (app, user, page and business-use-case limits), and an object that cannot be read.
TOKEN_CODES = {102, 190}
PERMISSION_CODES = {10} | set(range(200, 300))
THROTTLE_CODES = {4, 17, 32, 613} | set(range(80000, 80100))
OBJECT_CODE = 100
# Permission names as Meta's messages spell them, to tell a person which one to grant.
PERMISSION = re.compile(r"\b(pages_[a-z_]+|instagram_[a-z_]+|read_insights|business_management|"
                        r"public_profile)\b")
USAGE_HEADERS = ("x-business-use-case-usage", "x-app-usage", "x-page-usage")
USAGE_FIELDS = ("call_count", "total_time", "total_cputime")


@dataclass(frozen=True)
class Wording:
    """How one platform says each failure, as ``str.format`` templates. Fields: ``{what}`` the
    request (e.g. "live video 5566778899"), ``{status}`` the HTTP status ("HTTP 502", or "no HTTP
    status"), ``{code}`` Meta's error code, ``{full}`` code/subcode, ``{said}`` Meta's message,
    ``{missing}`` the permissions Meta's message names (else ``permissions``), ``{exc}`` the
    exception, ``{answer}`` the start of an answer that is not an object, ``{env}`` the token's
    environment variable, ``{timeout}`` the timeout in seconds."""

    no_token: str
    not_json: str  # an answer that is not JSON at all (an HTML error page)
    unreadable: str  # a JSON content type with a broken body
    timeout: str
    unreachable: str
    not_object: str
    token: str
    permission: str
    throttled: str
    no_object: str
    other: str
    permissions: str = ""


class ObjectUnreadable(SourceStopped):
    """One object cannot be read (code 100: a wrong id, deleted, not the token's)."""


class GraphClient:
    """facebook-sdk's GraphAPI on a session that keeps the last response, made on first use from
    the token in ``token_env``. ``throttle_wait`` (seconds) is the pause after throttling when
    Meta gives no estimate of its own."""

    def __init__(self, *, token_env: str, version: str, timeout: float, wording: Wording,
                 clock: Callable[[], float], throttle_wait: float,
                 session: requests.Session | None = None) -> None:
        self.token_env = token_env
        self.version = version
        self.timeout = timeout
        self.wording = wording
        self.clock = clock
        self.throttle_wait = throttle_wait
        self.session = session or requests.Session()
        self.session.hooks["response"].append(self._remember)
        self.calls = 0
        self._graph: facebook.GraphAPI | None = None
        self._last: requests.Response | None = None

    def graph(self) -> facebook.GraphAPI:
        if self._graph is None:
            token = read_environment().token(self.token_env)
            if not token:
                raise SourceStopped(self._say(self.wording.no_token))
            graph = facebook.GraphAPI(access_token=token, timeout=self.timeout,
                                      session=self.session)
            graph.version = self.version  # the constructor refuses v4 and later
            self._graph = graph
        return self._graph

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last = response
        # facebook-sdk reads headers["content-type"] unguarded: without one, an answer is
        # "not JSON" (its GraphAPIError), not a KeyError that looks like our own bug.
        response.headers.setdefault("content-type", "")

    def call(self, what: str, request: Callable[[facebook.GraphAPI], Any]) -> dict[str, Any]:
        """Run one GraphAPI request (``what`` names it in messages), errors mapped for the
        poller."""
        graph = self.graph()
        self.calls += 1
        self._last = None
        try:
            result = request(graph)
        except facebook.GraphAPIError as exc:
            raise self.error(exc, what) from exc
        except requests.JSONDecodeError as exc:  # a JSON content type with a broken body
            raise SourceError(self._say(self.wording.unreadable, what=what, exc=exc)) from exc
        except requests.Timeout as exc:
            raise SourceError(self._say(self.wording.timeout, what=what, exc=exc)) from exc
        except requests.RequestException as exc:
            raise SourceError(self._say(self.wording.unreachable, what=what, exc=exc)) from exc
        if not isinstance(result, dict):
            raise SourceError(self._say(self.wording.not_object, what=what,
                                        answer=str(result)[:120]))
        return result

    @property
    def headers(self) -> Mapping[str, str]:
        """The headers of the last response (empty after a timeout)."""
        return self._last.headers if self._last is not None else {}

    def status(self) -> str:
        return f"HTTP {self._last.status_code}" if self._last is not None else "no HTTP status"

    def usage(self) -> tuple[int | None, float]:
        """``usage`` of the last response's headers."""
        return usage(self.headers)

    def error(self, exc: facebook.GraphAPIError, what: str) -> SourceError:
        """Meta's error -> SourceStopped (a person must act), RateLimited or SourceError."""
        code, said, words = exc.code, str(exc.message), self.wording
        if code is None:
            return SourceError(self._say(words.not_json, what=what, said=said))
        detail = exc.result.get("error", {}) if isinstance(exc.result, dict) else {}
        sub = detail.get("error_subcode") if isinstance(detail, dict) else None
        facts = {"what": what, "code": code, "full": f"{code}/{sub}" if sub else str(code),
                 "said": said}
        if code in TOKEN_CODES:
            return SourceStopped(self._say(words.token, **facts))
        named = ", ".join(dict.fromkeys(PERMISSION.findall(said)))
        # Code 100 is also how Meta says "requires the pages_read_engagement permission": when
        # the message names a permission, that is the advice, not "check the id".
        if code in PERMISSION_CODES or (code == OBJECT_CODE and named):
            return SourceStopped(self._say(words.permission, missing=named or words.permissions,
                                           **facts))
        if code in THROTTLE_CODES:
            _, regain = self.usage()
            until = self.clock() + (regain * 60 if regain else self.throttle_wait)
            return RateLimited(until, self._say(words.throttled, **facts))
        if code == OBJECT_CODE:
            return ObjectUnreadable(self._say(words.no_object, **facts))
        return SourceError(self._say(words.other, **facts))

    def _say(self, template: str, **facts: Any) -> str:
        return template.format(env=self.token_env, timeout=self.timeout, status=self.status(),
                               **facts)


def usage(headers: Mapping[str, str]) -> tuple[int | None, float]:
    """From Meta's usage headers: the highest share of any budget used (percent, None without
    the headers), and the minutes Meta says until access is regained (0 when not throttled)."""
    highest: int | None = None
    wait = 0.0
    for name in USAGE_HEADERS:
        try:
            data = json.loads(headers[name]) if name in headers else None
        except (TypeError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        entries: list[Any] = [data]
        if name == "x-business-use-case-usage":  # {business id: [one entry per use case]}
            entries = [e for v in data.values() if isinstance(v, list) for e in v]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in USAGE_FIELDS:
                value = entry.get(key)
                if isinstance(value, int | float):
                    highest = max(highest or 0, int(value))
            regain = entry.get("estimated_time_to_regain_access")
            if isinstance(regain, int | float):
                wait = max(wait, float(regain))
    return highest, wait
