"""The X source through tweepy's real Client, with X simulated at the HTTP layer (responses).

Payloads are in tests/payloads/x/, in the shapes of docs/reference (platform-apis.md §1) with
invented ids and names. Each test runs real poll cycles into a real Redis and asserts what
landed: questions, checkpoints, health records and dead letters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.core.store import Store
from aggregator.ingest.sources import SourceError, SourceStopped
from aggregator.ingest.sources.x import XSource
from tests.sources import NOW, REPO, checkpoint, health, params, poller, question_rows, settings

URL = "https://api.twitter.com/2/tweets/search/recent"
PAYLOADS = Path(__file__).parent / "payloads" / "x"
RESET = 1778753700  # 2026-05-14T10:15:00Z
RATE = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "447",
        "x-rate-limit-reset": str(RESET)}
FIELDS = {"expansions": "author_id",
          "tweet.fields": "created_at,author_id,conversation_id,lang,note_tweet,referenced_tweets",
          "user.fields": "username,name", "max_results": "100"}


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


ERRORS = payload("errors.json")


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", "test-bearer-not-a-real-token")


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock() as mock:
        yield mock


def make(event: str, **options: Any) -> XSource:
    return XSource(SourceSettings(enabled=True, **options), EventSettings(slug=event),
                   clock=lambda: NOW)


def tweet(tid: str, text: str, author: str = "111", at: str = "2026-05-14T10:10:00.000Z"
          ) -> dict[str, Any]:
    return {"id": tid, "text": text, "author_id": author, "created_at": at,
            "conversation_id": tid, "lang": "en", "edit_history_tweet_ids": [tid]}


def page(*tweets: dict[str, Any], next_token: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        meta.update(newest_id=tweets[0]["id"], oldest_id=tweets[-1]["id"])
    if next_token:
        meta["next_token"] = next_token
    body: dict[str, Any] = {"meta": meta}
    if tweets:
        body["data"] = list(tweets)
        body["includes"] = {"users": [{"id": "111", "name": "Ann Hughes", "username": "ann_h"}]}
    return body


PAGE_1_AND_2 = [
    ("x:1790000000000000003", "#APM2026 How will response times improve in rural areas?",
     "Ann Hughes", "ann_h", "https://x.com/ann_h/status/1790000000000000003",
     "2026-05-14T10:02:11+00:00", "question"),
    ("x:1790000000000000002", "#APM2026 What is the plan for staff wellbeing? & pay?",
     "Bob Singh", "bob_s", "https://x.com/bob_s/status/1790000000000000002",
     "2026-05-14T10:01:40+00:00", "question"),
    ("x:1790000000000000001", "Question for the board #APM2026: handover delays at A&E?",
     "Ann Hughes", "ann_h", "https://x.com/ann_h/status/1790000000000000001",
     "2026-05-14T10:00:05+00:00", "question"),
    # The author's account is gone: X sends a partial error instead of the user.
    ("x:1789999999999999002", "@trust_comms #apm2026 will the new ambulances be electric?",
     "", "", "https://x.com/i/web/status/1789999999999999002",
     "2026-05-14T09:58:00+00:00", "question,reply"),
]


def test_pages_are_followed_to_the_end_then_the_checkpoint_moves(api: Any, store: Store,
                                                                 event: str) -> None:
    api.get(URL, json=payload("page1.json"), headers=RATE)
    api.get(URL, json=payload("page2.json"), headers={**RATE, "x-rate-limit-remaining": "446"})

    result = poller(make(event), store).poll_once()

    assert (result.stored, result.dead, result.skipped, result.delay) == (4, 0, 1, 15.0)
    first, second = (params(call) for call in api.calls)
    assert first == {"query": "#APM2026 -is:retweet", "start_time": "2026-05-07T11:03:20Z",
                     **FIELDS}
    assert second == {**first, "next_token": "b26v89c19zqg8o3fpe17ntc2bcd6"}
    assert api.calls[0].request.headers["Authorization"] == "Bearer test-bearer-not-a-real-token"
    assert question_rows(store) == PAGE_1_AND_2
    raw = store.raw("x:1790000000000000003")
    assert raw["author"] == {"id": "111", "name": "Ann Hughes", "username": "ann_h"}
    assert raw["tweet"]["lang"] == "en"
    # The first page's newest id, only once the last page was read; 5 posts and 3 users read.
    assert checkpoint(store, "x") == {"since_id": "1790000000000000003", "posts_read": 5,
                                 "users_read": 3, "spend_usd": 0.025}
    record = health(store, "x")
    assert record["state"] == "ok"
    assert (record["posts_read"], record["spend_usd"], record["budget_usd"]) == (5, 0.025, 25.0)
    assert (record["rate_remaining"], record["rate_limit"]) == (446, 450)
    assert "users_read" not in record  # users are not billed unless cost_per_user_usd says so


def test_the_next_cycle_starts_after_since_id_and_an_empty_page_changes_nothing(
        api: Any, store: Store, event: str) -> None:
    before = '{"since_id": "1790000000000000003", "posts_read": 5, "users_read": 3, ' \
             '"spend_usd": 0.025}'
    store.ingest("x", [], [], before)
    api.get(URL, json=payload("empty.json"), headers=RATE)

    result = poller(make(event), store).poll_once()

    assert (result.stored, result.dead) == (0, 0)
    assert params(api.calls[0]) == {"query": "#APM2026 -is:retweet",
                                    "since_id": "1790000000000000003", **FIELDS}
    assert json.loads(store.checkpoint("x") or "") == json.loads(before)
    assert health(store, "x")["state"] == "ok"
    assert store.question_ids() == []


def test_hashtags_match_in_any_case_and_unicode_form(api: Any, store: Store, event: str) -> None:
    api.get(URL, json=payload("odd_tags.json"), headers=RATE)
    source = make(event, hashtags=["APM2026", "#Straße2026"])

    result = poller(source, store).poll_once()

    assert params(api.calls[0])["query"] == "(#APM2026 OR #Straße2026) -is:retweet"
    assert (result.stored, result.skipped) == (3, 1)  # "#APM20267" is another tag
    assert [q[0] for q in question_rows(store)] == [
        "x:1790000000000000106", "x:1790000000000000104", "x:1790000000000000103"]


def test_retweets_are_dropped_even_when_the_search_lets_them_through(
        api: Any, store: Store, event: str) -> None:
    retweet = {**tweet("1790000000000000902", "RT @bob_s: #APM2026 What about staff pay?"),
               "referenced_tweets": [{"type": "retweeted", "id": "1790000000000000002"}]}
    quote = {**tweet("1790000000000000901", "#APM2026 and the rural stations?"),
             "referenced_tweets": [{"type": "quoted", "id": "1790000000000000003"}]}
    api.get(URL, json=page(retweet, quote), headers=RATE)

    result = poller(make(event), store).poll_once()

    assert "-is:retweet" in params(api.calls[0])["query"]
    assert "referenced_tweets" in params(api.calls[0])["tweet.fields"]
    assert (result.stored, result.skipped) == (1, 1)
    assert [q[0] for q in question_rows(store)] == ["x:1790000000000000901"]


def test_bad_posts_become_dead_letters_and_the_rest_is_stored(api: Any, store: Store,
                                                              event: str) -> None:
    api.get(URL, json=payload("malformed_items.json"), headers=RATE)

    result = poller(make(event), store).poll_once()

    assert (result.stored, result.dead) == (1, 6)
    assert question_rows(store) == [
        ("x:1790000000000000202", "#APM2026 Still a good question: who audits the budget?",
         "Ann Hughes", "ann_h", "https://x.com/ann_h/status/1790000000000000202",
         "2026-05-14T10:06:00+00:00", "question")]
    letters = store.dead_letters()
    assert sorted(letter["reason"] for letter in letters) == sorted([
        "post 1790000000000000207: field 'text' is missing",
        "post 1790000000000000206: field 'id': expected text, got int",
        "post 1790000000000000205: field 'created_at': not a time: 'yesterday'",
        "post 1790000000000000204: field 'username': expected text, got int",
        "post without an id: not a JSON object: not a post",
        "post 1790000000000000203: field 'text': expected text, got list",
    ])
    assert all(letter["source"] == "x" for letter in letters)
    assert any(json.loads(letter["raw"])["tweet"] == "not a post" for letter in letters)
    assert checkpoint(store, "x")["since_id"] == "1790000000000000207"
    assert health(store, "x")["dead_letters"] == 6


def test_an_edited_post_arrives_as_its_new_version_and_long_posts_are_whole(
        api: Any, store: Store, event: str) -> None:
    first = tweet("1790000000000000301", "#APM2026 How many ambulances were delayed at "
                  "hospitals this year?", at="2026-05-14T10:08:00.000Z")
    api.get(URL, json=page(first), headers=RATE)
    api.get(URL, json=payload("edited.json"), headers=RATE)
    run = poller(make(event), store)

    run.poll_once()
    run.poll_once()

    assert params(api.calls[1])["since_id"] == "1790000000000000301"
    stored = {q[0]: q for q in question_rows(store)}
    assert list(stored) == ["x:1790000000000000301", "x:1790000000000000302",
                            "x:1790000000000000303"]
    assert stored["x:1790000000000000302"][6] == "edited,question,reply"
    assert stored["x:1790000000000000303"][1].endswith("outside emergency departments for "
                                                       "hours every evening?")
    assert checkpoint(store, "x")["since_id"] == "1790000000000000303"


def test_429_pauses_until_the_reset_time(api: Any, store: Store, event: str) -> None:
    api.get(URL, status=429, json=ERRORS["429"],
            headers={**RATE, "x-rate-limit-remaining": "0"})

    result = poller(make(event), store).poll_once()

    assert result.delay == RESET - NOW
    record = health(store, "x")
    assert record["state"] == "paused"
    assert record["paused_until"] == "2026-05-14T10:15:00.000Z"
    assert record["last_error"] == "X rate limit reached (429)"
    assert store.checkpoint("x") is None


def test_429_without_a_reset_waits_one_window_and_a_usage_cap_stops(api: Any, store: Store,
                                                                    event: str) -> None:
    api.get(URL, status=429, json=ERRORS["429"])
    api.get(URL, status=429, json=ERRORS["429_capped"], headers=RATE)
    run = poller(make(event), store)

    assert run.poll_once().delay == 900.0
    assert health(store, "x")["paused_until"] == "2026-05-14T10:18:20.000Z"
    run.poll_once()
    record = health(store, "x")
    assert record["state"] == "stopped"
    assert record["last_error"].startswith("X's monthly post cap for this app is used up")
    assert "paused_until" not in record


def test_401_stops_with_a_plain_message(api: Any, store: Store, event: str) -> None:
    api.get(URL, status=401, json=ERRORS["401"])

    poller(make(event), store).poll_once()

    record = health(store, "x")
    assert record["state"] == "stopped"
    assert record["last_error"] == ("X refused the bearer token (401 Unauthorized): check "
                                    "X_BEARER_TOKEN; it may have been regenerated or revoked")


def test_403_453_says_the_tier_lacks_recent_search(api: Any, store: Store, event: str) -> None:
    api.get(URL, status=403, json=ERRORS["403_453"])

    poller(make(event), store).poll_once()

    record = health(store, "x")
    assert record["state"] == "stopped"
    assert record["last_error"].startswith(
        "X says this app's access tier has no recent search (403, code 453)")


def test_a_refused_query_stops_and_names_it(api: Any, store: Store, event: str) -> None:
    api.get(URL, status=400, json=ERRORS["400_query"])

    poller(make(event), store).poll_once()

    assert health(store, "x")["last_error"] == (
        "X refused the search (400 There were errors processing your request: missing closing "
        "parenthesis (at position 1)); check [sources.x] hashtags; the query was "
        "'#APM2026 -is:retweet'")


def test_missing_token_stops_without_calling(api: Any, store: Store, event: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_BEARER_TOKEN")

    poller(make(event), store).poll_once()

    assert health(store, "x")["last_error"].startswith("X_BEARER_TOKEN is not set")
    assert len(api.calls) == 0


def test_5xx_and_timeouts_fail_with_backoff_then_recover(api: Any, store: Store,
                                                         event: str) -> None:
    api.get(URL, status=503, json=ERRORS["503"])
    api.get(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    api.get(URL, body=requests.exceptions.ConnectionError("network unreachable"))
    api.get(URL, json=payload("empty.json"), headers=RATE)
    run = poller(make(event), store)

    delays = []
    for error in ("X is failing (503 Service Unavailable)", "X did not answer within 10 s",
                  "X could not be reached: network unreachable"):
        delays.append(run.poll_once().delay)
        record = health(store, "x")
        assert (record["state"], record["last_error"]) == ("failing", error)
    assert 7.5 <= delays[0] <= 15 and 15 <= delays[1] <= 30 and 30 <= delays[2] <= 60
    assert run.poll_once().delay == 15.0
    record = health(store, "x")
    assert record["state"] == "ok" and "last_error" not in record


@pytest.mark.parametrize("body, content_type, error", [
    ("<html><body>Over capacity</body></html>", "text/html",
     "X sent a page that is not JSON: '<html><body>Over capacity</body></html>'"),
    ('{"data": [{"id": "1"', "application/json", "X sent a page that is not JSON: "),
    ('["not", "a", "page"]', "application/json",
     "X sent a page that is not a JSON object: ['not', 'a', 'page']"),
    ('{"data": {"id": "1"}}', "application/json",
     "X sent a page whose 'data' is not a list: {'id': '1'}"),
])
def test_an_unreadable_page_fails_the_cycle(api: Any, store: Store, event: str, body: str,
                                            content_type: str, error: str) -> None:
    api.get(URL, body=body, content_type=content_type)

    poller(make(event), store).poll_once()

    record = health(store, "x")
    assert record["state"] == "failing"
    assert record["last_error"].startswith(error)
    assert store.checkpoint("x") is None


def test_a_since_id_outside_the_window_falls_back_to_start_time(api: Any, store: Store,
                                                                event: str) -> None:
    store.ingest("x", [], [], json.dumps({"since_id": "1700000000000000000", "posts_read": 7,
                                          "users_read": 2, "spend_usd": 0.035}))
    api.get(URL, status=400, json=ERRORS["400_since_id"])
    api.get(URL, json=payload("page2.json"), headers=RATE)

    result = poller(make(event), store).poll_once()

    assert result.stored == 1
    refused, retried = (params(call) for call in api.calls)
    assert refused["since_id"] == "1700000000000000000" and "start_time" not in refused
    assert retried["start_time"] == "2026-05-07T11:03:20Z" and "since_id" not in retried
    assert checkpoint(store, "x") == {"since_id": "1789999999999999002", "posts_read": 9,
                                 "users_read": 3, "spend_usd": 0.045}


def test_the_budget_stops_the_source_before_it_is_exceeded(api: Any, store: Store,
                                                           event: str) -> None:
    # $0.50 spent of $1.00: one more page of up to 100 posts ($0.50) still fits.
    store.ingest("x", [], [], json.dumps({"since_id": "1790000000000000000", "posts_read": 100,
                                          "users_read": 0, "spend_usd": 0.5}))
    api.get(URL, json=page(tweet("1790000000000000401", "#APM2026 one more?")), headers=RATE)

    run = poller(make(event, budget_usd=1.0), store)
    assert run.poll_once().stored == 1
    assert checkpoint(store, "x") == {"since_id": "1790000000000000401", "posts_read": 101,
                                 "users_read": 1, "spend_usd": 0.505}

    # A new process (the spend lives in the checkpoint) refuses before calling X.
    run = poller(make(event, budget_usd=1.0), store)
    run.poll_once()
    assert len(api.calls) == 1
    record = health(store, "x")
    assert record["state"] == "stopped"
    assert record["last_error"] == (
        "budget of $1.00 reached: $0.51 spent on 101 posts, and one more page could cost up "
        "to $0.50; raise [sources.x] budget_usd to go on")
    assert (record["posts_read"], record["spend_usd"]) == (101, 0.505)


def test_a_cycle_cut_short_by_the_budget_keeps_what_it_read_and_its_since_id(
        api: Any, store: Store, event: str) -> None:
    store.ingest("x", [], [], json.dumps({"since_id": "1789999999999999999", "posts_read": 0,
                                          "users_read": 0, "spend_usd": 0.0}))
    api.get(URL, json=payload("page1.json"), headers=RATE)

    result = poller(make(event, budget_usd=0.51), store).poll_once()

    assert result.stored == 3 and len(api.calls) == 1
    # The unread older pages are read again (and deduplicated) if the budget is raised.
    assert checkpoint(store, "x") == {"since_id": "1789999999999999999", "posts_read": 3,
                                 "users_read": 2, "spend_usd": 0.015}
    assert health(store, "x")["detail"].startswith("stopped a cycle after 1 page: budget of $0.51 "
                                              "reached: $0.01 spent on 3 posts")


def test_posts_read_by_a_failed_cycle_are_still_counted(api: Any, store: Store,
                                                        event: str) -> None:
    api.get(URL, json=payload("page1.json"), headers=RATE)
    api.get(URL, status=503, json=ERRORS["503"])
    api.get(URL, json=payload("page1.json"), headers=RATE)
    api.get(URL, json=payload("page2.json"), headers=RATE)
    run = poller(make(event, cost_per_user_usd=0.01), store)

    assert run.poll_once().stored == 0
    assert store.checkpoint("x") is None
    assert run.poll_once().stored == 4

    # 3 + 5 posts at $0.005 and 2 + 3 users at $0.01: the failed read was billed too.
    assert checkpoint(store, "x") == {"since_id": "1790000000000000003", "posts_read": 8,
                                 "users_read": 5, "spend_usd": 0.09}
    assert health(store, "x")["users_read"] == 5


def test_a_repeated_next_token_ends_the_cycle_at_the_newest_post(api: Any, store: Store,
                                                                  event: str) -> None:
    api.get(URL, json=page(tweet("1790000000000000701", "#APM2026 again?"), next_token="same"),
            headers=RATE)

    result = poller(make(event), store).poll_once()

    assert (result.stored, len(api.calls)) == (1, 2)
    assert checkpoint(store, "x")["since_id"] == "1790000000000000701"
    assert health(store, "x")["detail"] == ("read only the newest 2 pages of the search; older "
                                            "posts were skipped (X repeated a page)")


def test_a_used_up_rate_window_delays_the_next_poll_until_reset(api: Any, store: Store,
                                                                event: str) -> None:
    api.get(URL, json=payload("empty.json"), headers={**RATE, "x-rate-limit-remaining": "0"})

    result = poller(make(event), store).poll_once()

    assert result.delay == RESET - NOW + 1
    assert health(store, "x")["rate_remaining"] == 0


def test_an_unreadable_checkpoint_stops_rather_than_forget_the_spend(api: Any, store: Store,
                                                                     event: str) -> None:
    store.ingest("x", [], [], "{not json")

    poller(make(event), store).poll_once()

    assert health(store, "x")["last_error"].startswith("the stored X checkpoint cannot be read")
    assert len(api.calls) == 0


def test_restart_mid_run_loses_and_duplicates_nothing(api: Any, store: Store,
                                                      event: str) -> None:
    newer = [tweet("1790000000000000503", "#APM2026 newest?"),
             tweet("1790000000000000502", "#APM2026 newer?")]
    older = [tweet("1790000000000000501", "#APM2026 new but older?")]
    api.get(URL, json=payload("page1.json"), headers=RATE)
    api.get(URL, json=payload("page2.json"), headers=RATE)
    api.get(URL, json=page(*newer, next_token="tok2"), headers=RATE)
    api.get(URL, json=page(*older), headers=RATE)
    api.get(URL, json=page(*newer, next_token="tok2"), headers=RATE)
    api.get(URL, json=page(*older), headers=RATE)

    first = poller(make(event), store)
    first.poll_once()
    # The process dies after reading the next cycle but before storing it.
    first.source.fetch(store.checkpoint("x"))

    second = poller(make(event), store)  # a new process: nothing carried over in memory
    assert second.poll_once().stored == 3

    assert [params(call).get("since_id") for call in api.calls] == [
        None, None, "1790000000000000003", "1790000000000000003", "1790000000000000003",
        "1790000000000000003"]
    ids = store.question_ids()
    assert ids == [q[0] for q in PAGE_1_AND_2] + [
        "x:1790000000000000503", "x:1790000000000000502", "x:1790000000000000501"]
    received = [e for e in store.log_after() if e.type == "received"]
    assert [e.qid for e in received] == ids
    assert checkpoint(store, "x")["since_id"] == "1790000000000000503"


def test_check_searches_the_last_minute(api: Any, event: str) -> None:
    api.get(URL, json=page(tweet("1790000000000000601", "#APM2026 hello")), headers=RATE)

    message = make(event).check()

    assert message == ("the bearer token works and recent search is available (1 post for "
                       "'#APM2026 -is:retweet' in the last minute; 447 of 450 requests left "
                       "in this 15-minute window); spend so far is in the health record")
    sent = params(api.calls[0])
    assert (sent["max_results"], sent["start_time"]) == ("10", "2026-05-14T10:01:50Z")


def test_check_says_what_is_wrong(api: Any, event: str) -> None:
    api.get(URL, status=403, json=ERRORS["403_453"])
    api.get(URL, status=503, json=ERRORS["503"])

    with pytest.raises(SourceStopped, match="no recent search"):
        make(event).check()
    with pytest.raises(SourceError, match="X is failing"):
        make(event).check()


def test_floor_poll_x_once_as_a_subprocess(floor_env: dict[str, str], store: Store,
                                           tmp_path: Path) -> None:
    exchanges = [
        {"url": URL, "status": 200, "headers": RATE, "json": payload("page1.json")},
        {"url": URL, "status": 200, "headers": RATE, "json": payload("page2.json")},
    ]
    path = tmp_path / "exchanges.json"
    path.write_text(json.dumps(exchanges), encoding="utf-8")
    with open(floor_env["FLOOR_CONFIG"], "a", encoding="utf-8") as config:
        config.write('\n[sources.x]\nenabled = true\nbudget_usd = 10.0\n')
    env = {**floor_env, "X_BEARER_TOKEN": "test-bearer-not-a-real-token"}

    done = subprocess.run([sys.executable, "tests/replay_cli.py", str(path), "poll", "x",
                           "--once"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=60)

    assert done.returncode == 0, done.stderr
    assert [q[0] for q in question_rows(store)] == [q[0] for q in PAGE_1_AND_2]
    assert checkpoint(store, "x")["since_id"] == "1790000000000000003"
    record = health(store, "x")
    assert (record["state"], record["posts_read"], record["budget_usd"]) == ("ok", 5, 10.0)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="budget_usdd"):
        XSource(settings(budget_usdd=3), EventSettings())
    with pytest.raises(ValueError, match="interval"):
        XSource(settings(interval=0.5), EventSettings())
    assert datetime.fromtimestamp(NOW, UTC).isoformat() == "2026-05-14T10:03:20+00:00"


def test_no_hashtags_at_all_refuses_to_start(api: Any) -> None:
    """With no hashtag the query would be "-is:retweet": every post on X, each one billed."""
    with pytest.raises(ValueError, match="X searches for the event's hashtags, and there are"):
        XSource(settings(enabled=True), EventSettings(hashtags=[]))
    assert XSource(settings(hashtags=["#APM2026"]), EventSettings(hashtags=[])).query == (
        "#APM2026 -is:retweet")
    assert len(api.calls) == 0
