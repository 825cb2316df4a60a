"""Error answers never fail: every route, sent oversized and malformed bodies, under its rate
limits and over them, answers a page (or JSON under /control), never a server error.

The routes come from the app's own url_map, so a new route is covered without a word here.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from web import REQUEST_LIMIT
from web.control import ControlTokens
from web.extensions import limiter

OVERSIZED = 100_000
assert OVERSIZED > REQUEST_LIMIT
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Every body the forms could mistake for their own carries the CSRF token ("{token}"), so that
# with CSRF on they also get past the check, to the limits and the views; the other bodies get
# past it with the token in a header, or are refused by it (a case of its own).
BODIES: dict[str, tuple[str, str | bytes]] = {
    "oversized form": (FORM, "csrf_token={token}&consent=y&username=sam&password=x&question="
                             + "x" * OVERSIZED),
    "oversized JSON": (JSON, json.dumps({"question": "x" * OVERSIZED})),
    "oversized multipart": ("multipart/form-data; boundary=b",
                            '--b\r\nContent-Disposition: form-data; name="question"\r\n\r\n'
                            + "x" * OVERSIZED + "\r\n--b--\r\n"),
    "malformed urlencoding": (FORM, "csrf_token={token}&consent=y&question=%zz%&%%=%&=&"),
    "not UTF-8": (FORM, b"csrf_token={token}&consent=y&question=\xff\xfe\xc3"),
    "too many fields": (FORM, "csrf_token={token}&" + "&".join(f"f{i}=" for i in range(1_500))),
    # Under the size limit, yet refused (413) by whatever reads it: more parts than Werkzeug takes.
    "too many parts": ("multipart/form-data; boundary=b",
                       '--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
                       + '--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n\r\n' * 1_001
                       + "--b--\r\n"),
    "multipart without a boundary": ("multipart/form-data", "--b\r\nrubbish"),
    "multipart cut short": ("multipart/form-data; boundary=b",
                            '--b\r\nContent-Disposition: form-data; name="question"\r\n\r\nWhy'),
    "wrong content type": ("text/plain", "csrf_token={token}&consent=y&question=Why%3F"),
    "invalid JSON": (JSON, '{"question": "Why?", '),
    "JSON not an object": (JSON, "[1, 2]"),
    "JSON a string": (JSON, '"question"'),
}
CONTROL = "/control/"  # README: every answer there is JSON with "ok"
READYZ = "/readyz"  # docs/deployment.md, "Health": JSON, 503 while not ready (web/health.py)
ORDINARY = itertools.count()  # numbers the ordinary requests' questions: none is a repeat


def _routes(app: Flask) -> list[tuple[str, str]]:
    """(method, URL) of every route: each method it takes, and POST whether it takes it or not
    (a body sent where none is taken must be refused well too)."""
    adapter = app.url_map.bind("localhost")
    routes = []
    rule: Rule
    for rule in app.url_map.iter_rules():
        url = adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, "1"))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"} | {"POST"}):
            routes.append((method, url))
    return routes


def _wrong_kind(url: str, response: TestResponse) -> str | None:
    """What is wrong with an answer, or None: never a 5xx; JSON with a true ``ok`` exactly when
    it succeeded under /control; elsewhere every refusal is one of our pages."""
    status = response.status_code
    if url == READYZ and response.mimetype == JSON and status in (200, 503):
        return None  # its answer either way: 503 with the reasons when the node is not ready
    if status >= 500:
        return f"answered {status}"
    if url.startswith(CONTROL):
        answer = response.get_json(silent=True)
        if response.mimetype != JSON or not isinstance(answer, dict) \
                or answer.get("ok") is not (status < 400):
            return f"answered {status} {response.mimetype}, not JSON with ok: " \
                   f"{response.text[:80]!r}"
    elif status >= 400 and (response.mimetype != "text/html"
                            or "favicon.svg" not in response.text):
        return f"answered {status} {response.mimetype}, not one of our pages: " \
               f"{response.text[:80]!r}"
    return None


class Asker:
    """One browser of the test: a session with a CSRF token, a control token, an address."""

    def __init__(self, app: Flask, control_secret: str, address: str, counted: list[bool],
                 token_in_header: bool = True) -> None:
        self.client: FlaskClient = app.test_client()
        self.counted = counted
        page = self.client.get("/ask", environ_base={"REMOTE_ADDR": address}).text
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        self.token = found[1] if found else ""  # none with CSRF off
        self.headers = {"Authorization": f"Bearer {control_secret}"}
        if token_in_header:
            self.headers["X-CSRFToken"] = self.token
        self.address = address

    def send(self, method: str, url: str, body: str | None = None,
             address: str | None = None) -> TestResponse:
        """``body``: one of BODIES; None for an ordinary request (a form with every field the
        forms have, a wrong password, a new question)."""
        data: str | bytes | None = None
        if body is not None:
            content_type, raw = BODIES[body]
            data = raw.replace(b"{token}", self.token.encode()) if isinstance(raw, bytes) \
                else raw.replace("{token}", self.token)
        elif method == "POST":
            content_type, data = FORM, (f"csrf_token={self.token}&consent=y&username=sam"
                                        f"&password=wrong&question=Ordinary+{next(ORDINARY)}%3F")
        response = self.client.open(url, method=method, data=data,
                                    content_type=content_type if data is not None else None,
                                    headers=self.headers,
                                    environ_base={"REMOTE_ADDR": address or self.address})
        response.get_data()  # read, then closed: a static file's answer holds the file open
        response.close()
        return response

    def push_over_the_limit(self, method: str, url: str) -> TestResponse | None:
        """Sends ordinary requests until the route refuses this address: the refusal (429), or
        None at once if the route has no limit."""
        for _ in range(200):
            response = self.send(method, url)
            if response.status_code == 429:
                return response
            if not self.counted[-1]:
                return None
        raise AssertionError(f"{method} {url} never refused the address")


@pytest.fixture
def asker(strict_app: Flask, event: str) -> Callable[..., Asker]:
    """Makes an Asker at an address (and, optionally, without the CSRF header)."""
    secret = ControlTokens(strict_app.extensions["floor"].store.conn, event).create("deck")[0]
    counted: list[bool] = []

    @strict_app.after_request
    def note_the_limits(response: Response) -> Response:
        counted.append(bool(limiter.current_limits))  # gone once the request is torn down
        return response

    return lambda address, **options: Asker(strict_app, secret, address, counted, **options)


@pytest.fixture
def addresses() -> Iterator[str]:
    return (f"198.51.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.mark.parametrize("csrf", ["token in a header", "token in the body only", "off"],
                         ids=lambda csrf: f"CSRF {csrf}")
@pytest.mark.parametrize("limits", ["under", "over"])
def test_no_answer_fails_whatever_the_body(strict_app: Flask, asker: Callable[..., Asker],
                                           addresses: Iterator[str], csrf: str,
                                           limits: str) -> None:
    """CSRF off too: then a route's limits and views meet the body before anything has read
    it (with CSRF on, the check reads the form first)."""
    strict_app.config["WTF_CSRF_ENABLED"] = csrf != "off"
    # As served: an unexpected exception is answered 500 (and logged), not raised here.
    strict_app.config["PROPAGATE_EXCEPTIONS"] = False
    wrong, refused = [], set()
    for method, url in _routes(strict_app):
        # A browser per route: POST /logout ends the session, and its CSRF token with it.
        browser = asker(next(addresses), token_in_header=csrf != "token in the body only")
        limited = limits == "over"
        for body in BODIES:
            # Again before each body: a limit of 5 a second may have let go meanwhile.
            limited = limited and browser.push_over_the_limit(method, url) is not None
            if limited:
                refused.add(url)
            response = browser.send(method, url, body,
                                    address=browser.address if limited else next(addresses))
            problem = _wrong_kind(url, response)
            if problem is None and body.startswith("oversized") and response.status_code != 413:
                problem = f"answered {response.status_code}, not 413"
            if problem:
                wrong.append(f"{method} {url} with {body}: {problem}")
    assert wrong == []
    if limits == "over":  # the limits were reached, and there were bodies sent over them
        assert {"/ask", "/login", "/control/1", "/control/status"} <= refused


def test_a_big_question_from_an_address_over_its_limit(strict_app: Flask,
                                                       asker: Callable[..., Asker]) -> None:
    """The field test's case: POST /ask with 100 kB once the address is over its limit."""
    strict_app.config["WTF_CSRF_ENABLED"] = False
    browser = asker("192.0.2.44")
    assert browser.push_over_the_limit("POST", "/ask") is not None
    response = browser.send("POST", "/ask", "oversized form")
    assert response.status_code == 413 and "more than Floor takes" in response.text
    refused = browser.send("POST", "/ask", "invalid JSON")
    assert refused.status_code == 429 and "wait a few minutes" in refused.text


