"""The Mastodon source through Mastodon.py's real client, with the instances simulated at the
HTTP layer (responses). The statuses, the instance and the errors are the ones Mastodon.py's own
test suite recorded from a real Mastodon 4.6 server (tests/payloads/mastodon/README.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from aggregator.base.settings import EventSettings, SourceSettings
from aggregator.core.normalise import iso_time
from aggregator.core.store import Store
from aggregator.ingest.sources import SourceStopped
from aggregator.ingest.sources.mastodon import MastodonSource, html_text
from tests.sources import Clock, checkpoint, health, params, poller, question_rows

PAYLOADS = Path(__file__).parent / "payloads" / "mastodon"
ONE = "https://one.example"
TWO = "https://two.example"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


STATUSES = payload("statuses.json")
ERRORS = payload("errors.json")
INSTANCE = payload("instance_v2.json")
RATE = {k: v for k, v in ERRORS["timeline_headers"].items() if k.startswith("x-ratelimit")}


def status(name: str, **changes: Any) -> dict[str, Any]:
    found = copy.deepcopy(STATUSES[name])
    found.update(changes)
    return found


def tag_url(instance: str, tag: str = "hoot") -> str:
    return f"{instance}/api/v1/timelines/tag/{tag}"


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for instance in (ONE, TWO):
            mock.get(f"{instance}/api/v2/instance/", json=INSTANCE)
        yield mock


def make(event: str, clock: Clock | None = None, **options: Any) -> MastodonSource:
    options.setdefault("instances", [ONE])
    options.setdefault("hashtags", ["hoot"])
    return MastodonSource(SourceSettings(enabled=True, **options), EventSettings(slug=event),
                          clock=clock or Clock())


def test_the_hashtag_timeline_is_read_boosts_skipped_and_flags_kept(
        api: Any, store: Store, event: str) -> None:
    page = [status(n) for n in ("edited", "content_warning", "link", "reply", "normal", "boost")]
    # Mastodon leaves a boost's own content empty; some servers (Pleroma) copy the toot's in.
    page[-1]["content"] = page[-1]["reblog"]["content"]
    api.get(tag_url(ONE), json=page, headers=RATE)

    result = poller(make(event), store).poll_once()

    assert (result.stored, result.dead, result.skipped) == (5, 0, 1)
    (read,) = [c for c in api.calls if "/timelines/" in c.request.url]
    assert params(read) == {"limit": "40"}
    assert "Authorization" not in read.request.headers  # no token: a public timeline
    rows = {row[0]: row for row in question_rows(store)}
    normal = rows[f"masto:{STATUSES['normal']['uri']}"]
    assert normal[1:] == ("#hoot (hashtag toot)", "mastodonpy_test_2",
                          "mastodonpy_test_2@one.example", STATUSES["normal"]["url"],
                          iso_time(STATUSES["normal"]["created_at"], "created_at"), "")
    link = rows[f"masto:{STATUSES['link']['uri']}"]
    assert link[1] == html_text(STATUSES["link"]["content"])
    assert "http://example.org/" in link[1] and "<" not in link[1]
    assert (link[2], link[3]) == ("John Lennon", "mastodonpy_test@one.example")
    assert rows[f"masto:{STATUSES['reply']['uri']}"][6] == "reply"
    assert rows[f"masto:{STATUSES['edited']['uri']}"][1:2] == (
        "the best editor? why, of course it is the KDE Advanced Text Editor, Kate",)
    assert rows[f"masto:{STATUSES['edited']['uri']}"][6] == "edited,question"
    assert rows[f"masto:{STATUSES['content_warning']['uri']}"][6] == "content_warning"
    assert f"masto:{STATUSES['boost']['uri']}" not in rows
    newest = max((s["id"] for s in page), key=int)
    assert checkpoint(store, "mastodon")["since"] == {f"{ONE} #hoot": newest}
    assert health(store, "mastodon")["state"] == "ok"


def test_the_next_cycle_reads_from_the_newest_id_and_an_unknown_tag_is_empty(
        api: Any, store: Store, event: str) -> None:
    api.get(tag_url(ONE), json=[status("normal")], headers=RATE)
    api.get(tag_url(ONE), json=[], headers=RATE)
    run = poller(make(event), store)
    run.poll_once()

    result = run.poll_once()

    last = [c for c in api.calls if "/timelines/" in c.request.url][-1]
    assert params(last) == {"min_id": STATUSES["normal"]["id"], "limit": "40"}
    assert (result.stored, result.error) == (0, "")
    assert health(store, "mastodon")["state"] == "ok"


def test_the_same_toot_through_two_instances_is_one_question(api: Any, store: Store,
                                                             event: str) -> None:
    here = status("normal")
    there = status("normal", id="113000000000000001",
                   account={**here["account"], "acct": "mastodonpy_test_2@one.example"})
    api.get(tag_url(ONE), json=[here])
    api.get(tag_url(TWO), json=[there])

    result = poller(make(event, instances=[ONE, TWO]), store).poll_once()

    assert result.stored == 1
    assert [row[0] for row in question_rows(store)] == [f"masto:{here['uri']}"]
    assert checkpoint(store, "mastodon")["since"] == {f"{ONE} #hoot": here["id"],
                                                      f"{TWO} #hoot": "113000000000000001"}


def test_a_toot_missing_in_two_checks_running_is_retracted(
        api: Any, store: Store, event: str) -> None:
    api.get(tag_url(ONE), json=[status("normal"), status("reply")])
    lookup = f"{ONE}/api/v1/statuses"
    api.get(lookup, json=[status("normal")])  # a hiccup: the reply missing once
    api.get(lookup, json=[status("reply")])  # then the first one deleted
    api.get(lookup, json=[status("reply")])
    clock = Clock()
    run = poller(make(event, clock), store, clock)
    run.poll_once()
    api.get(tag_url(ONE), json=[])
    for _ in range(3):
        clock.now += 61
        run.poll_once()

    asked = [c for c in api.calls if c.request.url.startswith(lookup + "?")]
    assert len(asked) == 3
    assert sorted(params_list(asked[0])) == sorted([STATUSES["normal"]["id"],
                                                    STATUSES["reply"]["id"]])
    question = store.question(f"masto:{STATUSES['normal']['uri']}")
    assert question is not None and question.state == "rejected"
    assert "deleted" in question.flags
    kept = store.question(f"masto:{STATUSES['reply']['uri']}")
    assert kept is not None and kept.state == "new"


def test_an_instance_before_4_3_says_it_cannot_report_deletions(
        api: Any, store: Store, event: str) -> None:
    api.get(tag_url(ONE), json=[status("normal")])
    api.get(f"{ONE}/api/v1/statuses", status=404, json=ERRORS["404"])
    clock = Clock()
    run = poller(make(event, clock), store, clock)
    run.poll_once()
    clock.now += 61

    run.poll_once()

    assert "its deletions are not retracted" in health(store, "mastodon")["detail"]
    assert health(store, "mastodon")["state"] == "ok"


def test_bad_toots_become_dead_letters_and_the_rest_is_stored(api: Any, store: Store,
                                                              event: str) -> None:
    good = status("normal")
    page = [status("reply", uri=12), status("link", created_at="yesterday"),
            status("edited", account="gone"),
            {k: v for k, v in status("content_warning").items() if k != "content"}, good]
    api.get(tag_url(ONE), json=page)

    result = poller(make(event), store).poll_once()

    assert (result.stored, result.dead) == (1, 4)
    assert sorted(letter["reason"] for letter in store.dead_letters()) == sorted([
        # Mastodon.py's types turn the number into text before Floor sees it.
        "toot 12: field 'uri': not a toot's address: '12'",
        # ... and an unreadable time into None.
        f"toot {STATUSES['link']['uri']}: field 'created_at': expected text, got NoneType",
        f"toot {STATUSES['edited']['uri']}: field 'account': expected a JSON object",
        f"toot {STATUSES['content_warning']['uri']}: field 'content': expected text, got NoneType"])
    assert health(store, "mastodon")["state"] == "ok"


def test_429_pauses_until_the_instance_says(api: Any, store: Store, event: str) -> None:
    # Mastodon's throttle (config/initializers/rack_attack.rb): 429, the body below, reset time.
    reset = "2026-05-14T10:05:00.000Z"
    api.get(tag_url(ONE), status=429, json={"error": "Too many requests"},
            headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                     "X-RateLimit-Reset": reset})
    clock = Clock()

    result = poller(make(event, clock), store, clock).poll_once()

    record = health(store, "mastodon")
    assert record["state"] == "paused"
    assert record["last_error"] == "one.example: rate limit reached (the #hoot timeline, 429)"
    assert result.delay > 0


def test_a_revoked_token_stops_that_instance_with_one_line(
        api: Any, store: Store, event: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "a-read-token-not-real-0123")
    api.get(tag_url(ONE), json=[status("normal")])
    api.get(tag_url(ONE), status=401, json=ERRORS["401"])
    run = poller(make(event), store)
    run.poll_once()
    assert api.calls[-1].request.headers["Authorization"] == "Bearer a-read-token-not-real-0123"

    first, second = run.poll_once(), run.poll_once()

    record = health(store, "mastodon")
    assert record["state"] == "stopped"
    assert record["last_error"] == (
        "one.example refused MASTODON_ACCESS_TOKEN (401 The access token is invalid): it may "
        "have been revoked; make a new read-scope token and restart the poller")
    assert first.delay == second.delay == 300
    timeline_calls = [c for c in api.calls if "/timelines/" in c.request.url]
    assert len(timeline_calls) == 2  # the stopped instance is not asked again


def test_an_instance_that_wants_a_token_says_so_in_one_line(api: Any, store: Store,
                                                            event: str) -> None:
    api.get(tag_url(ONE), status=401, json=ERRORS["401"])

    poller(make(event), store).poll_once()

    assert health(store, "mastodon")["last_error"] == (
        "one.example does not show its hashtag timeline without a token (401 The access token "
        "is invalid): put a read-scope token of an account there in MASTODON_ACCESS_TOKEN and "
        "name it in token_instance")


def test_an_instance_down_is_backed_off_while_the_other_is_read(api: Any, store: Store,
                                                                event: str) -> None:
    api.get(tag_url(ONE), body=requests.ConnectionError("connection refused"))
    api.get(tag_url(TWO), json=[status("normal")])
    clock = Clock()
    run = poller(make(event, clock, instances=[ONE, TWO]), store, clock)

    result = run.poll_once()
    clock.now += 15
    run.poll_once()

    assert result.stored == 1
    record = health(store, "mastodon")
    assert record["state"] == "ok"
    assert record["detail"] == "one.example could not be reached (the #hoot timeline)"
    assert (record["instances"], record["instances_answering"]) == (2, 1)
    down = [c for c in api.calls if c.request.url.startswith(tag_url(ONE))]
    assert len(down) == 1  # backed off: not asked again 15 s later


def test_every_instance_down_fails_the_cycle(api: Any, store: Store, event: str) -> None:
    api.get(tag_url(ONE), status=503, body="<html>Service Unavailable</html>")

    poller(make(event), store).poll_once()

    record = health(store, "mastodon")
    assert record["state"] == "failing"
    assert record["last_error"].startswith("one.example is failing (the #hoot timeline: 503")


def params_list(call: Any) -> list[str]:
    from urllib.parse import parse_qs, urlsplit
    return parse_qs(urlsplit(call.request.url).query)["id[]"]


def test_a_slow_instance_times_out_and_check_names_each_instance(api: Any, store: Store,
                                                                 event: str) -> None:
    api.get(tag_url(ONE), body=requests.ReadTimeout("Read timed out. (read timeout=10.0)"))
    api.get(tag_url(TWO), json=[status("normal")])

    poller(make(event, instances=[ONE, TWO]), store).poll_once()

    assert health(store, "mastodon")["detail"] == ("one.example did not answer within 10 s "
                                                   "(the #hoot timeline)")
    assert make(event, instances=[TWO]).check() == (
        "two.example answers without a token (1 recent toot(s) tagged #hoot)")


def test_check_says_in_one_line_when_an_instance_wants_a_token(api: Any, event: str) -> None:
    closed = copy.deepcopy(INSTANCE)
    closed["configuration"]["timelines_access"]["hashtag_feeds"] = {
        "local": "authenticated", "remote": "disabled"}
    api.replace(responses.GET, f"{ONE}/api/v2/instance/", json=closed)

    with pytest.raises(SourceStopped) as stopped:
        make(event).check()

    assert str(stopped.value) == (
        "one.example does not show its hashtag timelines without a token (its settings say "
        "so): put a read-scope token of an account there in MASTODON_ACCESS_TOKEN and name it "
        "in token_instance")


def test_an_instance_failing_half_way_keeps_its_place_for_every_hashtag(
        api: Any, store: Store, event: str) -> None:
    api.get(tag_url(ONE), json=[status("normal")])
    api.get(tag_url(ONE, "toot"), status=502, body="Bad Gateway")
    api.get(tag_url(TWO), json=[])
    api.get(tag_url(TWO, "toot"), json=[])

    poller(make(event, instances=[ONE, TWO], hashtags=["hoot", "toot"]), store).poll_once()

    # The #hoot toot was dropped with its instance's batch: its place did not move either.
    assert store.question_ids() == []
    assert f"{ONE} #hoot" not in (checkpoint(store, "mastodon") or {}).get("since", {})
    assert health(store, "mastodon")["detail"].startswith("one.example is failing")
