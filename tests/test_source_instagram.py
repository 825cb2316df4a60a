"""The Instagram source through the real instaloader and facebook-sdk, with Instagram simulated at
the HTTP layer (responses).

Payloads are in tests/payloads/instagram/, in the shapes of platform-apis.md §3 (the app endpoints
instaloader 4.16 reads, and the Instagram Graph API) with invented ids and names. Each test runs
real poll cycles into a real Redis and asserts what landed: questions, checkpoints, health, dead
letters.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.core.store import Store
from aggregator.ingest.sources.instagram import (
    InstagramSource,
    LoginFailed,
    PollerRateController,
    login,
)
from tests.sources import (
    NOW,
    REPO,
    Clock,
    checkpoint,
    health,
    params,
    poll,
    question_rows,
    questions,
)

PAYLOADS = Path(__file__).parent / "payloads" / "instagram"
WEB_INFO = "https://i.instagram.com/api/v1/tags/web_info/"
EXPLORE = "https://www.instagram.com/explore/tags/apm2026/"
GRAPHQL = "https://www.instagram.com/graphql/query"
COMMENTS = "https://i.instagram.com/api/v1/media/3300000000000000100/comments/"
MEETING_POST = "https://www.instagram.com/p/C7aMeet0100/"
GRAPH = "https://graph.facebook.com/v21.0/"
IG_USER, MEDIA, HASHTAG_ID = "17841405309211844", "17895695668004550", "17843853986012965"
THROTTLED = {"message": "Please wait a few minutes before you try again.", "status": "fail"}


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def media(code: str, taken: Any, caption: Any = "#APM2026 a question?", **changes: Any) -> dict:
    """One post as web_info lists it; ``changes`` overrides fields (None deletes one)."""
    item: dict[str, Any] = {
        "pk": str(3300000000000000000 + zlib.crc32(code.encode())), "code": code,
        "media_type": 1, "taken_at": taken,
        "caption": {"text": caption}, "has_liked": False, "like_count": 0, "comment_count": 0,
        "user": {"pk": "990", "username": "pat.q", "full_name": "Pat Q", "is_private": False,
                 "profile_pic_url": "https://scontent.cdninstagram.com/v/t51/u990.jpg"}}
    for key, value in changes.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return {"media": item}


def web_info(medias: list[dict], more: bool = False) -> dict:
    data = payload("web_info_empty.json")
    data["data"]["recent"] = {"sections": [{"layout_type": "media_grid",
                                            "layout_content": {"medias": medias}}],
                              "more_available": more, "next_max_id": "TU9SRQ" if more else None}
    return data


@pytest.fixture
def session_file(tmp_path: Path) -> Path:
    path = tmp_path / "session-floor_test"
    path.write_bytes(pickle.dumps({"sessionid": "fake-session-id", "csrftoken": "fake-csrf-token",
                                   "ds_user_id": "4242"}))
    return path


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def make(event: str, session_file: Path, clock: Any = None, **options: Any) -> InstagramSource:
    options.setdefault("username", "floor_test")
    options.setdefault("session_file", str(session_file))
    options.setdefault("polite_sleep", False)
    controller = options.pop("rate_controller", None)
    return InstagramSource(SourceSettings(**options),
                           EventSettings(slug=event, hashtags=["#APM2026"]),
                           clock=clock or Clock(), rate_controller=controller)


def q(code: str, text: str, name: str, handle: str, at: str) -> dict[str, str]:
    return {"id": f"ig:{code}", "text": text, "author_name": name, "author_handle": handle,
            "url": f"https://www.instagram.com/p/{code}/", "posted_at": at}


FIRST_FOUR = [
    q("C7aQ3xYz003", "Q for the board #apm2026: community first responders?", "Carol J", "carol.j",
      "2026-05-14T10:02:11+00:00"),
    q("C7aQ3xYz002", "#apm2026 mental health calls?", "Bob S", "bob.s",
      "2026-05-14T10:01:40+00:00"),
    q("C7aQ3xYz001", "Watching the #APM2026 stream", "Ann H", "ann.h", "2026-05-14T10:00:00+00:00"),
    q("C7aQ3xYz000", "Ｑ: will the #ＡＰＭ２０２６ minutes be published?", "Dee K", "dee.k",
      "2026-05-14T09:58:20+00:00"),
]


def serve_first_pages(api: responses.RequestsMock) -> None:
    api.add("GET", WEB_INFO, json=payload("web_info.json"),
            match=[matchers.query_param_matcher({"__a": "1", "__d": "dis", "tag_name": "apm2026"})])
    api.add("GET", EXPLORE, json=payload("explore_page2.json"),
            match=[matchers.query_param_matcher({"__a": "1", "__d": "dis",
                                                 "max_id": "QVFCbmV4dF9tYXhfaWQ"})])


# -- instaloader backend: hashtags --------------------------------------------------------------


def test_hashtag_pages_become_questions(api: responses.RequestsMock, store: Store,
                                        session_file: Path) -> None:
    serve_first_pages(api)
    result = poll(make(store.keys.event, session_file), store)

    assert (result.stored, result.dead, result.skipped) == (4, 0, 1)  # "#apm2026s" is not ours
    assert questions(store) == FIRST_FOUR
    assert api.calls[0].request.headers["authorization"].startswith("Bearer IGT:2:")
    raw = store.raw("ig:C7aQ3xYz003")
    assert raw["node"]["iphone_struct"]["user"]["username"] == "carol.j"
    assert checkpoint(store, "instagram") == {"instaloader": {"posts": {}, "tags": {"apm2026": {
        "newest": 1778752931.0,
        "seen": {"C7aQ3xYz003": 1778752931.0, "C7aQ3xYz002": 1778752900.0,
                 "C7aQ3xYz001": 1778752800.0, "C7aQ3xYz000": 1778752700.0,
                 "C7aQ3xYzno1": 1778752600.0}}}}}
    record = health(store, "instagram")
    assert record["state"] == "ok"
    assert (record["backend"], record["posts_read"], record["requests"]) == ("instaloader", 5, 2)
    assert record["interval"] == 120.0


def test_next_cycle_reads_only_until_older_posts(store: Store, session_file: Path) -> None:
    source = make(store.keys.event, session_file)
    with responses.RequestsMock() as api:
        serve_first_pages(api)
        poll(source, store)
    older = [media(f"C7aOld{i:05d}", 1778740000 - i) for i in range(14)]
    page = web_info([media("C7aQ3xYz004", NOW + 60, "#apm2026 budget for 2027?"),
                     *[m for m in payload("web_info.json")["data"]["recent"]["sections"][0]
                       ["layout_content"]["medias"]], *older], more=True)
    with responses.RequestsMock() as api:  # the next page is never asked for
        api.add("GET", WEB_INFO, json=page)
        result = poll(source, store)
        assert len(api.calls) == 1

    assert (result.stored, result.skipped) == (1, 0)
    assert questions(store)[4] == q("C7aQ3xYz004", "#apm2026 budget for 2027?", "Pat Q", "pat.q",
                                   "2026-05-14T10:04:20+00:00")
    state = checkpoint(store, "instagram")["instaloader"]["tags"]["apm2026"]
    assert state["newest"] == NOW + 60
    assert "C7aQ3xYz004" in state["seen"] and "C7aOld00000" not in state["seen"]
    assert health(store, "instagram")["posts_read"] == 3 + 12


def test_empty_hashtag_is_a_quiet_success(api: responses.RequestsMock, store: Store,
                                          session_file: Path) -> None:
    api.add("GET", WEB_INFO, json=payload("web_info_empty.json"))
    result = poll(make(store.keys.event, session_file), store)

    assert (result.stored, result.dead) == (0, 0)
    assert questions(store) == []
    assert checkpoint(store, "instagram") == {
        "instaloader": {"posts": {}, "tags": {"apm2026": {"seen": {}}}}}
    assert health(store, "instagram")["state"] == "ok"


@pytest.mark.parametrize("status, body", [
    (429, THROTTLED),
    (401, {**THROTTLED, "require_login": True}),
])
def test_throttling_pauses_for_half_an_hour(api: responses.RequestsMock, store: Store,
                                            session_file: Path, status: int, body: dict) -> None:
    api.add("GET", WEB_INFO, json=body, status=status)
    result = poll(make(store.keys.event, session_file), store)

    assert result.delay == 1800
    record = health(store, "instagram")
    assert record["state"] == "paused"
    assert record["paused_until"] == "2026-05-14T10:33:20.000Z"
    assert "please wait a few minutes" in record["last_error"]
    assert store.checkpoint("instagram") is None


def test_spent_request_budget_pauses_instead_of_sleeping(store: Store,
                                                        session_file: Path) -> None:
    class TinyBudget(PollerRateController):
        def count_per_sliding_window(self, query_type: str) -> int:
            return 1

    source = make(store.keys.event, session_file, rate_controller=TinyBudget)
    with responses.RequestsMock() as api:
        api.add("GET", WEB_INFO, json=payload("web_info_empty.json"))
        assert poll(source, store).error == ""
        started = time.monotonic()
        result = poll(source, store)
        assert len(api.calls) == 1  # the second request was never sent

    assert time.monotonic() - started < 5  # and nothing slept
    assert 600 < result.delay <= 666
    record = health(store, "instagram")
    assert record["state"] == "paused"
    assert "request budget is spent" in record["last_error"]


@pytest.mark.parametrize("reply, words", [
    ({"status": 400, "json": {"message": "checkpoint_required", "lock": True, "status": "fail",
                              "checkpoint_url": "https://www.instagram.com/challenge/?next=/"}},
     "floor_test to pass a security check"),
    ({"status": 400, "json": {"message": "feedback_required", "status": "fail"}},
     "blocked floor_test's requests"),
    ({"status": 302, "headers": {
        "Location": "https://www.instagram.com/accounts/login/?next=/api/v1/tags/web_info/"}},
     "logged floor_test's saved session out"),
])
def test_session_trouble_stops_with_plain_words(api: responses.RequestsMock, store: Store,
                                                session_file: Path, reply: dict,
                                                words: str) -> None:
    api.add("GET", WEB_INFO, **reply)
    result = poll(make(store.keys.event, session_file), store)

    record = health(store, "instagram")
    assert record["state"] == "stopped"
    assert words in record["last_error"]
    assert result.delay == 300


@pytest.mark.parametrize("reply, words", [
    ({"status": 500, "body": "<html>oops</html>", "content_type": "text/html"},
     "did not answer properly"),
    ({"body": requests.exceptions.ReadTimeout("read timed out")}, "did not answer in time"),
    ({"status": 200, "body": '{"data": {"recent": ', "content_type": "application/json"},
     "not JSON"),
    ({"status": 404, "json": {"message": "Page not found", "status": "fail"}}, "404"),
    ({"json": {"data": {"id": "1", "name": "apm2026", "media_count": 2}, "status": "ok"}},
     "changed shape"),
])
def test_failures_back_off_and_keep_the_checkpoint(api: responses.RequestsMock, store: Store,
                                                   session_file: Path, reply: dict,
                                                   words: str) -> None:
    api.add("GET", WEB_INFO, **reply)
    result = poll(make(store.keys.event, session_file), store)

    record = health(store, "instagram")
    assert record["state"] == "failing"
    assert words in record["last_error"]
    assert 0 < result.delay <= 120
    assert store.checkpoint("instagram") is None


def test_unreadable_posts_become_dead_letters_once(store: Store, session_file: Path) -> None:
    page = web_info([
        media("C7aGood0001", 1778752900, "#apm2026 first?"),
        media("C7aBad00001", 1778752890, caption=42),
        media("C7aBad00002", "yesterday"),
        media("C7aGone0001", 1778752870, "#APM2026 from a deleted account?", user=None),
        media("C7aBad00003", 1778752860, has_liked=None),
        media("C7aGood0002", 1778752850, "#apm2026 never reached this cycle"),
    ])
    source = make(store.keys.event, session_file)
    for _ in range(2):
        with responses.RequestsMock() as api:
            api.add("GET", WEB_INFO, json=page)
            poll(source, store)

    assert questions(store) == [
        q("C7aGood0001", "#apm2026 first?", "Pat Q", "pat.q", "2026-05-14T10:01:40+00:00"),
        q("C7aGone0001", "#APM2026 from a deleted account?", "", "", "2026-05-14T10:01:10+00:00"),
    ]
    letters = store.dead_letters()
    assert sorted(letter["reason"] for letter in letters) == [
        "#apm2026 C7aBad00001: field 'node.caption': expected text, got int",
        "#apm2026 C7aBad00002: field 'node.date': expected a number, got str",
        "#apm2026: instaloader could not read the post after C7aGone0001 (KeyError: 'has_liked')",
    ]
    assert json.loads(letters[0]["raw"])["kind"] == "post"
    assert health(store, "instagram")["state"] == "ok"


def test_restart_loses_and_duplicates_nothing(store: Store, session_file: Path) -> None:
    with responses.RequestsMock() as api:
        serve_first_pages(api)
        poll(make(store.keys.event, session_file), store)
    newer = web_info([media("C7aQ3xYz005", NOW + 30, "#APM2026 after the restart?"),
                      *payload("web_info.json")["data"]["recent"]["sections"][0]
                      ["layout_content"]["medias"]], more=True)
    first = make(store.keys.event, session_file)
    with responses.RequestsMock() as api:  # read, then killed before the batch was stored
        api.add("GET", WEB_INFO, json=newer)
        api.add("GET", EXPLORE, json=payload("explore_page2.json"))
        assert len(first.fetch(store.checkpoint("instagram")).items) == 1

    second = make(store.keys.event, session_file)  # a new process: new source, new poller
    with responses.RequestsMock() as api:
        api.add("GET", WEB_INFO, json=newer)
        api.add("GET", EXPLORE, json=payload("explore_page2.json"))
        result = poll(second, store)

    assert result.stored == 1
    ids = [question["id"] for question in questions(store)]
    assert ids == [*(question["id"] for question in FIRST_FOUR), "ig:C7aQ3xYz005"]
    assert checkpoint(store, "instagram")["instaloader"]["tags"]["apm2026"]["newest"] == NOW + 30


# -- instaloader backend: comments on the meeting's post ----------------------------------------


def serve_comments(api: responses.RequestsMock, *pages: dict) -> None:
    api.add("POST", GRAPHQL, json=payload("post_web_info.json"))
    for page in pages:
        api.add("GET", COMMENTS, json=page)


def test_comments_on_the_meeting_post_and_their_deletion(store: Store,
                                                         session_file: Path) -> None:
    source = make(store.keys.event, session_file, hashtags=[], post_shortcodes=[MEETING_POST])
    with responses.RequestsMock() as api:
        serve_comments(api, payload("comments_page1.json"), payload("comments_page2.json"))
        result = poll(source, store)
        assert "min_id=" in api.calls[2].request.url

    assert result.stored == 3
    comment_url = MEETING_POST + "c/{}/"
    assert questions(store) == [
        {"id": "ig:17900000000000001", "text": "How will ambulance waiting times come down?",
         "author_name": "Dee K", "author_handle": "dee.k",
         "url": comment_url.format("17900000000000001"), "posted_at": "2026-05-14T09:46:40+00:00"},
        {"id": "ig:17900000000000002", "text": "What about staffing in the north?",
         "author_name": "Eve L", "author_handle": "eve.l",
         "url": comment_url.format("17900000000000002"), "posted_at": "2026-05-14T09:48:20+00:00"},
        {"id": "ig:17900000000000003", "text": "Great work everyone #APM2026",
         "author_name": "Carol J", "author_handle": "carol.j",
         "url": comment_url.format("17900000000000003"), "posted_at": "2026-05-14T09:50:00+00:00"},
    ]
    remaining = {"comments": [payload("comments_page1.json")["comments"][0],
                              payload("comments_page2.json")["comments"][0]],
                 "comment_count": 14, "next_min_id": None, "status": "ok"}
    for _ in range(2):  # gone from two complete reads in a row: deleted on Instagram
        with responses.RequestsMock() as api:
            serve_comments(api, remaining)
            assert poll(source, store).stored == 0
        state = checkpoint(store, "instagram")["instaloader"]["posts"]["C7aMeet0100"]
    assert state == {"ids": ["17900000000000001", "17900000000000003"], "missing": []}
    gone = store.question("ig:17900000000000002")
    assert gone is not None and gone.state == "rejected" and "deleted" in gone.flags
    kept = store.question("ig:17900000000000001")
    assert kept is not None and kept.state == "new"


def test_a_few_comments_come_through_graphql(store: Store, session_file: Path) -> None:
    few = payload("post_web_info.json")
    few["data"]["xdt_api__v1__media__shortcode__web_info"]["items"][0]["comment_count"] = 2
    source = make(store.keys.event, session_file, hashtags=[], post_shortcodes=["C7aMeet0100"])
    with responses.RequestsMock() as api:  # up to 12 comments, instaloader asks GraphQL
        api.add("POST", GRAPHQL, json=few)
        api.add("GET", GRAPHQL, json=payload("comments_graphql.json"), match=[
            matchers.query_param_matcher({"query_hash": "97b41c52301f77ce508f55e66d17620e"},
                                         strict_match=False)])
        assert poll(source, store).stored == 2

    assert questions(store)[1] == {
        "id": "ig:17900000000000012", "text": "Who chairs next year?", "author_name": "gus.n",
        "author_handle": "gus.n", "url": MEETING_POST + "c/17900000000000012/",
        "posted_at": "2026-05-14T09:53:20+00:00"}


def test_comments_can_require_the_hashtag(store: Store, session_file: Path) -> None:
    source = make(store.keys.event, session_file, hashtags=[], require_hashtag=True,
                  post_shortcodes=["C7aMeet0100"])
    with responses.RequestsMock() as api:
        serve_comments(api, payload("comments_page1.json"), payload("comments_page2.json"))
        result = poll(source, store)

    assert (result.stored, result.skipped) == (1, 2)
    assert [question["id"] for question in questions(store)] == ["ig:17900000000000003"]


# -- instaloader backend: session and login ------------------------------------------------------


def test_missing_session_says_how_to_make_one(store: Store, tmp_path: Path) -> None:
    poll(make(store.keys.event, tmp_path / "nowhere"), store)
    record = health(store, "instagram")
    assert record["state"] == "stopped"
    assert record["last_error"] == (
        f"instaloader backend: no saved Instagram session at {tmp_path / 'nowhere'}: "
        "run 'floor instagram-login floor_test'")


def test_unreadable_session_and_missing_username_stop(store: Store, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_bytes(b"not a pickle")
    poll(make(store.keys.event, broken), store)
    assert "cannot be read" in health(store, "instagram")["last_error"]
    poll(make(store.keys.event, broken, username=""), store)
    assert health(store, "instagram")["last_error"].startswith(
        "instaloader backend: set 'username' in [sources.instagram]")


def test_login_saves_the_session_file(api: responses.RequestsMock, tmp_path: Path) -> None:
    api.add("GET", "https://www.instagram.com/",
            headers={"Set-Cookie": "csrftoken=fake-csrf-1; Path=/; Domain=.instagram.com"})
    api.add("POST", "https://www.instagram.com/api/v1/web/accounts/login/ajax/",
            json={"authenticated": True, "user": True, "userId": "4242", "status": "ok"},
            headers={"Set-Cookie": "csrftoken=fake-csrf-2; Path=/; Domain=.instagram.com"})
    path = login("floor_test", str(tmp_path / "session"), password="not-a-real-password")

    assert path == str(tmp_path / "session")
    saved = pickle.loads(Path(path).read_bytes())
    assert saved["csrftoken"] == "fake-csrf-2"


def test_login_with_a_wrong_password_says_so(api: responses.RequestsMock,
                                             tmp_path: Path) -> None:
    api.add("GET", "https://www.instagram.com/", headers={"Set-Cookie": "csrftoken=fake; Path=/"})
    api.add("POST", "https://www.instagram.com/api/v1/web/accounts/login/ajax/",
            json={"authenticated": False, "user": True, "status": "ok"})
    with pytest.raises(LoginFailed, match="Wrong password"):
        login("floor_test", str(tmp_path / "session"), password="wrong")
    assert not (tmp_path / "session").exists()


def test_check_makes_one_call(api: responses.RequestsMock, store: Store,
                              session_file: Path) -> None:
    api.add("GET", WEB_INFO, json=payload("web_info.json"))
    said = make(store.keys.event, session_file).check()
    assert said == "instaloader backend: logged in as floor_test; #apm2026 has 5 posts"


# -- graph backend ------------------------------------------------------------------------------


@pytest.fixture
def graph_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTAGRAM_GRAPH_TOKEN", "test-graph-token-not-real")


def make_graph(event: str, clock: Any = None, **options: Any) -> InstagramSource:
    options = {"backend": "graph", "ig_user_id": IG_USER, "media_ids": [MEDIA], **options}
    return InstagramSource(SourceSettings(**options),
                           EventSettings(slug=event, hashtags=["#APM2026"]), clock=clock or Clock())


def serve_graph(api: responses.RequestsMock, comments: list[dict], first: bool = True) -> None:
    if first:
        api.add("GET", GRAPH + MEDIA, json=payload("graph_media.json"),
                match=[matchers.query_param_matcher({"fields": "id,permalink"},
                                                    strict_match=False)])
    for page in comments:
        api.add("GET", f"{GRAPH}{MEDIA}/comments", json=page)
    if first:
        api.add("GET", GRAPH + "ig_hashtag_search", json=payload("graph_hashtag_search.json"),
                match=[matchers.query_param_matcher(
                    {"user_id": IG_USER, "q": "apm2026"}, strict_match=False)])
    api.add("GET", f"{GRAPH}{HASHTAG_ID}/recent_media", json=payload("graph_recent_media.json"))
    api.add("GET", f"{GRAPH}{HASHTAG_ID}/recent_media", json=payload("graph_recent_media_end.json"),
            headers={"x-app-usage": '{"call_count":7,"total_cputime":2,"total_time":3}'})


def test_graph_comments_and_hashtag_search(store: Store, graph_token: None) -> None:
    source = make_graph(store.keys.event)
    with responses.RequestsMock() as api:
        serve_graph(api, [payload("graph_comments_page1.json"),
                          payload("graph_comments_page2.json")])
        result = poll(source, store)
        assert "after=QVFIUmFmdGVyX2N1cnNvcgZDZD" in api.calls[2].request.url
        assert "access_token=test-graph-token-not-real" in api.calls[0].request.url

    assert (result.stored, result.skipped) == (4, 1)
    meeting = "https://www.instagram.com/p/C7aMeet0100/c/{}/"
    assert questions(store) == [
        {"id": "ig:17858893269000001", "text": "When will the new station open?",
         "author_name": "ann.h", "author_handle": "ann.h",
         "url": meeting.format("17858893269000001"), "posted_at": "2026-05-14T10:00:05+00:00"},
        {"id": "ig:17858893269000002", "text": "Thanks for streaming!",
         "author_name": "bob.s", "author_handle": "bob.s",
         "url": meeting.format("17858893269000002"), "posted_at": "2026-05-14T10:01:40+00:00"},
        {"id": "ig:17858893269000003", "text": "Is the A&E rebuild funded?",
         "author_name": "cara.j", "author_handle": "cara.j",
         "url": meeting.format("17858893269000003"), "posted_at": "2026-05-14T10:02:11+00:00"},
        {"id": "ig:C7aG0000001", "text": "#APM2026 will response times be published by postcode?",
         "author_name": "", "author_handle": "", "url": "https://www.instagram.com/p/C7aG0000001/",
         "posted_at": "2026-05-14T10:02:30+00:00"},
    ]
    state = checkpoint(store, "instagram")["graph"]
    assert state["hashtag_ids"] == {"apm2026": HASHTAG_ID}
    assert state["media"][MEDIA]["ids"] == ["17858893269000001", "17858893269000002",
                                            "17858893269000003"]
    record = health(store, "instagram")
    assert (record["backend"], record["requests"], record["api_usage_pct"]) == ("graph", 6, 7.0)

    new = {"data": [*payload("graph_comments_page1.json")["data"],
                    {"id": "17858893269000004", "text": "And the A&E in Tolworth?",
                     "timestamp": "2026-05-14T10:05:00+0000", "username": "dan.p"}]}
    with responses.RequestsMock() as api:  # no search, no permalink: both are remembered
        serve_graph(api, [new], first=False)
        assert poll(source, store).stored == 1


@pytest.mark.parametrize("status, body, headers, state, words", [
    (400, {"error": {"message": "Error validating access token: Session has expired",
                     "type": "OAuthException", "code": 190, "error_subcode": 463}}, {},
     "stopped", "token was refused (code 190"),
    (403, {"error": {"message": "(#10) Application does not have permission for this action",
                     "type": "OAuthException", "code": 10}}, {},
     "stopped", "permission is missing"),
    (403, {"error": {"message": "(#4) Application request limit reached",
                     "type": "OAuthException", "is_transient": True, "code": 4}},
     {"x-business-use-case-usage": json.dumps({MEDIA: [{
         "type": "instagram", "call_count": 100, "total_cputime": 9, "total_time": 12,
         "estimated_time_to_regain_access": 7}]})}, "paused", "rate limit (code 4"),
    (502, "<html><body>Bad Gateway</body></html>", {}, "failing", "not JSON"),
    (200, '{"data": [{"id": "1785', {}, "failing", "not JSON"),
])
def test_graph_errors_become_health_states(api: responses.RequestsMock, store: Store,
                                           graph_token: None, status: int, body: Any,
                                           headers: dict, state: str, words: str) -> None:
    kind = "application/json" if str(body).startswith("{") else "text/html"
    reply = {"json": body} if isinstance(body, dict) else {"body": body, "content_type": kind}
    api.add("GET", GRAPH + MEDIA, status=status, headers=headers, **reply)
    poll(make_graph(store.keys.event), store)

    record = health(store, "instagram")
    assert record["state"] == state
    assert words in record["last_error"]
    if state == "paused":
        assert record["paused_until"] == "2026-05-14T10:10:20.000Z"  # Meta's estimate: 7 minutes


def test_graph_without_a_token_says_which_variable(store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INSTAGRAM_GRAPH_TOKEN", raising=False)
    poll(make_graph(store.keys.event), store)
    record = health(store, "instagram")
    assert record["last_error"].startswith("graph backend: INSTAGRAM_GRAPH_TOKEN is not set")
    assert record["backend"] == "graph"  # said even when the very first poll fails


def test_graph_check_and_unknown_hashtag(api: responses.RequestsMock, store: Store,
                                         graph_token: None) -> None:
    api.add("GET", GRAPH + IG_USER, json={"id": IG_USER, "username": "trust.comms"},
            match=[matchers.query_param_matcher({"fields": "id,username"}, strict_match=False)])
    assert make_graph(store.keys.event).check() == (
        "graph backend: token works for Instagram account @trust.comms")

    api.add("GET", GRAPH + "ig_hashtag_search", json={"data": []})
    poll(make_graph(store.keys.event, media_ids=[]), store)
    record = health(store, "instagram")
    assert (record["state"], record["last_error"]) == (
        "stopped", "graph backend: Instagram found no hashtag #apm2026")


# -- the CLI path --------------------------------------------------------------------------------


def test_floor_poll_instagram_once(store: Store, floor_env: dict[str, str], tmp_path: Path,
                                   session_file: Path) -> None:
    now = int(time.time())
    exchanges = [{"method": "GET", "url": WEB_INFO, "status": 200, "json": web_info([
        media("C7aCli00001", now - 60, "#APM2026 from the command line?")])}]
    (tmp_path / "exchanges.json").write_text(json.dumps(exchanges), encoding="utf-8")
    with open(floor_env["FLOOR_CONFIG"], "a", encoding="utf-8") as config:
        config.write(f'\n[sources.instagram]\nusername = "floor_test"\n'
                     f'session_file = "{session_file}"\npolite_sleep = false\n')
    done = subprocess.run([sys.executable, "tests/replay_cli.py", str(tmp_path / "exchanges.json"),
                           "poll", "instagram", "--once"], env=floor_env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "instagram: stored 1" in done.stdout
    assert [question["id"] for question in questions(store)] == ["ig:C7aCli00001"]
    assert health(store, "instagram")["backend"] == "instaloader"


def test_graph_reads_replies_from_each_comments_replies_edge(store: Store,
                                                              graph_token: None) -> None:
    source = make_graph(store.keys.event, hashtags=[])
    source.tags = []  # comments only
    with responses.RequestsMock() as api:
        api.add("GET", GRAPH + MEDIA, json=payload("graph_media.json"))
        api.add("GET", f"{GRAPH}{MEDIA}/comments", json=payload("graph_comments_replies.json"))
        # The first comment has more replies than came with it: its replies edge is read.
        api.add("GET", f"{GRAPH}17858893269000005/replies", json=payload("graph_replies.json"),
                match=[matchers.query_param_matcher(
                    {"fields": "id,text,timestamp,username,from,parent_id"},
                    strict_match=False)])
        result = poll(source, store)
        asked = params(api.calls[1])["fields"]

    # Fields are asked for by name, replies' fields included.
    assert asked == ("id,text,timestamp,username,from,parent_id,"
                     "replies{id,text,timestamp,username,from,parent_id}")
    assert result.stored == 6  # three comments, three replies
    rows = {row[0]: (row[1], row[-1]) for row in question_rows(store)}
    assert rows["ig:17858893269000007"] == (
        "@eve.r the night crews would like to know too?", "question,reply")
    assert rows["ig:17858893269000006"][1] == "question,reply"
    assert rows["ig:17858893269000009"][1] == "question,reply"
    assert rows["ig:17858893269000005"][1] == "question"
    state = checkpoint(store, "instagram")["graph"]["media"][MEDIA]
    assert "17858893269000007" in state["ids"]  # replies are watched for deletion too


def test_graph_hashtag_media_without_a_timestamp_uses_the_time_first_seen(
        store: Store, graph_token: None) -> None:
    source = make_graph(store.keys.event, media_ids=[])
    with responses.RequestsMock() as api:
        api.add("GET", GRAPH + "ig_hashtag_search", json=payload("graph_hashtag_search.json"))
        api.add("GET", f"{GRAPH}{HASHTAG_ID}/recent_media",
                json=payload("graph_recent_media_no_time.json"))
        result = poll(source, store)

    assert (result.stored, result.dead) == (1, 0)
    (row,) = question_rows(store)
    assert row[0] == "ig:C7aG0000003"
    assert row[5] == "2026-05-14T10:03:20+00:00"  # NOW, when it was first seen
    assert "time_first_seen" in row[-1].split(",")


def test_our_own_bug_is_not_called_a_change_of_instagram(store: Store, session_file: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """instaloader's KeyError/AssertionError/AttributeError on a reply it does not know means
    "Instagram changed shape"; the same error raised by our code is a bug, and surfaces."""
    from aggregator.ingest.sources.instagram_loader import LoaderBackend

    def broken(*args: Any) -> Any:
        raise AttributeError("a bug of ours")

    monkeypatch.setattr(LoaderBackend, "_read_tag", broken)
    with pytest.raises(AttributeError, match="a bug of ours"):
        make(store.keys.event, session_file).fetch(None)
