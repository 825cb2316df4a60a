"""`floor screen-link`: make, list and revoke the screens' secret links."""

from __future__ import annotations

import re

from click.testing import CliRunner

from aggregator.core.store import Store
from cli.links import screen_link
from web.screen_links import ScreenLinks

URL = re.compile(r"http://floor\.example/(screen|overlay)/([A-Za-z0-9_-]{43})$", re.M)


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(screen_link, list(args), env=env)
    return result.exit_code, result.output


def test_create_list_and_revoke(floor_env: dict[str, str], store: Store) -> None:
    code, out = _run(floor_env, "create", "top table", "--base-url", "http://floor.example/")
    assert code == 0, out
    match = URL.search(out)
    assert match is not None and match[1] == "screen"
    secret = match[2]
    link = ScreenLinks(store.conn, store.keys.event).find(secret)
    assert link is not None and link.label == "top table" and link.id in out

    code, out = _run(floor_env, "create", "OBS", "--overlay", "--base-url",
                     "http://floor.example")
    overlay = URL.search(out)
    assert code == 0 and overlay is not None and overlay[1] == "overlay"

    code, out = _run(floor_env, "list")
    assert code == 0 and "top table" in out and "OBS" in out and "overlay" in out
    assert secret not in out

    code, out = _run(floor_env, "revoke", "top table")
    assert code == 0 and "revoked" in out
    assert ScreenLinks(store.conn, store.keys.event).find(secret) is None
    assert ScreenLinks(store.conn, store.keys.event).find(overlay[2]) is not None


def test_revoke_by_id_and_ambiguity(floor_env: dict[str, str], store: Store) -> None:
    links = ScreenLinks(store.conn, store.keys.event)
    _, first = links.create("hall")
    links.create("hall")
    code, out = _run(floor_env, "revoke", "hall")
    assert code == 1 and "2 links match" in out
    code, out = _run(floor_env, "revoke", first.id)
    assert code == 0 and [link.label for link in links.all()] == ["hall"]
    code, out = _run(floor_env, "revoke", "hall", "--all")
    assert code == 0 and links.all() == []
    code, out = _run(floor_env, "revoke", "nowhere")
    assert code == 1 and "no link has the id or label 'nowhere'" in out
