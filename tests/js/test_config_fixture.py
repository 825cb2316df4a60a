"""The page config the console's Node tests use (tests/js/fixtures/config.json) is the one the
server sends: the action table, the other log entries' words, the states' words, the reject
reasons, the platforms. After a change to the table, write it again from the server with
``FLOOR_WRITE_FIXTURE=1 pytest tests/js/test_config_fixture.py``."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

from flask.testing import FlaskClient

FIXTURE = Path(__file__).parent / "fixtures" / "config.json"
KEYS = ("actions", "chair", "entry_words", "muted_reason", "platforms", "reject_reasons", "states")


def test_node_fixture_is_the_config_the_console_page_gets(moderator: FlaskClient) -> None:
    page = moderator.get("/console").text
    found = re.search(r'<script id="floor-config" type="application/json">(.*?)</script>', page,
                      re.S)
    assert found is not None
    config = json.loads(html.unescape(found.group(1)))
    sent = {key: config[key] for key in KEYS}
    if os.environ.get("FLOOR_WRITE_FIXTURE") == "1":
        FIXTURE.write_text(json.dumps(sent, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert fixture == sent, ("tests/js/fixtures/config.json is not what the server sends: "
                             "FLOOR_WRITE_FIXTURE=1 pytest tests/js/test_config_fixture.py")