def test_the_remote_control_refuses_in_json(asker: Callable[..., Asker]) -> None:
    browser = asker("192.0.2.45")
    too_big = browser.send("POST", "/control/next", "oversized JSON")
    assert too_big.status_code == 413 and too_big.json == {
        "ok": False, "error": "Request Entity Too Large: The data value transmitted exceeds "
                              "the capacity limit."}
    wrong_method = browser.client.get("/control/next", headers=browser.headers)
    assert wrong_method.status_code == 405 and wrong_method.json["ok"] is False
    assert set(wrong_method.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert browser.client.get("/control/no/such", headers=browser.headers).json["ok"] is False
    refused = browser.push_over_the_limit("GET", "/control/status")
    assert refused is not None and refused.json["ok"] is False
    assert refused.json["error"].startswith("Too Many Requests")


def test_a_stale_login_form_says_what_to_do(strict_app: Flask) -> None:
    """A login sent without its form's check (a page left open past a restart, cookies blocked)
    is told in words to open the page again, not shown the CSRF library's own sentence."""
    response = strict_app.test_client().post("/login", data={"username": "sam", "password": "x"})
    assert response.status_code == 400
    assert "open the page again" in response.text and 'href="/login"' in response.text
    logout = strict_app.test_client().post("/logout")  # a form with no page of its own
    assert logout.status_code == 400 and 'href="/login"' in logout.text
