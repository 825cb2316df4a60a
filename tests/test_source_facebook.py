"""The Facebook source through facebook-sdk's real GraphAPI, with the Graph API simulated at the
HTTP layer (responses).

Payloads are in tests/payloads/facebook/, in the shapes of platform-apis.md §2 with invented ids
and names. Each test runs real poll cycles into a real Redis and asserts what landed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.core.store import Store
from aggregator.ingest.sources import SourceStopped
from aggregator.ingest.sources.facebook import FacebookSource
from tests.sources import NOW, REPO, checkpoint, health, params, poller, question_rows, settings

GRAPH = "https://graph.facebook.com/v21.0/"
LIVE, POST = "5566778899", "1122334455_900000000000000"
LIVE_URL, POST_URL = f"{GRAPH}{LIVE}/comments", f"{GRAPH}{POST}/comments"
PAYLOADS = Path(__file__).parent / "payloads" / "facebook"
TOKEN = "test-page-token-not-real"
USAGE = {"x-business-use-case-usage": json.dumps({"1122334455": [
    {"type": "pages", "call_count": 12, "total_cputime": 3, "total_time": 4,
     "estimated_time_to_regain_access": 0}]})}
FIELDS = "id,message,created_time,from,parent{id},permalink_url"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


ERRORS = payload("errors.json")


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEBOOK_PAGE_TOKEN", TOKEN)


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock() as mock:
        yield mock


def make(event: str, **options: Any) -> FacebookSource:
    options.setdefault("live_video_ids", [LIVE])
    options.setdefault("post_ids", [POST])
    return FacebookSource(SourceSettings(enabled=True, **options), EventSettings(slug=event),
                          clock=lambda: NOW)


VIDEO = "https://www.facebook.com/trustcomms/videos/5566778899/?comment_id="
FIRST_CYCLE = [
    ("fb:5566778899_700000000000003", "Thank you to all the crews!", "Cara Jones", "",
     VIDEO + "700000000000003", "2026-05-14T10:02:11+00:00", "reply"),
    ("fb:5566778899_700000000000002", "What is being done about handover delays?",
     "Bob Singh", "", VIDEO + "700000000000002", "2026-05-14T10:01:40+00:00", "question"),
    ("fb:5566778899_700000000000001", "Will the board publish response-time data by postcode?",
     "Ann Hughes", "", VIDEO + "700000000000001", "2026-05-14T10:00:05+00:00", "question"),
    # The token may not see this commenter: no "from", no permalink.
    ("fb:5566778899_700000000000000", "Is the meeting recorded for people who work days?",
     "Facebook user", "", "https://www.facebook.com/5566778899_700000000000000",
     "2026-05-14T09:59:30+00:00", "question"),
    ("fb:900000000000000_800000000000001", "Why were the board papers late?", "Dan Evans", "",
     "https://www.facebook.com/trustcomms/posts/900000000000000?comment_id=800000000000001",
     "2026-05-14T09:50:00+00:00", "markup,question"),
]
FIRST_MARKS = {LIVE: 1778752931, POST: 1778752200}  # 10:02:11 and 09:50:00


def serve_first_cycle(api: Any) -> None:
    api.get(LIVE_URL, json=payload("live_page1.json"), headers=USAGE)
    api.get(LIVE_URL, json=payload("live_page2.json"), headers=USAGE)
    api.get(POST_URL, json=payload("post_page.json"), headers=USAGE)


def test_every_page_of_every_object_is_read(api: Any, store: Store, event: str) -> None:
    serve_first_cycle(api)

    result = poller(make(event), store).poll_once()

    assert (result.stored, result.dead, result.skipped, result.delay) == (5, 0, 1, 15.0)
    live1, live2, post = (params(call) for call in api.calls)
    assert live1 == {"fields": FIELDS, "filter": "stream", "order": "reverse_chronological",
                     "limit": "100", "live_filter": "no_filter", "access_token": TOKEN}
    assert live2 == {**live1, "after": "QVFIUmFmdGVyX2N1cnNvcgZDZD"}
    assert post == {"fields": FIELDS, "filter": "stream", "order": "reverse_chronological",
                    "limit": "100", "access_token": TOKEN}
    assert question_rows(store) == FIRST_CYCLE
    assert store.raw("fb:5566778899_700000000000003") == {
        "object_id": LIVE, "comment": payload("live_page1.json")["data"][0]}
    assert checkpoint(store, "facebook")["since"] == FIRST_MARKS
    record = health(store, "facebook")
    assert record["state"] == "ok"
    assert (record["graph_version"], record["comments_read"], record["api_usage_pct"]) == (
        "v21.0", 6, 12)
    assert "detail" not in record


def test_the_next_cycle_overlaps_a_minute_and_catches_late_comments(api: Any, store: Store,
                                                                    event: str) -> None:
    serve_first_cycle(api)
    api.get(LIVE_URL, json=payload("live_page3.json"), headers=USAGE)
    api.get(POST_URL, json=payload("empty.json"), headers=USAGE)
    run = poller(make(event), store)
    run.poll_once()

    result = run.poll_once()

    live, post = (params(call) for call in api.calls[3:])
    assert (live["since"], post["since"]) == (str(1778752931 - 60), str(1778752200 - 60))
    # 10:03:00 is new; 10:01:50 became visible after 10:02:11 was read; 10:02:11 is a re-read
    # (its edit is not taken: the question keeps the text first received).
    assert result.stored == 2
    stored = dict((q[0], q) for q in question_rows(store))
    assert list(stored)[5:] == ["fb:5566778899_700000000000005", "fb:5566778899_700000000000004"]
    assert stored["fb:5566778899_700000000000003"][1] == "Thank you to all the crews!"
    assert checkpoint(store, "facebook")["since"] == {LIVE: 1778753000 - 20, POST: 1778752200}
    received = [e.qid for e in store.log_after() if e.type == "received"]
    assert received == list(stored)


def test_require_hashtag_matches_any_case_and_unicode_form(api: Any, store: Store,
                                                           event: str) -> None:
    api.get(LIVE_URL, json=payload("tags.json"))

    result = poller(make(event, post_ids=[], require_hashtag=True), store).poll_once()

    assert (result.stored, result.skipped) == (2, 2)
    assert [q[0] for q in question_rows(store)] == ["fb:5566778899_720000000000004",
                                                "fb:5566778899_720000000000001"]


def test_all_comments_count_when_no_hashtag_is_required(api: Any, store: Store,
                                                       event: str) -> None:
    api.get(LIVE_URL, json=payload("tags.json"))

    assert poller(make(event, post_ids=[]), store).poll_once().stored == 4


def test_bad_comments_become_dead_letters_and_the_rest_is_stored(api: Any, store: Store,
                                                                 event: str) -> None:
    api.get(LIVE_URL, json=payload("malformed_items.json"))

    result = poller(make(event, post_ids=[]), store).poll_once()

    assert (result.stored, result.dead) == (1, 8)
    assert [q[:3] for q in question_rows(store)] == [
        ("fb:5566778899_710000000000001", "Still a fine question: who audits the budget?",
         "Bob Singh")]
    where = "5566778899"
    assert sorted(letter["reason"] for letter in store.dead_letters()) == sorted([
        f"comment 5566778899_710000000000008 on {where}: field 'message' is missing",
        f"comment 5566778899_710000000000007 on {where}: field 'message': expected text, got int",
        f"comment 5566778899_710000000000006 on {where}: field 'created_time': not a time: "
        "'soon'",
        f"comment 5566778899_710000000000005 on {where}: field 'from': not a JSON object: "
        "Ann Hughes",
        f"comment 5566778899_710000000000004 on {where}: field 'name': expected text, got int",
        f"comment without an id on {where}: not a JSON object: just a string",
        f"comment 5566778899_710000000000003 on {where}: field 'permalink_url': expected "
        "text, got int",
        f"comment without an id on {where}: field 'id': expected text, got int",
    ])
    # The newest readable time still moves the checkpoint.
    assert checkpoint(store, "facebook")["since"] == {LIVE: 1778753108}


def test_an_expired_token_stops_with_a_plain_message(api: Any, store: Store,
                                                     event: str) -> None:
    api.get(LIVE_URL, status=400, json=ERRORS["190"])

    poller(make(event), store).poll_once()

    record = health(store, "facebook")
    assert record["state"] == "stopped"
    assert record["last_error"].startswith(
        "Page token expired or invalid (Facebook code 190/463): make a new long-lived Page "
        "access token and set FACEBOOK_PAGE_TOKEN. Facebook said: Error validating access "
        "token: Session has expired")
    assert store.checkpoint("facebook") is None


@pytest.mark.parametrize("code, permission", [
    ("283", "pages_read_user_content"), ("10", "pages_read_engagement"),
    ("100_permission", "pages_read_engagement")])
def test_a_missing_permission_stops_and_is_named(api: Any, store: Store, event: str, code: str,
                                                 permission: str) -> None:
    """Code 100 too, when its message names the permission: the advice is that permission,
    not "check the id"."""
    api.get(LIVE_URL, status=403, json=ERRORS[code])
    code = code.split("_")[0]

    poller(make(event), store).poll_once()

    record = health(store, "facebook")
    assert record["state"] == "stopped"
    assert record["last_error"].startswith(
        f"the Page token lacks the permission {permission} (Facebook code {code}, live video "
        "5566778899): grant it to the app and make a new Page token")


def test_throttling_pauses_for_the_time_facebook_gives(api: Any, store: Store,
                                                       event: str) -> None:
    throttled = {"x-business-use-case-usage": json.dumps({"1122334455": [
        {"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 55,
         "estimated_time_to_regain_access": 5}]})}
    api.get(LIVE_URL, status=403, json=ERRORS["4"], headers=throttled)
    api.get(LIVE_URL, status=400, json=ERRORS["80001"])
    run = poller(make(event), store)

    assert run.poll_once().delay == 300.0
    record = health(store, "facebook")
    assert record["state"] == "paused"
    assert record["paused_until"] == "2026-05-14T10:08:20.000Z"
    assert record["last_error"] == ("Facebook rate limit (code 4): (#4) Application request "
                                    "limit reached")

    assert run.poll_once().delay == 600.0  # no usage header: ten minutes
    assert health(store, "facebook")["paused_until"] == "2026-05-14T10:13:20.000Z"


@pytest.mark.parametrize("reply, error", [
    ({"status": 500, "json": ERRORS["1"]},
     "Facebook error 1 (live video 5566778899): An unknown error has occurred."),
    ({"status": 502, "body": "<html><body>Bad Gateway</body></html>",
      "content_type": "text/html"},
     "Facebook sent an answer that is not JSON (live video 5566778899, HTTP 502)"),
    ({"status": 200, "body": '{"data": [{"id": "1"', "content_type": "application/json"},
     "Facebook sent an unreadable answer (live video 5566778899, HTTP 200)"),
    ({"status": 200, "json": ["not", "a", "page"]},
     "Facebook sent an answer that is not a JSON object (live video 5566778899)"),
    ({"status": 200, "json": {"data": {"id": "1"}}},
     "Facebook sent a page without a 'data' list (live video 5566778899)"),
    ({"body": requests.exceptions.ReadTimeout("read timed out")},
     "Facebook did not answer within 10 s (live video 5566778899)"),
    ({"body": requests.exceptions.ConnectionError("network unreachable")},
     "Facebook could not be reached (live video 5566778899): network unreachable"),
])
def test_transient_failures_back_off(api: Any, store: Store, event: str, reply: dict[str, Any],
                                     error: str) -> None:
    api.get(LIVE_URL, **reply)

    result = poller(make(event), store).poll_once()

    assert 7.5 <= result.delay <= 15
    record = health(store, "facebook")
    assert record["state"] == "failing"
    assert record["last_error"].startswith(error)
    assert store.checkpoint("facebook") is None


def test_one_unreadable_object_does_not_stop_the_others(api: Any, store: Store,
                                                        event: str) -> None:
    api.get(LIVE_URL, json=payload("live_page2.json"))
    api.get(f"{GRAPH}1122334455_999/comments", status=400, json=ERRORS["100"])

    result = poller(make(event, post_ids=["1122334455_999"]), store).poll_once()

    assert result.stored == 1
    record = health(store, "facebook")
    assert record["state"] == "ok"
    assert record["detail"].startswith(
        "Facebook cannot read the comments of post 1122334455_999 (code 100/33): check the id "
        "in [sources.facebook]")
    assert checkpoint(store, "facebook")["since"] == {LIVE: 1778752770}


def test_no_readable_object_stops(api: Any, store: Store, event: str) -> None:
    api.get(f"{GRAPH}1122334455_999/comments", status=400, json=ERRORS["100"])

    poller(make(event, live_video_ids=[], post_ids=["1122334455_999"]), store).poll_once()

    assert health(store, "facebook")["state"] == "stopped"


def test_high_usage_slows_the_next_poll(api: Any, store: Store, event: str) -> None:
    busy = {"x-app-usage": json.dumps({"call_count": 85, "total_time": 20, "total_cputime": 9})}
    api.get(LIVE_URL, json=payload("empty.json"), headers=busy)

    result = poller(make(event, post_ids=[], interval=10), store).poll_once()

    assert result.delay == 40.0
    assert health(store, "facebook")["api_usage_pct"] == 85


def test_paging_without_a_token_in_next_and_a_paging_loop(api: Any, store: Store,
                                                          event: str) -> None:
    looping = payload("live_page1.json")
    looping["paging"]["next"] = (f"{LIVE_URL}?limit=100&until=1778752900"
                                 "&__paging_token=enc_AdBx")
    api.get(LIVE_URL, json=looping)

    result = poller(make(event, post_ids=[]), store).poll_once()

    assert result.stored == 3
    assert len(api.calls) == 2  # the same next page twice: stop
    second = params(api.calls[1])
    assert (second["until"], second["__paging_token"], second["access_token"]) == (
        "1778752900", "enc_AdBx", TOKEN)
    assert second["filter"] == "stream"
    assert checkpoint(store, "facebook")["since"] == {LIVE: 1778752931}
    assert health(store, "facebook")["detail"] == (
        "read only the newest 2 pages of live video 5566778899; older comments were skipped "
        "(Facebook repeated a page)")


def test_restart_mid_run_loses_and_duplicates_nothing(api: Any, store: Store,
                                                      event: str) -> None:
    api.get(LIVE_URL, json=payload("live_page1.json"))
    api.get(LIVE_URL, body=requests.exceptions.ConnectionError("killed"))
    api.get(LIVE_URL, json=payload("live_page1.json"))
    api.get(LIVE_URL, json=payload("live_page2.json"))
    api.get(POST_URL, json=payload("post_page.json"))
    api.get(LIVE_URL, json=payload("live_page3.json"))
    api.get(POST_URL, json=payload("empty.json"))

    first = poller(make(event), store)
    assert first.poll_once().stored == 0  # died half-way through the live video's pages
    assert store.checkpoint("facebook") is None

    second = poller(make(event), store)  # a new process
    assert second.poll_once().stored == 5
    # and, killed after reading but before storing, then restarted again:
    second.source.fetch(store.checkpoint("facebook"))
    api.get(LIVE_URL, json=payload("live_page3.json"))
    api.get(POST_URL, json=payload("empty.json"))
    third = poller(make(event), store)
    assert third.poll_once().stored == 2

    ids = [q[0] for q in question_rows(store)]
    assert ids == [q[0] for q in FIRST_CYCLE] + ["fb:5566778899_700000000000005",
                                                 "fb:5566778899_700000000000004"]
    assert [e.qid for e in store.log_after() if e.type == "received"] == ids
    assert checkpoint(store, "facebook")["since"] == {LIVE: 1778752980, POST: 1778752200}


def test_check_reads_me_with_the_page_token(api: Any, event: str) -> None:
    api.get(f"{GRAPH}me", json={"id": "1122334455", "name": "Trust Comms"}, headers=USAGE)

    message = make(event).check()

    assert message.startswith("the token works for Trust Comms (id 1122334455) on Graph API "
                              "v21.0; reading comments on 2 object(s)")
    assert params(api.calls[0]) == {"fields": "id,name", "access_token": TOKEN}


def test_check_says_what_is_wrong(api: Any, event: str, monkeypatch: pytest.MonkeyPatch) -> None:
    api.get(f"{GRAPH}me", status=400, json=ERRORS["190"])
    api.get(f"{GRAPH}me", json={"id": "1122334455", "name": "Trust Comms"})

    with pytest.raises(SourceStopped, match="Page token expired or invalid"):
        make(event).check()
    with pytest.raises(SourceStopped, match="lists no live_video_ids or post_ids"):
        make(event, live_video_ids=[], post_ids=[]).check()
    monkeypatch.delenv("FACEBOOK_PAGE_TOKEN")
    with pytest.raises(SourceStopped, match="FACEBOOK_PAGE_TOKEN is not set"):
        make(event).check()


def test_nothing_configured_stops_without_calling(api: Any, store: Store, event: str) -> None:
    poller(make(event, live_video_ids=[], post_ids=[]), store).poll_once()

    assert health(store, "facebook")["last_error"].startswith("no live_video_ids or post_ids")
    assert len(api.calls) == 0


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="write it as a quoted string"):
        FacebookSource(settings(post_ids=[1122334455900000000000000]), EventSettings())
    with pytest.raises(ValueError, match="like \"v21.0\""):
        FacebookSource(settings(graph_version="21"), EventSettings())
    with pytest.raises(ValueError, match="post_idz"):
        FacebookSource(settings(post_idz=["1"]), EventSettings())
    with pytest.raises(ValueError, match="require_hashtag needs the event's hashtags"):
        FacebookSource(settings(require_hashtag=True), EventSettings(hashtags=[]))
    source = FacebookSource(settings(graph_version="v23.0", post_ids=["1"]),
                            EventSettings())
    assert source.client.graph().version == "v23.0"


def test_floor_poll_facebook_once_as_a_subprocess(floor_env: dict[str, str], store: Store,
                                                  tmp_path: Path) -> None:
    exchanges = [
        {"url": LIVE_URL, "headers": USAGE, "json": payload("live_page1.json")},
        {"url": LIVE_URL, "headers": USAGE, "json": payload("live_page2.json")},
        {"url": POST_URL, "headers": USAGE, "json": payload("post_page.json")},
    ]
    path = tmp_path / "exchanges.json"
    path.write_text(json.dumps(exchanges), encoding="utf-8")
    with open(floor_env["FLOOR_CONFIG"], "a", encoding="utf-8") as config:
        config.write(f'\n[sources.facebook]\nlive_video_ids = ["{LIVE}"]\n'
                     f'post_ids = ["{POST}"]\n')
    env = {**floor_env, "FACEBOOK_PAGE_TOKEN": TOKEN}

    done = subprocess.run([sys.executable, "tests/replay_cli.py", str(path), "poll", "facebook",
                           "--once"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=60)

    assert done.returncode == 0, done.stderr
    assert "facebook: stored 5, dead letters 0, skipped 1" in done.stdout
    assert question_rows(store) == FIRST_CYCLE
    assert checkpoint(store, "facebook")["since"] == FIRST_MARKS
    assert health(store, "facebook")["state"] == "ok"



def test_a_reply_is_known_by_its_permalink_when_parent_is_missing(api: Any, store: Store,
                                                                  event: str) -> None:
    """Facebook leaves ``parent`` out when the token may not read the comment replied to; the
    permalink still carries ``reply_comment_id``."""
    page = {"data": [
        {"id": "5566778899_700000000000011", "created_time": "2026-05-14T10:02:30+0000",
         "from": {"id": "7011", "name": "Eve Rowe"}, "message": "Same question here?",
         "permalink_url": "https://www.facebook.com/trustcomms/videos/5566778899/?comment_id="
                          "700000000000001&reply_comment_id=700000000000011"},
        {"id": "5566778899_700000000000012", "created_time": "2026-05-14T10:02:40+0000",
         "from": {"id": "7012", "name": "Fay Osei"}, "message": "A new question?",
         "permalink_url": VIDEO + "700000000000012"},
    ], "paging": {"cursors": {"before": "QVFIUmx1", "after": "QVFIUmx2"}}}
    api.get(LIVE_URL, json=page)

    poller(make(event, post_ids=[]), store).poll_once()

    flags = {row[0]: row[-1] for row in question_rows(store)}
    assert flags == {"fb:5566778899_700000000000011": "question,reply",
                     "fb:5566778899_700000000000012": "question"}


def test_an_answer_without_a_content_type_is_not_json_not_a_crash(api: Any, store: Store,
                                                                  event: str) -> None:
    api.get(LIVE_URL, body="upstream reset", content_type=None)

    poller(make(event, post_ids=[]), store).poll_once()

    record = health(store, "facebook")
    assert record["state"] == "failing"
    assert record["last_error"].startswith("Facebook sent an answer that is not JSON")


def test_our_own_errors_are_not_taken_for_facebooks(api: Any, event: str) -> None:
    """A KeyError or ValueError in our code must surface as the bug it is, never be reported
    as "Facebook sent an unreadable answer"."""
    client = make(event).client
    with pytest.raises(KeyError, match="ours"):
        client.call("a test", lambda graph: {}["ours"])
    with pytest.raises(ValueError, match="ours too"):
        client.call("a test", lambda graph: int("ours too"))
