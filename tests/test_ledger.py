"""The ledger: one link per log entry, tamper-evident, personal fields only as commitments; and
`floor record verify` names the first entry that fails."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis

from aggregator.base.keys import Keys
from aggregator.base.settings import EventSettings, Settings
from aggregator.followers.ledger import (
    GENESIS,
    PUBLIC_ID,
    Ledger,
    canonical,
    commitment,
    link_hash,
    public_id,
)
from aggregator.followers.record import HEAD_FILE, LEDGER_FILE, PUBLIC_KEY_FILE, SIGNATURE_FILE
from aggregator.followers.record.build import build
from aggregator.followers.record.signing import create
from aggregator.followers.record.verify import VerifyFailed, verify
from tests.rehearsed import Meeting, rehearse


@pytest.fixture
def meeting(conn: redis.Redis, event: str) -> Meeting:
    return rehearse(conn, event, limit=40)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return create(tmp_path / "keys")[0]


@pytest.fixture
def built(conn: redis.Redis, event: str, meeting: Meeting, key: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "record"
    build(conn, Settings(event=EventSettings(slug=event)), folder, key)
    return folder


def test_every_log_entry_gets_one_link_under_its_own_id(conn: redis.Redis, event: str,
                                                        meeting: Meeting) -> None:
    ledger = Ledger(conn, event)
    linked = ledger.catch_up()
    log_ids = [i for i, _ in conn.xrange(Keys(event).log)]
    links = list(ledger.links())
    assert linked == len(log_ids) == len(links)
    assert [link.id for link in links] == log_ids
    assert [link.n for link in links] == list(range(1, len(links) + 1))
    previous = GENESIS
    for link in links:
        assert link_hash(previous, link.entry.encode()) == link.hash
        assert canonical(json.loads(link.entry)).decode() == link.entry
        previous = link.hash
    assert ledger.catch_up() == 0  # nothing twice
    assert str(ledger.head()) == f"{len(links)}:{previous}"


def test_personal_fields_enter_only_as_salted_commitments(conn: redis.Redis, event: str,
                                                          meeting: Meeting) -> None:
    ledger = Ledger(conn, event)
    ledger.catch_up()
    stored = "\n".join(link.entry for link in ledger.links())
    for secret in meeting.names | meeting.handles | {"https://example.invalid/"}:
        assert secret not in stored
    first = json.loads(next(iter(ledger.links())).entry)["qs"][0]
    logged = json.loads(conn.xrange(Keys(event).log, count=1)[0][1]["qs"])[0]
    salt = ledger.salts([f"{logged['id']} author_name"])[f"{logged['id']} author_name"]
    assert first["author_name"] == {"commit": commitment(salt, logged["author_name"])}
    assert first["id"] == ledger.public_ids([logged["id"]])[logged["id"]]


def test_the_chain_names_questions_by_public_ids_never_by_post_ids(
        conn: redis.Redis, event: str, meeting: Meeting) -> None:
    ledger = Ledger(conn, event)
    ledger.catch_up()
    stored = "\n".join(link.entry for link in ledger.links())
    for qid in meeting.qids:
        assert qid.split(":", 1)[1] not in stored, f"the post id of {qid} is in the chain"
    public = ledger.public_ids(meeting.qids)
    assert len(set(public.values())) == len(meeting.qids)
    assert all(PUBLIC_ID.match(p) and p.split("-")[0] == q.split(":")[0]
               for q, p in public.items())
    # Every place an entry names a question carries the public id: qid, qs, queue, screen.
    named: set[str] = set()
    for link in ledger.links():
        entry = json.loads(link.entry)
        edit = entry.get("queue_edit", {"drop": [], "put": []})
        named |= {entry.get("qid", ""), entry.get("screen", ""), *edit["drop"],
                  *(qid for _, qid in edit["put"]),
                  *(q["id"] for q in entry.get("qs", [])),
                  *(q.get("parent", "") for q in entry.get("qs", []))}
    assert named - {""} <= set(public.values())
    assert set(public.values()) <= named
    # The organisation can show which post a public id stands for: the salt proves it.
    qid = meeting.qids[0]
    salt = ledger.salts([f"{qid} id"])[f"{qid} id"]
    assert public_id(salt, qid) == public[qid]


def test_two_writers_at_once_neither_skip_nor_duplicate(conn: redis.Redis, event: str,
                                                        meeting: Meeting) -> None:
    writers = [Ledger(redis.Redis(connection_pool=conn.connection_pool), event) for _ in range(3)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(writers))

    def write(ledger: Ledger) -> None:
        start.wait()
        try:
            ledger.catch_up(batch=3)  # small batches: the writers overtake each other often
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    links = list(writers[0].links())
    assert [link.id for link in links] == [i for i, _ in conn.xrange(Keys(event).log)]
    previous = GENESIS
    for link in links:
        assert link_hash(previous, link.entry.encode()) == link.hash
        previous = link.hash


def test_a_built_record_verifies(built: Path, conn: redis.Redis, event: str) -> None:
    done = verify(built)
    assert done.count == conn.xlen(Keys(event).log)
    assert done.questions == conn.zcard(Keys(event).questions)


def _lines(folder: Path) -> list[bytes]:
    return (folder / LEDGER_FILE).read_bytes().splitlines(keepends=True)


def _write(folder: Path, lines: list[bytes]) -> None:
    (folder / LEDGER_FILE).write_bytes(b"".join(lines))


def _fails_at(folder: Path, number: int) -> None:
    with pytest.raises(VerifyFailed, match=rf"^ledger\.jsonl: entry {number}\b"):
        verify(folder)


def test_changing_one_byte_of_any_entry_names_it(built: Path) -> None:
    lines = _lines(built)
    rng = random.Random(4)
    for index in range(len(lines)):
        changed = list(lines)
        line = bytearray(changed[index])
        at = rng.randrange(len(line) - 1)  # any byte but the newline
        line[at] = (line[at] + rng.randrange(1, 255)) % 256
        changed[index] = bytes(line)
        _write(built, changed)
        _fails_at(built, index + 1)


def test_removing_any_entry_names_it(built: Path) -> None:
    lines = _lines(built)
    for index in range(len(lines)):
        _write(built, lines[:index] + lines[index + 1:])
        _fails_at(built, index + 1)


def test_swapping_two_entries_names_the_first(built: Path) -> None:
    lines = _lines(built)
    rng = random.Random(5)
    for _ in range(30):
        i, j = sorted(rng.sample(range(len(lines)), 2))
        swapped = list(lines)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        _write(built, swapped)
        _fails_at(built, i + 1)


def test_a_noted_head_must_be_extended(built: Path, conn: redis.Redis, event: str) -> None:
    lines = _lines(built)
    noted = json.loads(lines[9])
    assert verify(built, head=f"10:{noted['hash']}").count == len(lines)
    with pytest.raises(VerifyFailed, match="noted head"):
        verify(built, head=f"10:{'0' * 64}")
    with pytest.raises(VerifyFailed, match="noted head"):
        verify(built, head=f"{len(lines) + 1}:{noted['hash']}")


def test_the_signature_must_be_the_organisations(built: Path, tmp_path: Path) -> None:
    other = create(tmp_path / "other")[1]
    with pytest.raises(VerifyFailed, match="not a valid signature"):
        verify(built, public_key=other)
    signature = bytearray((built / SIGNATURE_FILE).read_bytes())
    signature[0] ^= 1
    (built / SIGNATURE_FILE).write_bytes(bytes(signature))
    with pytest.raises(VerifyFailed, match="not a valid signature"):
        verify(built)


def test_an_unsigned_record_does_not_verify(conn: redis.Redis, event: str, meeting: Meeting,
                                            tmp_path: Path) -> None:
    build(conn, Settings(event=EventSettings(slug=event)), tmp_path / "r")
    with pytest.raises(VerifyFailed, match="not signed"):
        verify(tmp_path / "r")


def test_a_question_dropped_from_the_published_list_fails(built: Path) -> None:
    record = json.loads((built / "record.json").read_text())
    record["questions"] = record["questions"][1:]
    (built / "record.json").write_text(json.dumps(record))
    with pytest.raises(VerifyFailed, match="not published"):
        verify(built)


def test_a_published_text_must_be_the_committed_one(built: Path) -> None:
    record = json.loads((built / "record.json").read_text())
    shown = next(q for q in record["questions"] if "text" in q["proofs"])
    shown["text"] += "!"
    (built / "record.json").write_text(json.dumps(record))
    with pytest.raises(VerifyFailed, match=f"question {shown['id']}: the published text"):
        verify(built)


def test_openssl_checks_the_signature_as_the_readme_says(built: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (apt-get install -y openssl)")
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", PUBLIC_KEY_FILE, "-rawin",
               "-in", HEAD_FILE, "-sigfile", SIGNATURE_FILE]
    ok = subprocess.run(command, cwd=built, capture_output=True, text=True)
    assert ok.returncode == 0 and "Verified Successfully" in ok.stdout
    (built / HEAD_FILE).write_text((built / HEAD_FILE).read_text().replace("links: ", "links: 1"))
    assert subprocess.run(command, cwd=built, capture_output=True).returncode != 0


def test_the_cli_builds_signs_and_verifies(floor_env: dict[str, str], conn: redis.Redis,
                                           event: str, meeting: Meeting, tmp_path: Path) -> None:
    def floor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", *args], env=floor_env,
                              capture_output=True, text=True, timeout=120)

    made = floor("keys", "create", "--dir", str(tmp_path / "k"))
    assert made.returncode == 0, made.stderr
    private = tmp_path / "k" / "record-signing-key.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    assert private.read_text().split("\n")[1] not in made.stdout + made.stderr
    assert floor("keys", "create", "--dir", str(tmp_path / "k")).returncode != 0  # never over
    out = tmp_path / "published"
    done = floor("record", str(out), "--key", str(private))
    assert done.returncode == 0, done.stderr
    checked = floor("record", "verify", str(out))
    assert checked.returncode == 0, checked.stderr
    assert "ok:" in checked.stdout
    lines = _lines(out)
    lines[3] = lines[3].replace(b'"type":"', b'"type":"x', 1)
    _write(out, lines)
    failed = floor("record", "verify", str(out))
    assert failed.returncode == 1 and "entry 4 (log id" in failed.stderr


def test_an_entry_floor_never_writes_is_chained_not_stuck(conn: redis.Redis, event: str) -> None:
    log = Keys(event).log
    conn.xadd(log, {"type": "odd", "qid": "x:1", "qs": "not json {", "queue": "[1,"})
    conn.xadd(log, {"type": "odd", "qid": "x:1", "qs": '[{"no id": "Secret Name"}]'})
    conn.xadd(log, {"type": "odd", "qid": "x:1", "qs": "not json {", "queue": "[1,"})
    ledger = Ledger(conn, event)
    assert ledger.catch_up(batch=1) == 3  # one a batch: each reads the salts before it
    entries = [json.loads(link.entry) for link in ledger.links()]
    assert all(set(e["qs"]) == {"commit"} for e in entries)
    assert "Secret Name" not in json.dumps(entries)
