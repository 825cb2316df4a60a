"""`floor record`: the published folder follows the policy, the CSV round-trips, the /ask form's
consent is honoured, nothing needs a script, and every byte of every file is what verify checks."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from hashlib import sha256
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from aggregator.base.platforms import PLATFORMS, WEB_FORM
from aggregator.base.settings import EventSettings, RecordSettings, Settings
from aggregator.core.public_text import Rules, public_text
from aggregator.core.store import Store
from aggregator.followers.ledger import Ledger
from aggregator.followers.record.build import CSV_COLUMNS, build
from aggregator.followers.record.manifest import UnlistableName
from aggregator.followers.record.signing import create
from aggregator.followers.record.verify import VerifyFailed, verify
from tests.rehearsed import Meeting, rehearse


@pytest.fixture
def meeting(conn: redis.Redis, event: str) -> Meeting:
    return rehearse(conn, event)


def _build(conn: redis.Redis, event: str, folder: Path, **policy: object) -> dict:
    settings = Settings(event=EventSettings(slug=event), record=RecordSettings(**policy))
    build(conn, settings, folder)
    return json.loads((folder / "record.json").read_text(encoding="utf-8"))


def _by_qid(conn: redis.Redis, event: str, questions: list[dict]) -> dict[str, dict]:
    """The record's questions by their ids in Redis (the record names them by public ids)."""
    qid_of = {public: qid for qid, public in
              Ledger(conn, event).public_ids(Store(conn, event).question_ids()).items()}
    return {qid_of[q["id"]]: q for q in questions}


def _everything(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in folder.rglob("*")
                     if p.is_file() and p.suffix in (".html", ".csv", ".json", ".svg"))


