"""The Bluesky source through the atproto SDK's real Client, with Bluesky simulated at the HTTP
layer (respx: the SDK speaks httpx). Payloads are in tests/payloads/bluesky/ (README.md there
says where each came from). Each test runs real poll cycles into a real Redis."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.core.store import Store
from aggregator.ingest.sources.bluesky import BlueskySource
from tests.sources import NOW, Clock, checkpoint, health, poller, question_rows

XRPC = "https://bsky.social/xrpc"
PAYLOADS = Path(__file__).parent / "payloads" / "bluesky"
HANDLE = "trust.example.org"
PASSWORD = "abcd-efgh-ijkl-mnop"  # the shape of an app password, not a real one
ANNOUNCEMENT = "at://did:plc:trust7comms000000000000d/app.bsky.feed.post/3lbzq2root001"
RATE = {"ratelimit-limit": "3000", "ratelimit-remaining": "2990",
        "ratelimit-reset": str(int(NOW) + 300), "ratelimit-policy": "3000;w=300"}


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


ERRORS = payload("errors.json")


SESSION_DID = "did:plc:trust7comms000000000000d"


def _jwt(expires: float) -> str:
    """An access token shaped as Bluesky's (the SDK reads its expiry; nothing checks the
    signature on this side)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return ".".join([part({"typ": "at+jwt", "alg": "ES256K"}),
                     part({"scope": "com.atproto.appPass", "sub": SESSION_DID,
                           "iat": int(time.time()), "exp": int(expires),
                           "aud": "did:web:bsky.social"}), "c2lnbmF0dXJl"])


SESSION = {"did": "did:plc:trust7comms000000000000d", "handle": HANDLE,
           "email": "comms@trust.example.org", "emailConfirmed": True, "active": True,
           "accessJwt": _jwt(time.time() + 7200), "refreshJwt": _jwt(time.time() + 86400 * 60)}


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", PASSWORD)


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=XRPC, assert_all_called=False) as mock:
        mock.post("/com.atproto.server.createSession").respond(json=SESSION)
        yield mock


def make(event: str, clock: Clock | None = None, **options: Any) -> BlueskySource:
    options.setdefault("handle", HANDLE)
    return BlueskySource(SourceSettings(enabled=True, **options),
                         EventSettings(slug=event, hashtags=["#APM2026"]),
                         clock=clock or Clock())


def searches(api: Any) -> list[httpx.Request]:
    return [c.request for c in api.calls if "searchPosts" in c.request.url.path]


def test_pages_are_read_and_the_next_cycle_resumes_from_the_newest_post(
        api: Any, store: Store, event: str) -> None:
    search = api.get("/app.bsky.feed.searchPosts")
    search.side_effect = [httpx.Response(200, json=payload("search_page1.json"), headers=RATE),
                          httpx.Response(200, json=payload("search_page2.json"), headers=RATE),
                          httpx.Response(200, json=payload("search_empty.json"), headers=RATE)]
    api.get("/app.bsky.feed.getPosts").respond(json={"posts": payload("search_page1.json")["posts"]
                                                     + payload("search_page2.json")["posts"]})
    clock = Clock()
    run = poller(make(event, clock), store, clock)

    result = run.poll_once()

    assert (result.stored, result.dead, result.skipped) == (4, 0, 1)  # the image-only quote
    login = api.calls[0].request
    assert json.loads(login.content) == {"identifier": HANDLE, "password": PASSWORD}
    first, second = searches(api)
    assert first.url.params.get_list("tag") == ["APM2026"]
    assert dict(first.url.params) | {"tag": "APM2026"} == {
        "q": "#APM2026", "tag": "APM2026", "sort": "latest", "limit": "100",
        "since": "2026-05-13T10:03:20.000Z"}  # lookback_hours (24) before the first cycle
    assert second.url.params["cursor"] == "100"
    assert first.headers["Authorization"] == f"Bearer {SESSION['accessJwt']}"
    rows = {row[0]: row for row in question_rows(store)}
    p1 = "bsky:at://did:plc:ann4hughes0000000000000a/app.bsky.feed.post/3lbzq2apm0001"
    assert rows[p1][1:] == (
        "#APM2026 How will response times improve in rural areas?", "Ann Hughes",
        "annhughes.bsky.social",
        "https://bsky.app/profile/annhughes.bsky.social/post/3lbzq2apm0001",
        "2026-05-14T10:02:11+00:00", "question")
    link = rows["bsky:at://did:plc:bob5singh00000000000000b/app.bsky.feed.post/3lbzq2apm0002"]
    # The shortened link's words are replaced by where it goes.
    assert link[1] == ("Why does the report at https://example.org/board/2026-papers/item-7.pdf "
                       "say handover delays rose? #APM2026 ❤️")
    reply = rows["bsky:at://did:plc:cara6jones0000000000000c/app.bsky.feed.post/3lbzq2apm0003"]
    assert (reply[2], reply[3], reply[6]) == ("cara.example.org", "cara.example.org",
                                              "question,reply")
    assert checkpoint(store, "bluesky")["since"] == {"APM2026": "2026-05-14T10:02:12.431Z"}
    record = health(store, "bluesky")
    assert (record["state"], record["account"], record["rate_remaining"]) == ("ok", HANDLE, 2990)

    clock.now += 15
    run.poll_once()

    third = searches(api)[2]
    assert third.url.params["since"] == "2026-05-14T09:57:12.000Z"  # the newest less 5 minutes
    assert sum("createSession" in c.request.url.path for c in api.calls) == 1  # one login


