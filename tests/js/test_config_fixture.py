"""The page config the console's Node tests use (tests/js/fixtures/config.json) is the one the
server sends: the action table, the states' words, the reject reasons, the platforms."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from flask.testing import FlaskClient

FIXTURE = Path(__file__).parent / "fixtures" / "config.json"


def test_node_fixture_is_the_config_the_console_page_gets(moderator: FlaskClient) -> None:
    page = moderator.get("/console").text
    found = re.search(r'<script id="floor-config" type="application/json">(.*?)</script>', page,
                      re.S)
    assert found is not None
    config = json.loads(html.unescape(found.group(1)))
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert {key: config[key] for key in fixture} == fixture
