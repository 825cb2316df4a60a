"""The way in from the stream: the QR code of the question form, served from our origin."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from pydantic import ValidationError

from aggregator.base.settings import ScreenSettings, Settings
from web.screen_links import ScreenLinks

ASK = "https://floor.example.org/ask"


def test_no_address_no_qr_code(client: FlaskClient, store: object, conn: object,
                               event: str) -> None:
    assert client.get("/qr/ask.svg").status_code == 404
    secret, _ = ScreenLinks(conn, event).create("hall")  # type: ignore[arg-type]
    assert "ask-qr" not in client.get(f"/screen/{secret}").text


def test_the_qr_code_is_svg_from_our_origin(client: FlaskClient, settings: Settings,
                                            conn: object, event: str) -> None:
    settings.screen.ask_url = ASK
    response = client.get("/qr/ask.svg")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.data and ASK.encode() in response.data  # in its <title>
    secret, _ = ScreenLinks(conn, event).create("hall")  # type: ignore[arg-type]
    page = client.get(f"/screen/{secret}")
    assert 'src="/qr/ask.svg"' in page.text and "Ask at <span dir=\"ltr\">floor.example.org/ask" \
        in page.text
    assert "img-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("bad", ["floor.example.org/ask", "javascript:alert(1)",
                                 "https://floor example.org/ask", "https://" + "a" * 200])
def test_the_address_must_be_a_web_address(bad: str) -> None:
    with pytest.raises(ValidationError, match="public address"):
        ScreenSettings(ask_url=bad)