def test_replies_to_the_announcement_count_without_a_hashtag_but_not_the_trusts_own(
        api: Any, store: Store, event: str) -> None:
    api.get("/app.bsky.feed.searchPosts").respond(json=payload("search_empty.json"))
    thread = api.get("/app.bsky.feed.getPostThread").respond(json=payload("thread.json"))
    api.get("/app.bsky.feed.getPosts").respond(json={"posts": []})
    api.get("/com.atproto.identity.resolveHandle").respond(
        json={"did": "did:plc:trust7comms000000000000d"})

    result = poller(make(event, announcement_posts=[
        "https://bsky.app/profile/trust.example.org/post/3lbzq2root001"]), store).poll_once()

    assert result.stored == 2
    assert thread.calls[0].request.url.params["uri"] == ANNOUNCEMENT
    assert sorted(row[1] for row in question_rows(store)) == [
        "And will they be based in the north?",
        "How many new paramedics will be trained this year?"]


def test_a_post_missing_in_two_checks_running_retracts_its_question(
        api: Any, store: Store, event: str) -> None:
    page = payload("search_page1.json")
    api.get("/app.bsky.feed.searchPosts").side_effect = [
        httpx.Response(200, json={"posts": page["posts"]}),
        *[httpx.Response(200, json={"posts": page["posts"][1:]})] * 3]
    get_posts = api.get("/app.bsky.feed.getPosts")
    # A hiccup (the second post missing once), then the first post deleted.
    get_posts.side_effect = [httpx.Response(200, json={"posts": page["posts"][::2]}),
                             httpx.Response(200, json={"posts": page["posts"][1:]}),
                             httpx.Response(200, json={"posts": page["posts"][1:]})]
    clock = Clock()
    run = poller(make(event, clock), store, clock)
    run.poll_once()
    assert get_posts.call_count == 0  # posts just found are not asked after at once
    for _ in range(3):
        clock.now += 61  # past recheck_interval
        run.poll_once()

    asked = get_posts.calls[0].request.url.params.get_list("uris")
    assert asked == [post["uri"] for post in page["posts"]]
    deleted, hiccup = ("bsky:" + post["uri"] for post in page["posts"][:2])
    question = store.question(deleted)
    assert question is not None and question.state == "rejected"
    assert "deleted" in question.flags
    kept = store.question(hiccup)
    assert kept is not None and kept.state == "new"
    assert page["posts"][0]["uri"] not in checkpoint(store, "bluesky")["recent"]


def test_bad_posts_become_dead_letters_and_the_rest_is_stored(api: Any, store: Store,
                                                              event: str) -> None:
    api.get("/app.bsky.feed.searchPosts").respond(json=payload("search_malformed.json"))
    api.get("/app.bsky.feed.getPosts").respond(json={"posts": []})

    result = poller(make(event), store).poll_once()

    assert (result.stored, result.dead) == (1, 5)
    base = "post at://did:plc:ann4hughes0000000000000a/app.bsky.feed.post/3lbzq2bad000"
    assert sorted(letter["reason"] for letter in store.dead_letters()) == sorted([
        f"{base}1: field 'record': expected a JSON object",
        "post https://bsky.app/not-a-uri: field 'uri': not a post's at:// URI: "
        "'https://bsky.app/not-a-uri'",
        f"{base}3: field 'record.createdAt': not a time: 'yesterday'",
        f"{base}4: field 'author.handle': expected text, got int",
        "post without a uri: not a JSON object: not a post"])
    assert health(store, "bluesky")["state"] == "ok"


def test_429_pauses_until_ratelimit_reset(api: Any, store: Store, event: str) -> None:
    api.get("/app.bsky.feed.searchPosts").respond(
        429, json=ERRORS["429"], headers={**RATE, "ratelimit-remaining": "0"})

    result = poller(make(event), store).poll_once()

    assert result.delay == 300
    record = health(store, "bluesky")
    assert record["state"] == "paused"
    assert record["last_error"] == "Bluesky rate limit reached (app.bsky.feed.searchPosts, 429)"


