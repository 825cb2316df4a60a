"""The YouTube live-chat source through the real google-api-python-client, with YouTube simulated
at its HTTP layer: googleapiclient's HttpMockSequence (httplib2) passed to ``build(http=...)``.

Payloads are in tests/payloads/youtube/, in the shapes of platform-apis.md §4 with invented ids
and names. A fake clock shows that pollingIntervalMillis and the quota floor are honoured.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from googleapiclient.http import HttpMockSequence
from pydantic import ValidationError

from aggregator.base.settings import ConfigError, EventSettings, SourceSettings, load
from aggregator.core.store import Store
from aggregator.ingest.sources.youtube import YouTubeSettings, YouTubeSource
from tests.sources import NOW, REPO, Clock, checkpoint, health, poll, questions

PAYLOADS = Path(__file__).parent / "payloads" / "youtube"
# NOW is 03:03 Pacific on 2026-05-14: YouTube's quota day.
VIDEO = "abcdefghijk"
CHAT = "KicKGFVDeGFtcGxlQ2hhbm5lbBILYWJjZGVmZ2hpams"
WATCH = f"https://www.youtube.com/watch?v={VIDEO}"
FLOOR = 3 * 3600 / ((10_000 - 100) / 5)  # 5.45 s: the default quota over a 3-hour meeting
API = "https://youtube.googleapis.com/youtube/v3/"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def ok(name_or_body: str | dict) -> tuple[dict[str, str], str]:
    body = payload(name_or_body) if isinstance(name_or_body, str) else name_or_body
    return {"status": "200", "content-type": "application/json; charset=UTF-8"}, json.dumps(body)


def error(status: int, reason: str, message: str, domain: str = "youtube.liveChat") -> tuple:
    body = {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}
    return {"status": str(status), "content-type": "application/json; charset=UTF-8"}, \
        json.dumps(body)


class Http(HttpMockSequence):
    """HttpMockSequence that can also fail at the socket, as httplib2 does on a timeout."""

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = 1, connection_type: Any = None) -> Any:
        if self._iterable and isinstance(self._iterable[0], BaseException):
            self.request_sequence.append((uri, method, body, headers))
            raise self._iterable.pop(0)
        return super().request(uri, method, body, headers, redirections, connection_type)

    def query(self, index: int) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.request_sequence[index][0]).query)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOUTUBE_API_KEY", "test-api-key-not-real")
    monkeypatch.delenv("YOUTUBE_OAUTH_TOKEN_FILE", raising=False)


def make(event: str, http: Http, clock: Clock | None = None, **options: Any) -> YouTubeSource:
    options.setdefault("video_id", VIDEO)
    return YouTubeSource(SourceSettings(**options),
                         EventSettings(slug=event, hashtags=["#APM2026"]),
                         clock=clock or Clock(), http=http)


def yt(mid: str, text: str, name: str, channel: str, at: str) -> dict[str, str]:
    return {"id": f"yt:{mid}", "text": text, "author_name": name, "author_handle": channel,
            "url": WATCH, "posted_at": at}


ANN = yt("LCC.EhwKGkNOYnVx", "Q: how many new ambulances this year?", "Ann Hughes",
         "UCann0000000000000000001", "2026-05-14T10:00:05.123000+00:00")
BOB = yt("LCC.EhwKGkNOYnVy", "Q: rural response times?", "Bob Singh",
         "UCbob0000000000000000002", "2026-05-14T10:01:40.456000+00:00")
CARA = yt("LCC.EhwKGkNOYnV0", "Will the #APM2026 papers go online?", "Cara Jones",
          "UCcara000000000000000004", "2026-05-14T10:03:00.001000+00:00")
DAN = yt("LCC.EhwKGkNOYnV2", "keep it up", "Dan P", "UCdan0000000000000000005",
         "2026-05-14T10:03:20+00:00")


def test_chat_messages_become_questions_and_deletions_retract(store: Store) -> None:
    http = Http([ok("video_live.json"), ok("chat_page1.json")])
    result = poll(make(store.keys.event, http), store)

    assert (result.stored, result.dead, result.skipped) == (2, 0, 1)
    assert questions(store) == [ANN, BOB]
    deleted = store.question(BOB["id"])
    assert deleted is not None and deleted.state == "rejected" and "deleted" in deleted.flags
    assert store.raw(ANN["id"])["authorDetails"]["displayName"] == "Ann Hughes"
    assert result.delay == pytest.approx(FLOOR)  # the quota floor beats YouTube's 5 s
    assert checkpoint(store, "youtube") == {
        "chat_id": CHAT, "page_token": "GOjbyc7ZlpADIJ3J1uuZlpAD", "quota_day": "2026-05-14",
        "quota_used": 6, "video_id": VIDEO}
    record = health(store, "youtube")
    assert record["state"] == "ok"
    assert (record["quota_used"], record["quota_floor_s"], record["polling_interval_s"],
            record["chat_id"]) == (6, 5.45, 5.0, CHAT)
    assert http.query(0) == {"part": ["liveStreamingDetails"], "id": [VIDEO],
                             "key": ["test-api-key-not-real"], "alt": ["json"]}
    assert http.query(1) == {"liveChatId": [CHAT], "part": ["id,snippet,authorDetails"],
                             "maxResults": ["500"], "key": ["test-api-key-not-real"],
                             "alt": ["json"]}


def test_polling_interval_is_honoured(store: Store) -> None:
    clock = Clock()
    http = Http([ok("video_live.json"), ok("chat_page1.json"), ok("chat_page2.json"),
                 ok("chat_empty.json")])
    source = make(store.keys.event, http, clock)
    poll(source, store, clock)

    clock.now += 1  # too early: YouTube is not asked
    early = poll(source, store, clock)
    assert len(http.request_sequence) == 2
    assert (early.stored, early.delay) == (0, pytest.approx(FLOOR - 1))

    clock.now = NOW + 6
    second = poll(source, store, clock)
    assert http.query(2)["pageToken"] == ["GOjbyc7ZlpADIJ3J1uuZlpAD"]
    # The Super Chat's comment is a question too (flagged "paid"); the retraction is skipped.
    assert (second.stored, second.skipped, second.delay) == (2, 1, 10.0)  # pollingIntervalMillis
    assert questions(store) == [ANN, BOB, CARA, DAN]
    retracted = store.question(ANN["id"])
    assert retracted is not None and retracted.state == "rejected"

    clock.now += 9.5
    assert poll(source, store, clock).delay == pytest.approx(0.5)
    assert len(http.request_sequence) == 3
    clock.now += 0.5
    assert poll(source, store, clock).delay == 6.0
    assert checkpoint(store, "youtube")["page_token"] == "GJzv2c7ZlpADILX9-uuZlpAD"
    assert checkpoint(store, "youtube")["quota_used"] == 16


def test_quota_floor_slows_a_fast_chat(store: Store) -> None:
    fast = {**payload("chat_empty.json"), "pollingIntervalMillis": 1000}
    source = make(store.keys.event, Http([ok("video_live.json"), ok(fast)]),
                  daily_quota=2100, meeting_hours=1)
    result = poll(source, store)
    assert result.delay == 9.0  # 2000 units / 5 = 400 reads over 3600 s
    assert source.interval == 9.0


def test_quota_exceeded_pauses_until_midnight_pacific(store: Store) -> None:
    http = Http([ok("video_live.json"), error(
        403, "quotaExceeded", "The request cannot be completed because you have exceeded your "
        "quota.", domain="youtube.quota")])
    result = poll(make(store.keys.event, http), store)

    record = health(store, "youtube")
    assert record["state"] == "paused"
    assert record["paused_until"] == "2026-05-15T07:00:00.000Z"  # midnight PDT
    assert "quota is used up" in record["last_error"]
    assert result.delay == pytest.approx(1778828400 - NOW)


@pytest.mark.parametrize("reply, words", [
    (error(403, "liveChatEnded", "The live chat is no longer live."), "the live chat has ended"),
    (error(404, "liveChatNotFound", "The live chat that you are trying to retrieve cannot be "
                                    "found."), "cannot be found"),
    (error(401, "authError", "Request had invalid authentication credentials.", "global"),
     "YouTube refused access"),
    (error(403, "forbidden", "Forbidden", "global"), "YouTube refused access"),
    (({"status": "400", "content-type": "application/json"}, json.dumps({"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.",
        "errors": [{"message": "API key not valid. Please pass a valid API key.",
                    "domain": "global", "reason": "badRequest"}], "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})),
     "YouTube refused access (400 API_KEY_INVALID, badRequest: API key not valid"),
])
def test_ended_chat_and_refused_credentials_stop(store: Store, reply: tuple,
                                                 words: str) -> None:
    poll(make(store.keys.event, Http([ok("video_live.json"), reply])), store)
    record = health(store, "youtube")
    assert record["state"] == "stopped"
    assert words in record["last_error"]


@pytest.mark.parametrize("reply, words", [
    (error(403, "rateLimitExceeded", "Rate limit exceeded", "youtube.quota"), "slow down"),
    (({"status": "503", "content-type": "text/html"}, "<html>Service Unavailable</html>"),
     "server error"),
    (TimeoutError("timed out"), "could not reach YouTube"),
    (socket.gaierror(-3, "Temporary failure in name resolution"), "could not reach YouTube"),
    (({"status": "200", "content-type": "application/json"}, '{"items": [{"id": '), "not JSON"),
    (({"status": "200", "content-type": "application/json"}, b'{"items": ["\xff\xfe"]}'),
     "not JSON"),
    (({"status": "500", "content-type": "application/json"}, b'{"error": "\xff"}'),
     "server error"),
    (({"status": "500", "content-type": "application/json"}, '{"error": ["odd"]}'),
     "server error"),
    (ok({"kind": "youtube#liveChatMessageListResponse"}), "without an items list"),
])
def test_transient_failures_back_off(store: Store, reply: Any, words: str) -> None:
    result = poll(make(store.keys.event, Http([ok("video_live.json"), reply])), store)
    record = health(store, "youtube")
    assert record["state"] == "failing"
    assert words in record["last_error"]
    assert result.delay > 0
    assert store.checkpoint("youtube") is None


def test_rejected_page_token_reads_the_chat_again(store: Store) -> None:
    stale = {"chat_id": CHAT, "page_token": "STALE", "quota_day": "2026-05-14",
             "quota_used": 500, "video_id": VIDEO}
    store.ingest("youtube", [], [], json.dumps(stale))
    http = Http([error(400, "pageTokenInvalid", "The page token is not valid."),
                 ok("chat_page1.json")])
    result = poll(make(store.keys.event, http), store)

    assert http.query(0)["pageToken"] == ["STALE"]
    assert "pageToken" not in http.query(1)
    assert result.stored == 2
    assert checkpoint(store, "youtube") == {**stale, "page_token": "GOjbyc7ZlpADIJ3J1uuZlpAD",
                                 "quota_used": 510}


@pytest.mark.parametrize("video, words", [
    ("video_ended.json", f"video {VIDEO} is not live / has no live chat (the stream has ended)"),
    ("video_missing.json", f"YouTube has no video {VIDEO} (check video_id)"),
])
def test_video_without_a_live_chat_stops(store: Store, video: str, words: str) -> None:
    poll(make(store.keys.event, Http([ok(video)])), store)
    record = health(store, "youtube")
    assert (record["state"], record["last_error"]) == ("stopped", words)


def test_bad_messages_become_dead_letters(store: Store) -> None:
    page = payload("chat_empty.json")
    good = payload("chat_page1.json")["items"][0]
    wrong_text = json.loads(json.dumps(good))
    wrong_text["id"] = "LCC.wrongtext"
    wrong_text["snippet"]["textMessageDetails"]["messageText"] = 42
    no_author = json.loads(json.dumps(good))
    no_author["id"] = "LCC.noauthor"
    del no_author["authorDetails"], no_author["snippet"]["authorChannelId"]
    page["items"] = [good, wrong_text, {"id": "LCC.nosnippet", "kind": "youtube#liveChatMessage"},
                     "not an object", {**good, "id": 7}, no_author]
    result = poll(make(store.keys.event, Http([ok("video_live.json"), ok(page)])), store)

    assert (result.stored, result.dead) == (2, 4)
    assert questions(store) == [ANN, {**ANN, "id": "yt:LCC.noauthor", "author_name": "",
                                      "author_handle": ""}]
    assert sorted(letter["reason"] for letter in store.dead_letters()) == [
        "field 'id': expected text, got int",
        "message LCC.nosnippet: field 'snippet' is missing",
        "message LCC.wrongtext: field 'snippet.textMessageDetails.messageText': expected text, "
        "got int",
        "not a JSON object",
    ]
    assert health(store, "youtube")["state"] == "ok"


def test_require_hashtag_matches_any_case_and_width(store: Store) -> None:
    page = payload("chat_page2.json")
    odd = json.loads(json.dumps(page["items"][0]))
    odd["id"] = "LCC.fullwidth"
    odd["snippet"]["textMessageDetails"]["messageText"] = "parking at the venue? #ａｐｍ２０２６"
    near = json.loads(json.dumps(page["items"][0]))
    near["id"] = "LCC.near"
    near["snippet"]["textMessageDetails"]["messageText"] = "not ours #APM20267"
    page["items"] += [odd, near]
    http = Http([ok("video_live.json"), ok(page)])
    result = poll(make(store.keys.event, http, require_hashtag=True), store)

    assert result.stored == 2
    assert [q["id"] for q in questions(store)] == [CARA["id"], "yt:LCC.fullwidth"]


def test_restart_loses_and_duplicates_nothing(store: Store) -> None:
    clock = Clock()
    first = make(store.keys.event, Http([ok("video_live.json"), ok("chat_page1.json"),
                                         ok("chat_page2.json")]), clock)
    poll(first, store, clock)
    clock.now += 20
    first.fetch(store.checkpoint("youtube"))  # read page 2, then killed before storing it

    http = Http([ok("chat_page2.json")])  # a new process: the chat id comes from the checkpoint
    result = poll(make(store.keys.event, http, clock), store, clock)

    assert http.query(0)["pageToken"] == ["GOjbyc7ZlpADIJ3J1uuZlpAD"]
    assert result.stored == 2
    assert questions(store) == [ANN, BOB, CARA, DAN]
    # 6 stored, the lost read not counted, + 5
    assert checkpoint(store, "youtube")["quota_used"] == 11


def test_quota_count_starts_again_each_pacific_day(store: Store) -> None:
    yesterday = {"chat_id": CHAT, "page_token": "GOjbyc7ZlpADIJ3J1uuZlpAD",
                 "quota_day": "2026-05-13", "quota_used": 9000, "video_id": VIDEO}
    store.ingest("youtube", [], [], json.dumps(yesterday))
    poll(make(store.keys.event, Http([ok("chat_empty.json")])), store)
    state = checkpoint(store, "youtube")
    assert (state["quota_day"], state["quota_used"]) == ("2026-05-14", 5)


def test_a_new_video_id_resolves_a_new_chat(store: Store) -> None:
    store.ingest("youtube", [], [], json.dumps({"chat_id": "OLDCHAT", "page_token": "OLD",
                                                "video_id": "zyxwvutsrqp"}))
    http = Http([ok("video_live.json"), ok("chat_empty.json")])
    poll(make(store.keys.event, http), store)
    assert http.query(1)["liveChatId"] == [CHAT] and "pageToken" not in http.query(1)


def test_video_id_is_required_and_may_be_a_link(tmp_path: Path) -> None:
    for link in ("https://www.youtube.com/watch?v=abcdefghijk&t=5", "https://youtu.be/abcdefghijk",
                 "https://www.youtube.com/live/abcdefghijk?si=share", " abcdefghijk "):
        assert YouTubeSettings.model_validate({"video_id": link}).video_id == VIDEO
    with pytest.raises(ValidationError):
        YouTubeSettings.model_validate({"video_id": "https://www.youtube.com/@channel"})
    config = tmp_path / "event.toml"
    config.write_text('[event]\nslug = "t"\n[sources.youtube]\nenabled = true\n', "utf-8")
    with pytest.raises(ConfigError, match=r"sources\.youtube\.video_id'?: Field required"):
        load(config)


def test_missing_credentials_say_which_variable(store: Store,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YOUTUBE_API_KEY")
    poll(make(store.keys.event, Http([])), store)
    record = health(store, "youtube")
    assert record["state"] == "stopped"
    assert record["last_error"].startswith("set YOUTUBE_API_KEY")


def test_check_makes_one_cheap_call(store: Store) -> None:
    http = Http([ok("video_live.json")])
    said = make(store.keys.event, http).check()
    assert said == (f"video {VIDEO} is live with chat {CHAT}; a read every 5.5s or slower keeps "
                    "within 10000 quota units for 3 hours")
    assert len(http.request_sequence) == 1


def test_floor_poll_youtube_once(store: Store, floor_env: dict[str, str],
                                 tmp_path: Path) -> None:
    exchanges = [
        {"method": "GET", "url": API + "videos", "json": payload("video_live.json")},
        {"method": "GET", "url": API + "liveChat/messages", "json": payload("chat_page1.json")},
    ]
    (tmp_path / "exchanges.json").write_text(json.dumps(exchanges), encoding="utf-8")
    with open(floor_env["FLOOR_CONFIG"], "a", encoding="utf-8") as config:
        config.write(f'\n[sources.youtube]\nvideo_id = "{VIDEO}"\n')
    env = {**floor_env, "YOUTUBE_API_KEY": "test-api-key-not-real"}
    done = subprocess.run([sys.executable, "tests/replay_cli.py", str(tmp_path / "exchanges.json"),
                           "poll", "youtube", "--once"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "youtube: stored 2" in done.stdout
    assert [q["id"] for q in questions(store)] == [ANN["id"], BOB["id"]]
    assert store.question(BOB["id"]).state == "rejected"  # type: ignore[union-attr]
    assert checkpoint(store, "youtube")["chat_id"] == CHAT


# -- what the chat really sends: mentions, paid messages, tombstones, bans, the end ---------------


def test_chat_events_mentions_paid_tombstones_bans_and_the_end(store: Store) -> None:
    clock = Clock()
    http = Http([ok("video_live.json"), ok("chat_page1.json"), ok("chat_events.json")])
    source = make(store.keys.event, http, clock)
    poll(source, store, clock)
    clock.now += 10
    result = poll(source, store, clock)

    # The mention's zero-width space is YouTube's own: gone, and no tampering flag for it.
    reply = store.question("yt:LCC.EhwKGkNOYnVa")
    assert reply is not None
    assert reply.text == "@Ann Hughes and what about the rural stations?"
    assert "hidden_chars" not in reply.flags
    # A zero-width space anywhere else is still hidden text.
    hidden = store.question("yt:LCC.EhwKGkNOYnVb")
    assert hidden is not None and "hidden_chars" in hidden.flags
    # A Super Chat's comment is a question, flagged "paid"; a sticker alone asks nothing.
    paid = store.question("yt:LCC.EhwKGkNOYnVc")
    assert paid is not None and paid.text == "Will the new depot open in June?"
    assert "paid" in paid.flags
    assert store.question("yt:LCC.EhwKGkNOYnVd") is None
    # The tombstone (the deleted message itself) retracts Ann's question of page 1.
    ann = store.question(ANN["id"])
    assert ann is not None and ann.state == "rejected" and "deleted" in ann.flags
    # Fay was banned: her open question is flagged for the moderators (the default), kept.
    assert paid.state == "new"
    banned = store.question("yt:LCC.EhwKGkNOYnVc")
    assert banned is not None and "author_banned" in banned.flags and banned.state == "new"
    assert [e.type for e in store.log_after()][-1] == "flag"
    # The chat ended: the page is stored, and the source says so plainly.
    assert result.stored == 3
    assert "has ended (2026-05-14T10:04:00.000+00:00)" in result.error
    record = health(store, "youtube")
    assert record["state"] == "stopped"
    assert record["last_error"].startswith(f"the live chat of video {VIDEO} has ended")
    # Later polls do not spend quota on a chat that is over.
    clock.now += 60
    later = poll(source, store, clock)
    assert "has ended" in later.error and len(http.request_sequence) == 3


def test_a_ban_can_retract_the_authors_open_questions(store: Store) -> None:
    clock = Clock()
    http = Http([ok("video_live.json"), ok("chat_events.json")])
    poll(make(store.keys.event, http, clock, on_ban="retract"), store, clock)
    fay = store.question("yt:LCC.EhwKGkNOYnVc")
    assert fay is not None and fay.state == "rejected" and "author_banned" in fay.flags
    assert fay.reject_reason == "its author was banned from the chat"
    eve = store.question("yt:LCC.EhwKGkNOYnVa")
    assert eve is not None and eve.state == "new" and "author_banned" not in eve.flags
