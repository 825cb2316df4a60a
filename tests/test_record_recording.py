"""The record meets the recording: each answered question linked to its second in the YouTube
recording (the start time read through google-api-python-client, YouTube simulated at its
HTTP layer), the captions' words beside it, the posts that are not questions counted by kind,
and a site folder that keeps every meeting's record."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from googleapiclient.http import HttpMockSequence
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.base.keys import Keys
from aggregator.base.settings import EventSettings, RecordSettings, Settings, TriageSettings
from aggregator.core.moderation import Moderation
from aggregator.core.store import Store
from aggregator.followers.ledger import Ledger
from aggregator.followers.record import captions as captions_module
from aggregator.followers.record.build import build
from aggregator.followers.record.captions import CaptionsError, parse, place, read
from aggregator.followers.record.recording import NoRecording, Recording, find
from aggregator.followers.record.signing import create
from aggregator.followers.record.verify import VerifyFailed, verify
from aggregator.followers.triage.worker import TriageWorker
from tests.posts import act, ingest

VIDEO = "abcdefghijk"  # tests/payloads/youtube/video_live.json: actualStartTime 09:55:00Z
PAYLOADS = Path(__file__).parent / "payloads" / "youtube"
STARTED = datetime(2026, 5, 14, 9, 55, tzinfo=UTC)
QUESTIONS = ("How will response times improve in rural areas?",
             "What is the plan for staff wellbeing this year?",
             "Will the board publish the handover delay figures?")
OTHERS = {"hello from Leeds": "chatter", "no sound on the stream here": "stream",
          "the board are all grotbags": "abusive",
          "How will response times improve in rural areas??": "duplicate"}
# Seconds into the recording (second 0 at 09:55:00) that each question went on screen and left.
SCREENED = ((600, 780), (780, 930), (1020, 1080))
CAPTIONS = """WEBVTT

NOTE YouTube's download, with a garbled cue and an overlap

00:10:00.500 --> 00:10:09.000
<v Chair>The first question is about rural areas.

00:10:12.000 --> 00:10:30.000
Four new stations open next year, so
rural response times will improve.

00:10:2x.000 --> garbled
lost words

00:10:25.000 --> 00:10:40.000
rural response times will improve.
And we will report them by postcode.

00:13:05.000 --> 00:13:20.000
Staff wellbeing has a programme of its own &amp; a budget.

