"""No credential reaches an output: the terminal, the logs, the health records, the export."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.base.redaction import RedactingFormatter, install, redact
from aggregator.core.store import DeadLetter, Store
from aggregator.ingest.health import Health

REPO = Path(__file__).resolve().parent.parent

# Invented tokens, one per platform, in each platform's own shape. X's is put together here so
# the repository holds no string a leak scanner would take for a real bearer token.
TOKENS = {
    "X_BEARER_TOKEN": "A" * 21 + "FakeBearer%2Bnot%3Dreal0123456789",
    "FACEBOOK_PAGE_TOKEN": "EAAGfakePageTokenNotReal0123456789abcdef",
    "INSTAGRAM_GRAPH_TOKEN": "IGQWfakeGraphTokenNotReal0123456789",
    "YOUTUBE_API_KEY": "AIzaFakeYouTubeKeyNotReal0123456789abc",
    "BLUESKY_APP_PASSWORD": "fake-blue-skyp-assw",
    "MASTODON_ACCESS_TOKEN": "fakeMastodonTokenNotReal0123456789abcdef",
}
SOURCES = {
    "x": "[sources.x]\nenabled = true\n",
    "facebook": '[sources.facebook]\nenabled = true\npost_ids = ["111_222"]\n',
    "instagram": '[sources.instagram]\nenabled = true\nbackend = "graph"\n'
                 'ig_user_id = "17841400000000000"\n',
    "youtube": '[sources.youtube]\nenabled = true\nvideo_id = "abcdefghijk"\n',
    "bluesky": '[sources.bluesky]\nenabled = true\nhandle = "trust.example.org"\n',
    "mastodon": '[sources.mastodon]\nenabled = true\ninstances = ["https://social.example"]\n',
}


def _leaks(text: str) -> list[str]:
    return [name for name, token in TOKENS.items() if token in text]


@pytest.fixture
def secret_env(floor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, token in TOKENS.items():
        monkeypatch.setenv(name, token)
    config = Path(floor_env["FLOOR_CONFIG"])
    config.write_text(config.read_text() + "".join(SOURCES.values()))
    return {**floor_env, **TOKENS}


def test_redact_masks_every_shape_and_every_configured_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_NEW_PLATFORM_TOKEN", "plainvalue-without-a-shape")
    monkeypatch.setenv("REDIS_URL", "redis://floor:redis-password-123@db.example:6379/0")
    said = redact("GET https://graph.facebook.com/me?fields=id&access_token=abc123def&limit=5 "
                  "https://www.googleapis.com/v3/videos?id=x&key=AIzaSomething "
                  "Authorization: Bearer sometoken12345 "
                  "redis://floor:redis-password-123@db.example:6379/0 "
                  "https://example.org/cb?code=oauthcode99&state=ok "
                  "and plainvalue-without-a-shape said again")
    assert said == ("GET https://graph.facebook.com/me?fields=id&access_token=***&limit=5 "
                    "https://www.googleapis.com/v3/videos?id=x&key=*** "
                    "Authorization: Bearer *** "
                    "redis://***@db.example:6379/0 "
                    "https://example.org/cb?code=***&state=ok "
                    "and *** said again")
    assert redact(ValueError()) == "ValueError"
    assert redact("a key point, in plain words") == "a key point, in plain words"


def test_every_log_line_and_traceback_is_masked(secret_env: dict[str, str]) -> None:
    logger = logging.getLogger("test.redaction")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install(logger)
        assert isinstance(handler.formatter, RedactingFormatter)
        url = f"https://x.example/?t=1&access_token={TOKENS['X_BEARER_TOKEN']}"
        logger.warning("calling %s", url)
        try:
            raise ConnectionError(f"no route to ...?key={TOKENS['YOUTUBE_API_KEY']}")
        except ConnectionError:
            logger.exception("failed with %s", TOKENS["FACEBOOK_PAGE_TOKEN"])
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert len(records) == 2 and "Traceback" in records[1]
    assert _leaks("\n".join(records)) == []


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_check_poll_and_health_never_show_a_token(source: str, secret_env: dict[str, str],
                                                  store: Store, tmp_path: Path) -> None:
    """Every request fails (nothing is recorded), and the failure quotes the request's URL:
    the Graph API and YouTube put the token there; with -v tweepy logs its Bearer header."""
    exchanges = tmp_path / "exchanges.json"
    exchanges.write_text("[]", encoding="utf-8")
    outputs = []
    for args in (["check"], ["-v", "poll", source, "--once"]):
        done = subprocess.run([sys.executable, "tests/replay_cli.py", str(exchanges), *args],
                              env=secret_env, cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 1, done.stderr
        outputs.append(done.stdout + done.stderr)
    assert f"source {source}: FAILED" in outputs[0]
    assert f"{source}: stored 0" in outputs[1]
    record = Health(store.conn, store.keys.event).all()[source]
    assert record["state"] in ("failing", "stopped")
    assert _leaks("\n".join(outputs) + json.dumps(record)) == []


def test_export_never_shows_a_token(secret_env: dict[str, str], store: Store) -> None:
    from aggregator.core.normalise import normalise
    from aggregator.core.question import Post

    paging = ("https://graph.facebook.com/v21.0/1/comments?after=x&access_token="
              + TOKENS["FACEBOOK_PAGE_TOKEN"])
    store.ingest("facebook", [(normalise(Post("fb", "1_2", "What about the budget?")),
                               {"id": "1_2", "paging": {"next": paging}})])
    done = subprocess.run([sys.executable, "-m", "cli", "export"], env=secret_env,
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "What about the budget?" in done.stdout and "access_token=***" in done.stdout
    assert _leaks(done.stdout + done.stderr) == []


def test_health_records_are_masked_whoever_writes_them(secret_env: dict[str, str],
                                                       store: Store) -> None:
    health = Health(store.conn, store.keys.event)
    health.record("youtube", last_error=f"quota? key={TOKENS['YOUTUBE_API_KEY']}",
                  detail={"url": f"https://x.example/?access_token={TOKENS['X_BEARER_TOKEN']}"})
    record = health.all()["youtube"]
    assert record["last_error"] == "quota? key=***"
    assert record["detail"] == {"url": "https://x.example/?access_token=***"}


def test_dead_letters_are_masked_whoever_writes_them(secret_env: dict[str, str],
                                                     store: Store) -> None:
    reason = ("GET https://graph.example/v19.0/1/comments"
              f"?access_token={TOKENS['FACEBOOK_PAGE_TOKEN']}")
    store.ingest("facebook", [], [DeadLetter("facebook", reason, {"id": "1"})])
    (letter,) = store.dead_letters()
    assert letter["reason"] == "GET https://graph.example/v19.0/1/comments?access_token=***"