def test_a_wrong_password_stops_the_source_with_one_line_and_no_retry_storm(
        api: Any, store: Store, event: str) -> None:
    login = api.post("/com.atproto.server.createSession").respond(401,
                                                                   json=ERRORS["wrong_password"])
    run = poller(make(event), store)

    first, second = run.poll_once(), run.poll_once()

    record = health(store, "bluesky")
    assert record["state"] == "stopped"
    assert record["last_error"] == (
        "Bluesky refused the app password of trust.example.org (401 AuthenticationRequired: "
        "Invalid identifier or password): it may have been revoked; make a new one and put it "
        "in BLUESKY_APP_PASSWORD")
    assert first.delay == second.delay == 300
    assert login.call_count == 1  # the same refused password is not sent again
    assert PASSWORD not in json.dumps(record)


def test_a_session_revoked_mid_meeting_logs_in_once_then_stops(api: Any, store: Store,
                                                               event: str) -> None:
    api.get("/app.bsky.feed.searchPosts").mock(side_effect=[
        httpx.Response(200, json=payload("search_empty.json")),
        httpx.Response(400, json=ERRORS["expired"])])
    api.get("/app.bsky.feed.getPosts").respond(json={"posts": []})
    login = api.post("/com.atproto.server.createSession")
    login.side_effect = [httpx.Response(200, json=SESSION),
                         httpx.Response(401, json=ERRORS["wrong_password"])]
    run = poller(make(event), store)
    run.poll_once()

    run.poll_once()

    assert login.call_count == 2
    record = health(store, "bluesky")
    assert record["state"] == "stopped"
    assert record["last_error"].startswith("Bluesky refused the app password")


def test_a_missing_password_says_so(api: Any, store: Store, event: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLUESKY_APP_PASSWORD")

    poller(make(event), store).poll_once()

    assert health(store, "bluesky")["last_error"].startswith("BLUESKY_APP_PASSWORD is not set")


def test_a_slow_server_fails_the_cycle_with_backoff(api: Any, store: Store, event: str) -> None:
    api.get("/app.bsky.feed.searchPosts").mock(side_effect=httpx.ReadTimeout("slow"))

    result = poller(make(event), store).poll_once()

    record = health(store, "bluesky")
    assert record["state"] == "failing"
    assert record["last_error"] == ("Bluesky did not answer within 10 s "
                                    "(app.bsky.feed.searchPosts)")
    assert 7.5 <= result.delay <= 15
    assert store.checkpoint("bluesky") is None


def test_check_logs_in_and_searches_the_last_hour(api: Any, event: str) -> None:
    search = api.get("/app.bsky.feed.searchPosts").respond(
        json=payload("search_page1.json"), headers=RATE)

    said = make(event).check()

    assert said == ("logged in as trust.example.org and the search works (a post tagged "
                    "#APM2026 in the last hour; 2990 requests left in this rate window)")
    assert search.calls[0].request.url.params["limit"] == "1"


def test_words_that_link_elsewhere_show_where_they_go(api: Any, store: Store,
                                                      event: str) -> None:
    post = payload("search_page1.json")["posts"][1]
    text = "#APM2026 Read the trust's answer at trust.example.org/answers first?"
    shown = "trust.example.org/answers"
    start = text.encode().index(shown.encode())
    post["record"]["text"] = text
    post["record"]["facets"] = [
        {"index": {"byteStart": start, "byteEnd": start + len(shown)},
         "features": [{"$type": "app.bsky.richtext.facet#link",
                       "uri": "https://elsewhere.example/login"}]},
        {"index": {"byteStart": 0, "byteEnd": 8},
         "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "APM2026"}]}]
    api.get("/app.bsky.feed.searchPosts").respond(json={"posts": [post]})
    api.get("/app.bsky.feed.getPosts").respond(json={"posts": [post]})

    poller(make(event), store).poll_once()

    assert question_rows(store)[0][1] == ("#APM2026 Read the trust's answer at "
                                          "trust.example.org/answers "
                                          "(https://elsewhere.example/login) first?")


def test_a_deleted_announcement_is_said_and_the_search_goes_on(api: Any, store: Store,
                                                               event: str) -> None:
    api.get("/app.bsky.feed.searchPosts").respond(json=payload("search_page1.json"))
    api.get("/app.bsky.feed.getPostThread").respond(400, json=ERRORS["thread_not_found"])
    api.get("/app.bsky.feed.getPosts").respond(json={"posts": []})

    result = poller(make(event, announcement_posts=[ANNOUNCEMENT]), store).poll_once()

    assert result.stored == 3
    record = health(store, "bluesky")
    assert record["state"] == "ok"
    assert record["detail"] == (
        f"the announcement {ANNOUNCEMENT} is gone (Bluesky refused "
        f"app.bsky.feed.getPostThread (400 NotFound: Post not found: {ANNOUNCEMENT}))")