00:19:00.000 --> 00:19:10.000
Words between questions, placed with none.
"""


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(STARTED.timestamp() + seconds, UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def meeting(store: Store, moderation: Moderation, monkeypatch: pytest.MonkeyPatch
            ) -> dict[str, str]:
    """Three questions put on screen and answered at known moments, and four posts that are
    not questions, triaged: text -> question id."""
    qids = ingest(store, *QUESTIONS, *OTHERS)
    worker = TriageWorker(store.conn, store.keys.event, TriageSettings(abuse_words=["grotbags"]),
                          use_model=False)
    worker.setup()
    worker.drain()
    now = [_at(300)]
    monkeypatch.setattr("aggregator.core.moderation.utc_now", lambda: now[0])
    for qid in qids[:3]:
        act(moderation, store, "approve", qid)
    for qid, (start, end) in zip(qids[:3], SCREENED, strict=True):
        now[0] = _at(start)
        act(moderation, store, "screen", qid)
        now[0] = _at(end)
        if qid != qids[0]:  # the first leaves as the second goes on screen
            act(moderation, store, "answer", qid)
    return dict(zip([*QUESTIONS, *OTHERS], qids, strict=True))


def _ok(name: str) -> tuple[dict[str, str], str]:
    return {"status": "200", "content-type": "application/json; charset=UTF-8"}, \
        (PAYLOADS / name).read_text(encoding="utf-8")


def _settings(event: str, **record: Any) -> Settings:
    return Settings(event=EventSettings(slug=event, title="Board meeting in public, May"),
                    record=RecordSettings(**record))


def test_the_start_time_comes_from_youtube(event: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOUTUBE_API_KEY", "test-api-key-not-real")
    http = HttpMockSequence([_ok("video_live.json")])
    found = find(_settings(event, video=f"https://youtu.be/{VIDEO}", recording_offset=-30,
                           lead_in=8), http=http)
    assert found == Recording(VIDEO, STARTED, -30.0, 8.0)
    (uri, *_), = http.request_sequence
    assert "/youtube/v3/videos?" in uri and "part=liveStreamingDetails" in uri \
        and f"id={VIDEO}" in uri
    # On screen at 10:05:00: 600 s in, less the 30 s trimmed off, less 8 s of lead-in.
    assert found.link(datetime(2026, 5, 14, 10, 5, tzinfo=UTC)) == \
        f"https://www.youtube.com/watch?v={VIDEO}&t=562s"
    assert found.link(datetime(2026, 5, 14, 9, 55, 10, tzinfo=UTC)) is None  # trimmed off
    # The YouTube source's video is used when [record] names none.
    from_source = Settings(event=EventSettings(slug=event, hashtags=[]),
                           sources={"youtube": {"video_id": VIDEO}})
    assert find(from_source, http=HttpMockSequence([_ok("video_ended.json")])).start == \
        datetime(2026, 5, 13, 9, 55, tzinfo=UTC)


@pytest.mark.parametrize(("reply", "words"), [
    (_ok("video_missing.json"), "YouTube has no video"),
    (({"status": "403"}, json.dumps({"error": {"code": 403, "message": "quota", "errors": [
        {"reason": "quotaExceeded", "message": "quota", "domain": "youtube.quota"}]}})),
     "quota is used up"),
    (({"status": "200"}, json.dumps({"items": [{"id": VIDEO, "liveStreamingDetails": {
        "scheduledStartTime": "2026-05-14T10:00:00Z"}}]})), "no actual start time"),
    (({"status": "200"}, "<html>not json</html>"), "not JSON"),
])
def test_no_start_time_says_why(event: str, monkeypatch: pytest.MonkeyPatch,
                                reply: tuple[dict[str, str], str], words: str) -> None:
    monkeypatch.setenv("YOUTUBE_API_KEY", "test-api-key-not-real")
    with pytest.raises(NoRecording, match=words):
        find(_settings(event, video=VIDEO), http=HttpMockSequence([reply]))


def test_answers_link_to_the_recording_with_the_words_spoken(
        conn: redis.Redis, event: str, meeting: dict[str, str], tmp_path: Path) -> None:
    captions = parse(CAPTIONS, "meeting.vtt")
    built = build(conn, _settings(event), tmp_path / "r", create(tmp_path / "k")[0],
                  recording=Recording(VIDEO, STARTED, 0.0, 5.0), captions=captions)
    record = json.loads((tmp_path / "r" / "record.json").read_text(encoding="utf-8"))
    public = Ledger(conn, event).public_ids(list(meeting.values()))
    rows = {q["id"]: q for q in record["questions"]}
    first, second, third = (rows[public[meeting[text]]] for text in QUESTIONS)
    for row, (start, _) in zip((first, second, third), SCREENED, strict=True):
        assert row["state"] == "answered"
        assert row["recording"] == f"https://www.youtube.com/watch?v={VIDEO}&t={start - 5}s"
    assert first["transcript"] == ("The first question is about rural areas. Four new stations "
                                   "open next year, so rural response times will improve. And "
                                   "we will report them by postcode.")
    assert second["transcript"] == "Staff wellbeing has a programme of its own & a budget."
    assert third["transcript"] is None
    assert (built.linked, built.transcripts) == (3, 2)
    assert built.unplaced == [
        "line 12: a cue that cannot be read (skipped)",
        "1 cue(s) overlap the one before; each is placed by its middle",
        f"{third['id']}: no caption while it was on screen (17:00 to 18:00 in the recording)"]
    assert not any(q["recording"] for q in record["questions"] if q["state"] != "answered")
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert page.count(f"https://www.youtube.com/watch?v={VIDEO}&amp;t=") == 3
    assert "Watch the answer in the recording, from 10:00" in page
    assert "not the trust's written answer" in page
    assert "line 12: a cue that cannot be read" in page
    assert "<script" not in page.lower()
    assert verify(tmp_path / "r").questions == len(meeting)


def test_posts_that_are_not_questions_are_counted_by_kind_not_listed(
        conn: redis.Redis, event: str, meeting: dict[str, str], tmp_path: Path) -> None:
    build(conn, _settings(event, undecided="text"), tmp_path / "r", create(tmp_path / "k")[0])
    record = json.loads((tmp_path / "r" / "record.json").read_text(encoding="utf-8"))
    public = Ledger(conn, event).public_ids(list(meeting.values()))
    kinds = {q["id"]: q["kind"] for q in record["questions"]}
    assert {text: kinds[public[qid]] for text, qid in meeting.items()} == {
        **dict.fromkeys(QUESTIONS, "question"), **OTHERS}
    assert record["counted"] == {"chatter": 1, "stream": 1, "abusive": 1, "duplicate": 1}
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    listed = page.split('id="questions"')[1].split("</table>")[0]
    assert listed.count("<tr id=") == 3
    for text in OTHERS:
        assert text not in listed
    assert "7 posts received;\n    3 listed below as questions" in page
    assert re.search(r"The other 4 posts were not questions.*1 chatter, greetings, thanks and "
                     r"remarks that ask nothing; "
                     r"1 about the stream or the sound; 1 abusive; 1 repeat of a question "
                     r"already asked\.", page, re.S)
    chart = (tmp_path / "r" / "charts" / "other-posts.svg").read_text(encoding="utf-8")
    assert "abusive: 1" in chart and "repeats: 1" in chart
    assert 'src="charts/other-posts.svg"' in page
    assert verify(tmp_path / "r").questions == 7  # every post is in record.json, as chained
    # A post counted as chatter, listed instead (or the other way): verify names it.
    chatter = public[meeting["hello from Leeds"]]
    for question in record["questions"]:
        if question["id"] == chatter:
            question["kind"] = "question"
    (tmp_path / "r" / "record.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(VerifyFailed, match=f"question {chatter}: kind is 'question', the ledger "
                                           "makes it 'chatter'"):
        verify(tmp_path / "r")


def test_a_moderators_action_lists_a_post_whatever_triage_said(
        conn: redis.Redis, event: str, meeting: dict[str, str], moderation: Moderation,
        store: Store, tmp_path: Path) -> None:
    act(moderation, store, "reject", meeting["hello from Leeds"], reason="off topic")
    build(conn, _settings(event), tmp_path / "r")
    record = json.loads((tmp_path / "r" / "record.json").read_text(encoding="utf-8"))
    assert record["counted"]["chatter"] == 0
    assert sum(q["kind"] == "question" for q in record["questions"]) == 4


@pytest.mark.parametrize(("text", "cues", "problems"), [
    ("1\n00:00:01,000 --> 00:00:02,500\nHello <i>there</i>\n\n2\n00:00:0x --> y\nbad\n\n"
     "3\n00:00:05,000 --> 00:00:04,000\nbackwards\n\n4\n00:00:06,000 --> 00:00:07,000\nend\n",
     [(1.0, 2.5, "Hello there"), (6.0, 7.0, "end")],
     ["line 5: a cue that cannot be read (skipped)",
      "line 9: a cue that ends before it starts (skipped)"]),
    ("\ufeffWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\none\r\n\r\nstray words\r\n",
     [(1.0, 2.0, "one")], ["line 6: text that is not a cue (skipped)"]),
    # YouTube's automatic captions: a line of one space inside a cue, each line said again in the
    # next cue, words timed inline.
    ("WEBVTT\nKind: captions\nLanguage: en\n\n"
     "00:00:00.000 --> 00:00:02.350 align:start position:0%\n \n"
     "good<00:00:00.320><c> evening</c><00:00:00.640><c> everyone</c>\n\n"
     "00:00:02.350 --> 00:00:02.360 align:start position:0%\ngood evening everyone\n \n\n"
     "00:00:02.360 --> 00:00:05.000 align:start position:0%\ngood evening everyone\n"
     "and<00:00:02.800><c> welcome</c>\n",
     [(0.0, 2.35, "good evening everyone"), (2.35, 2.36, "good evening everyone"),
      (2.36, 5.0, "good evening everyone\nand welcome")], []),
])
def test_srt_and_webvtt_cues_and_what_cannot_be_read(
        text: str, cues: list[tuple[float, float, str]], problems: list[str]) -> None:
    found = parse(text)
    assert [(c.start, c.end, c.text) for c in found.cues] == cues
    assert found.problems == problems
    if len(cues) == 3:  # a line said again in the next cue is quoted once
        assert place(found, {"q": (0, 10)}) == {"q": "good evening everyone and welcome"}


def test_files_that_are_no_captions_are_refused_in_words(tmp_path: Path) -> None:
    for data, words in ((b"", "not a WebVTT or SRT"), (b"WEBVTT\n\nno cues\n", "no cue"),
                        (b"\xff\xfe garbage --> more", "no cue")):
        (tmp_path / "c.vtt").write_bytes(data)
        with pytest.raises(CaptionsError, match=words):
            read(tmp_path / "c.vtt")
    (tmp_path / "c.srt").write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n")
    assert read(tmp_path / "c.srt").problems == ["not all UTF-8: 1 character(s) shown as \ufffd"]
    with pytest.raises(CaptionsError, match="cannot read"):
        read(tmp_path / "missing.vtt")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["WEBVTT", "", "1", "00:00:01.000 --> 00:00:02.000",
                                 "00:00:01,000 --> 00:00:02,000", "00:0x --> ", "-->", "text",
                                 "<b>bold", "NOTE", "\ufeff", "&amp;", "99:99:99.999 --> 0"]),
                max_size=30))
def test_no_caption_file_crashes_the_parser(lines: list[str]) -> None:
    try:
        found = captions_module.parse("\n".join(lines))
    except CaptionsError:
        return
    assert found.cues and all(c.end >= c.start for c in found.cues)


def test_floor_record_without_a_start_time_builds_without_links_into_a_site(
        conn: redis.Redis, event: str, meeting: dict[str, str], floor_env: dict[str, str],
        tmp_path: Path) -> None:
    """`floor record` into the site `[record] site` names: no key for YouTube, so it says so and
    builds without links; `--site`, a start time set and the captions: the next meeting's record
    links and quotes; the site's index lists both meetings."""
    config = Path(floor_env["FLOOR_CONFIG"])
    base = config.read_text(encoding="utf-8")
    env = {k: v for k, v in floor_env.items() if not k.startswith("YOUTUBE_")}
    site = tmp_path / "site"

    def floor_record(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", "record", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    config.write_text(base + f'[record]\nvideo = "https://youtu.be/{VIDEO}"\nsite = "{site}"\n',
                      encoding="utf-8")
    done = floor_record()  # [record] site says where
    assert done.returncode == 0, done.stderr
    assert "no links to the recording: cannot read video abcdefghijk's start time from " \
        "YouTube: set YOUTUBE_API_KEY" in done.stdout
    page = (site / event / "index.html").read_text(encoding="utf-8")
    assert "youtube.com/watch?v=abcdefghijk&amp;t=" not in page
    assert "not linked to it" not in page  # no recording section at all without one
    (tmp_path / "meeting.vtt").write_text(CAPTIONS, encoding="utf-8")
    later = tmp_path / "later.toml"
    later.write_text(base.replace(event, f"{event}-b") + '[record]\nvideo = "' + VIDEO +
                     '"\nrecording_start = "2026-05-14T09:55:00Z"\n', encoding="utf-8")
    env["FLOOR_CONFIG"] = str(later)
    # The same meeting again, as the next one: the record is built from the log.
    conn.copy(Keys(event).log, Keys(f"{event}-b").log)
    done = floor_record("--site", str(site), "--captions", str(tmp_path / "meeting.vtt"),
                        "--key", str(create(tmp_path / "k")[0]))
    assert done.returncode == 0, done.stderr
    assert "recording: 3 answered question(s) linked" in done.stdout
    assert "transcript: words beside 2 answered question(s) from meeting.vtt" in done.stdout
    assert "not placed: line 12: a cue that cannot be read (skipped)" in done.stdout
    index = (site / "index.html").read_text(encoding="utf-8")
    meetings = json.loads((site / "meetings.json").read_text(encoding="utf-8"))
    assert [m["folder"] for m in meetings] == [f"{event}-b", event] or \
        [m["folder"] for m in meetings] == [event, f"{event}-b"]
    for m in meetings:
        assert f'href="{m["folder"]}/index.html"' in index
        assert f'href="{m["folder"]}/verify.html"' in index
        assert m["title"] == "Annual Public Meeting" and re.fullmatch(r"\d{4}-\d\d-\d\d",
                                                                       m["date"])
        assert (m["posts"], m["questions"], m["answered"]) == (7, 3, 3)
        assert m["head"] in index
    signed = next(m for m in meetings if m["folder"] == f"{event}-b")
    assert len(signed["key"]) == 64 and signed["key"] in index
    assert "not signed" in index
    verify(site / f"{event}-b")