def test_the_csv_round_trips_through_python_csv(conn: redis.Redis, event: str,
                                                meeting: Meeting, tmp_path: Path) -> None:
    record = _build(conn, event, tmp_path)
    with (tmp_path / "questions.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    public = Ledger(conn, event).public_ids(meeting.qids)
    assert [r["id"] for r in rows] == [q["id"] for q in record["questions"]] == \
        [public[qid] for qid in meeting.qids]
    for row, question, qid in zip(rows, record["questions"], meeting.qids, strict=True):
        assert row["text"] == (question["text"] or "")
        assert row["original"] == (question["original"] or "")
        assert row["asker"] == question["asker"]
        assert row["outcome"] == question["state"] == meeting.states[qid]
    assert any("\n" in r["text"] or "," in r["text"] or '"' in r["text"] for r in rows)
    again = io.StringIO(newline="")
    writer = csv.DictWriter(again, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    assert list(csv.DictReader(io.StringIO(again.getvalue(), newline=""))) == rows


def test_withheld_reasons_publish_only_the_fact(conn: redis.Redis, event: str,
                                                meeting: Meeting, tmp_path: Path) -> None:
    record = _build(conn, event, tmp_path)
    store = Store(conn, event)
    published = _everything(tmp_path)
    by_id = _by_qid(conn, event, record["questions"])
    # The rehearsal asks some questions twice in the same words (one may be published, with
    # its original beside a moderator's edit).
    said = {q.id: (q.text, q.original) for q in map(store.question, meeting.qids) if q}
    checked = set()
    for qid, reason in meeting.reasons.items():
        question = by_id[qid]
        text = store.question(qid).text  # type: ignore[union-attr]
        if meeting.states[qid] == "rejected" and reason in ("abusive",
                                                           "personal case to follow up privately"):
            assert question["text"] is None and question["published"] == "fact"
            assert question["reject_reason"] == reason
            elsewhere = any(text in words for other, both in said.items() if other != qid
                            for words in both)
            if len(text) > 25 and not elsewhere:  # short ones ("hello") occur elsewhere too
                assert text not in published
            checked.add(reason)
        elif meeting.states[qid] == "rejected":
            assert question["text"] == public_text(text, Rules.of(Settings()))
            checked.add("published")
    assert checked == {"abusive", "personal case to follow up privately", "published"}


def test_askers_are_named_only_when_they_agreed(conn: redis.Redis, event: str,
                                                meeting: Meeting, tmp_path: Path) -> None:
    record = _build(conn, event, tmp_path)
    published = _everything(tmp_path)
    by_id = _by_qid(conn, event, record["questions"])
    assert by_id[meeting.named_web]["asker"] == "Ruth Okonkwo-Example"
    assert "Ruth Okonkwo-Example" in published
    assert by_id[meeting.unnamed_web]["asker"] == "someone using the web form"
    for name in meeting.names - {"Ruth Okonkwo-Example"}:
        assert name not in published, name
    for handle in meeting.handles:
        assert not re.search(rf"\b{re.escape(handle)}\b", published), handle
    assert {q["asker"] for q in record["questions"]} >= {"a viewer on X", "a viewer on YouTube"}
    nobody = _build(conn, event, tmp_path / "nobody", name_askers="nobody")
    assert "Ruth Okonkwo-Example" not in _everything(tmp_path / "nobody")
    assert {q["asker"] for q in nobody["questions"]} <= {
        *(f"a viewer on {label}" for code, label in PLATFORMS.items() if code != WEB_FORM.code),
        "someone using the web form"}


def test_edits_show_their_original_and_duplicates_their_platforms(
        conn: redis.Redis, event: str, meeting: Meeting, tmp_path: Path) -> None:
    record = _build(conn, event, tmp_path)
    edited = [q for q in record["questions"] if q["original"] is not None]
    assert edited and all(q["text"] == q["original"].upper()[:200] or q["text"] != q["original"]
                          for q in edited)
    main = next(q for q in record["questions"] if q["also_asked_on"])
    assert sum(main["also_asked_on"].values()) == main["asked_by"] - 1
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert f"Also asked {main['asked_by'] - 1} more times" in page
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    for chart in ("platforms", "outcomes", "arrivals", "answer-times"):
        svg = (tmp_path / "charts" / f"{chart}.svg").read_text(encoding="utf-8")
        assert svg.startswith("<svg") and "<title" in svg and "<script" not in svg
        assert f'src="charts/{chart}.svg"' in page


def test_the_ask_forms_consent_decides_the_naming(client: FlaskClient, conn: redis.Redis,
                                                  event: str, tmp_path: Path) -> None:
    agreed = {"consent": "y"}
    client.post("/ask", data={"name": "Named Asker-Example", "question": "First?", **agreed})
    client.application.extensions["floor"].settings.screen.anonymise = True
    # With the board anonymised the form's sentence does not mention the name: not named.
    assert "and my name" not in client.get("/ask").text
    client.post("/ask", data={"name": "Quiet Asker-Example", "question": "Second?", **agreed})
    record = _build(conn, event, tmp_path, undecided="text")
    askers = {q["text"]: q["asker"] for q in record["questions"]}
    assert askers == {"First?": "Named Asker-Example", "Second?": "someone using the web form"}
    assert "Quiet Asker-Example" not in _everything(tmp_path)
    verify_unsigned_chain(tmp_path)


def verify_unsigned_chain(folder: Path) -> None:
    """The chain and the questions check out (the signature is tested in test_ledger)."""
    from aggregator.followers.record.verify import check_chain, check_questions

    _, _, last = check_chain(folder)
    check_questions(folder, last)


def test_a_record_of_the_rehearsal_verifies(conn: redis.Redis, event: str, meeting: Meeting,
                                            tmp_path: Path) -> None:
    settings = Settings(event=EventSettings(slug=event))
    build(conn, settings, tmp_path / "r", create(tmp_path / "k")[0])
    assert verify(tmp_path / "r").questions == len(meeting.qids)


def test_answer_notes_and_written_answers_reach_the_record(
        floor_env: dict[str, str], conn: redis.Redis, event: str, meeting: Meeting,
        tmp_path: Path) -> None:
    answered = [q for q in meeting.qids if meeting.states[q] == "answered"][:2]
    waiting = [q for q in meeting.qids if meeting.states[q] == "approved"][:2]

    def floor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", "answer-note", *args],
                              env=floor_env, capture_output=True, text=True, timeout=60)

    assert floor(answered[0], "The chair said the report is due in June.").returncode == 0
    assert floor(waiting[0], "--in-writing").returncode == 0
    done = floor(waiting[1], "Answered by letter on 2 June.", "--in-writing", "--by", "ann")
    assert done.returncode == 0, done.stderr
    refused = floor(next(q for q in meeting.qids if meeting.states[q] == "rejected"), "No.")
    assert refused.returncode == 1
    assert "cannot answer_note a question that is rejected" in refused.stderr
    settings = Settings(event=EventSettings(slug=event))
    build(conn, settings, tmp_path / "r", create(tmp_path / "k")[0])
    record = json.loads((tmp_path / "r" / "record.json").read_text(encoding="utf-8"))
    by_id = _by_qid(conn, event, record["questions"])
    public = Ledger(conn, event).public_ids(meeting.qids)
    assert by_id[answered[0]]["answer_note"] == "The chair said the report is due in June."
    assert by_id[waiting[0]]["written"] == "awaiting"
    assert by_id[waiting[1]]["written"] == "answered"
    assert by_id[waiting[1]]["answer_note"] == "Answered by letter on 2 June."
    with (tmp_path / "r" / "questions.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    assert rows[public[waiting[0]]]["in_writing"] == "awaiting"
    assert rows[public[answered[0]]]["answer_note"] == "The chair said the report is due in June."
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    awaiting = page.split('id="awaiting-h"')[1].split("</section>")[0]
    assert public[waiting[0]] in awaiting and public[waiting[1]] not in awaiting
    assert verify(tmp_path / "r").questions == len(meeting.qids)
    record["questions"][meeting.qids.index(answered[0])]["answer_note"] = "Something else."
    (tmp_path / "r" / "record.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(Exception, match="answer_note is"):
        verify(tmp_path / "r")


def test_personal_data_is_masked_in_what_the_record_publishes(
        conn: redis.Redis, event: str, tmp_path: Path) -> None:
    """A question answered before triage reached it, edited on the way: neither its text nor
    its original publishes the phone number, and the record still verifies."""
    from aggregator.core.moderation import Moderation
    from aggregator.core.normalise import normalise
    from aggregator.core.question import Post

    store, moderation = Store(conn, event), Moderation(conn, event)
    post = Post("x", "555", "Ring me on 07911 123456: when does the new unit open?", "Ann")
    (qid,) = store.ingest("x", [(normalise(post), {"id": "555"})])
    moderation.apply("edit", qid, 1, "sam", text="When does the new unit open? 07911 123456")
    moderation.apply("screen", qid, 2, "sam", then="answered")
    settings = Settings(event=EventSettings(slug=event))
    build(conn, settings, tmp_path / "r", create(tmp_path / "k")[0])
    record = json.loads((tmp_path / "r" / "record.json").read_text(encoding="utf-8"))
    published = _everything(tmp_path / "r")
    assert "07911" not in published and "123456" not in published
    (question,) = record["questions"]
    assert question["text"].startswith("When does the new unit open?")
    assert question["original"].startswith("Ring me on") and question["masked"] == ["text",
                                                                                     "original"]
    assert "text" not in question["proofs"] and "original" not in question["proofs"]
    assert verify(tmp_path / "r").questions == 1


def test_a_text_without_the_events_hashtag_keeps_its_proof(conn: redis.Redis, event: str,
                                                           tmp_path: Path) -> None:
    """The pages show a question without the event's hashtag; record.json and the CSV publish
    the committed text beside it, whose proof verifies. A shown text that also lost a word
    fails verify; a text masking changed has neither its committed text nor a proof."""
    from aggregator.core.moderation import Moderation
    from tests.posts import ingest

    store, moderation = Store(conn, event), Moderation(conn, event)
    tagged, phoned = ingest(store, "When does the new unit open? #APM2026",
                            "#apm2026 Ring me on 07911 123456 about the new unit")
    for qid in (tagged, phoned):
        moderation.apply("screen", qid, 1, "sam", then="answered")
    folder = tmp_path / "r"
    build(conn, Settings(event=EventSettings(slug=event)), folder, create(tmp_path / "k")[0])
    record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    by_id = _by_qid(conn, event, record["questions"])
    question, masked = by_id[tagged], by_id[phoned]
    assert record["stripped_hashtags"] == ["apm2026"]
    assert question["text"] == "When does the new unit open?" and question["masked"] == []
    assert question["committed"] == {"text": "When does the new unit open? #APM2026"}
    assert set(question["proofs"]) == {"text"}
    assert masked["masked"] == ["text"] and masked["committed"] == {}
    assert "text" not in masked["proofs"] and "07911" not in _everything(folder)
    assert "#APM2026" not in (folder / "index.html").read_text(encoding="utf-8")
    with (folder / "questions.csv").open(encoding="utf-8", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["id"] == question["id"])
    assert (row["text"], row["committed_text"]) == (question["text"],
                                                    question["committed"]["text"])
    assert verify(folder).questions == 2
    changed = dict(record, questions=[dict(q, text="When does the unit open?")
                                      if q is question else q for q in record["questions"]])
    with _holding(folder / "record.json", json.dumps(changed).encode()):
        assert f"question {question['id']}: the shown text is not the committed text" in \
            _failure(folder)
    changed = dict(record, questions=[
        dict(q, committed={"text": "When does the unit open? #APM2026"},
             text="When does the unit open?") if q is question else q
        for q in record["questions"]])
    with _holding(folder / "record.json", json.dumps(changed).encode()):
        assert f"question {question['id']}: the published text is not the one the ledger" in \
            _failure(folder)


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def signed(conn: redis.Redis, event: str, meeting: Meeting, tmp_path: Path) -> Path:
    """The rehearsal's record, built and signed in a folder of its own."""
    folder = tmp_path / "r"
    build(conn, Settings(event=EventSettings(slug=event)), folder, create(tmp_path / "k")[0])
    return folder


def _files(folder: Path) -> list[Path]:
    """Every file in the folder, found there: a file a later build adds is covered unnamed."""
    return sorted(path for path in folder.rglob("*") if path.is_file())


def _put(path: Path, data: bytes | None) -> None:
    if data is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(data)


@contextmanager
def _holding(path: Path, data: bytes | None) -> Iterator[None]:
    """``path`` holds ``data`` (None: it is not there) inside the block; as it was after."""
    was = path.read_bytes() if path.exists() else None
    _put(path, data)
    try:
        yield
    finally:
        _put(path, was)


def _failure(folder: Path) -> str:
    with pytest.raises(VerifyFailed) as failed:
        verify(folder)
    return str(failed.value)


def test_one_byte_changed_in_any_file_fails_verify_naming_it(signed: Path) -> None:
    files = _files(signed)
    names = [path.relative_to(signed).as_posix() for path in files]
    assert {"index.html", "record.json", "charts/outcomes.svg", "SHA256SUMS", "head.txt",
            "head.sig", "public-key.pem", "ledger.jsonl"} <= set(names)
    # The manifest lists every file but itself and the two that sign it.
    assert verify(signed).files == len(files) - 3
    rng = random.Random(19)
    for path, name in zip(files, names, strict=True):
        data = path.read_bytes()
        for at in sorted({0, rng.randrange(len(data)), len(data) - 1}):
            changed = bytearray(data)
            changed[at] = (changed[at] + rng.randrange(1, 256)) % 256
            with _holding(path, bytes(changed)):
                failure = _failure(signed)
            assert name in failure, f"{name}, byte {at} changed: {failure}"
            if name.endswith((".html", ".svg")):  # read by no check but the manifest's
                assert failure == f"{name}: changed (its SHA-256 is not the one SHA256SUMS lists)"
    # A change that leaves a valid key, another one, is named too.
    other = create(signed.parent / "other")[1].read_bytes()
    with _holding(signed / "public-key.pem", other):
        assert "by the key public-key.pem" in _failure(signed)
    assert verify(signed).files == len(files) - 3


def test_a_file_added_or_removed_fails_verify_naming_it(signed: Path, meeting: Meeting) -> None:
    for added in ("notes.txt", ".hidden", "charts/extra.svg", "more/notes.txt"):
        (signed / added).parent.mkdir(exist_ok=True)
        with _holding(signed / added, b"not written by Floor\n"):
            assert _failure(signed) == (f"{added}: not in the manifest (SHA256SUMS does not "
                                        "list it)")
    for path in _files(signed):
        name = path.relative_to(signed).as_posix()
        with _holding(path, None):
            failure = _failure(signed)
        assert name in failure, f"{name} removed: {failure}"
        if name.endswith((".html", ".svg")):
            assert failure == f"{name}: missing (SHA256SUMS lists it)"
    with _holding(signed / "index.html", None), _holding(signed / "index.htm", b"moved"):
        assert _failure(signed) == ("index.htm: not in the manifest (SHA256SUMS does not list "
                                    "it); index.html: missing (SHA256SUMS lists it)")
    assert verify(signed).questions == len(meeting.qids)


def test_the_field_tests_edits_fail_verify(signed: Path, floor_env: dict[str, str]) -> None:
    """The edits the field test made, each read by no value check: a sentence of the page, a
    number in a chart, a key of record.json renamed."""
    def floor_verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", "record", "verify", str(signed)],
                              env=floor_env, capture_output=True, text=True, timeout=60)

    passed = floor_verify()
    assert passed.returncode == 0, passed.stderr
    assert f"ok: {len(_files(signed)) - 3} files, each as the signed SHA256SUMS lists it" \
        in passed.stdout
    edits = {"index.html": ("built on a flood plain?", "built on a car park?"),
             "charts/platforms.svg": ("Facebook: 92", "Facebook: 29"),
             "record.json": ('"answered_at"', '"Xnswered_at"')}
    for name, (was, now) in edits.items():
        text = (signed / name).read_text(encoding="utf-8")
        assert was in text
        edited = text.replace(was, now, 1)
        if name == "record.json":
            assert "answered_at" not in json.loads(edited)["questions"][0]
        with _holding(signed / name, edited.encode("utf-8")):
            assert _failure(signed) == \
                f"{name}: changed (its SHA-256 is not the one SHA256SUMS lists)"
            failed = floor_verify()
        assert failed.returncode == 1
        assert f"the record does NOT verify: {name}: changed" in failed.stderr


def test_the_readmes_standard_tools_check_the_signature_and_every_file(signed: Path) -> None:
    for tool in ("bash", "openssl", "sha256sum"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (apt-get install -y bash openssl coreutils)")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (block,) = [block for block in re.findall(r"```bash\n(.*?)```", readme, re.S)
                if "sha256sum -c" in block]
    steps = [line for line in block.splitlines() if line and not line.startswith("cd ")]
    assert len(steps) == 4  # the signature, the manifest's hash, the files, no other file

    def failing() -> list[int]:
        return [n for n, step in enumerate(steps) if subprocess.run(
            ["bash", "-c", step], cwd=signed, capture_output=True, timeout=60).returncode]

    assert failing() == []
    head, manifest, index = signed / "head.txt", signed / "SHA256SUMS", signed / "index.html"
    with _holding(head, head.read_bytes().replace(b"made: ", b"made: 1")):
        assert failing() == [0]
    original = index.read_bytes()
    page = original.replace(b"flood plain", b"car park")
    relisted = manifest.read_bytes().replace(sha256(original).hexdigest().encode(),
                                             sha256(page).hexdigest().encode())
    with _holding(index, page):
        assert failing() == [2]
        with _holding(manifest, relisted):  # the page's new hash listed: not what was signed
            assert failing() == [1]
    with _holding(signed / "notes.txt", b"not written by Floor\n"):
        assert failing() == [3]
    assert failing() == []


def test_a_file_name_no_manifest_line_can_hold_is_refused(
        conn: redis.Redis, event: str, meeting: Meeting, tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "two\nlines.txt").write_text("x", encoding="utf-8")
    with pytest.raises(UnlistableName, match="line break"):
        build(conn, Settings(event=EventSettings(slug=event)), folder)
