"""Check a published record: the chain, the signed head, a noted head, that the questions the
record publishes are the ones the chain holds, as the chain holds them, and that every file in
the folder is the one the signed manifest lists.

The first problem found is named, with its file: in the ledger, the link's position and log id,
so a reader can point at it (a changed byte breaks that link's hash, a removed or reordered link
breaks the next one's); in the manifest, every file that differs and how.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.core.normalise import fold
from aggregator.followers.ledger import GENESIS, PUBLIC_ID, canonical, commitment, link_hash
from aggregator.followers.record import (
    CSV_FILE,
    HEAD_FILE,
    HEAD_TITLE,
    LEDGER_FILE,
    MANIFEST_FILE,
    PUBLIC_KEY_FILE,
    RECORD_FILE,
    SIGNATURE_FILE,
    manifest,
)
from aggregator.followers.record.kinds import acted_on, kind_of
from aggregator.followers.record.signing import SigningKeyError, fingerprint, is_valid, load_public

# Fields of a published question that must equal the chain's last state of that question (and
# its ``kind``, from the chain: aggregator/followers/record/kinds.py).
CLEAR_FIELDS = ("platform", "state", "reject_reason", "parent", "asked_by", "received_at",
                "answer_note", "in_writing")
# A hashtag, and the whitespace a shown text may differ by (as verify.js reads them).
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([,.;:!?\u061f\u060c])")


def _tidy(text: str) -> str:
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", text)).strip()


def only_hashtags_left_out(committed: str, shown: str, tags: frozenset[str]) -> bool:
    """Whether ``shown`` is ``committed`` with only the hashtags ``tags`` (folded, without "#")
    and whitespace taken out: the board's public text of a text that holds no personal data."""
    kept = _HASHTAG.sub(lambda m: "" if fold(m[1]) in tags else m[0], committed)
    return _tidy(kept) == _tidy(shown)


class VerifyFailed(Exception):
    """The record does not check out; the message names the first thing that failed."""


@dataclass
class Verified:
    count: int
    hash: str
    questions: int
    key_fingerprint: str
    files: int


def parse_head(text: str) -> tuple[int, str]:
    """COUNT:HASH as a reader noted it from the live page or the console."""
    count, _, digest = text.strip().partition(":")
    if not count.isdigit() or len(digest) != 64:
        raise VerifyFailed(f"a head is COUNT:HASH (64 hex digits), not {text!r}")
    return int(count), digest.lower()


def read_head_file(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise VerifyFailed(f"{path.name}: cannot read it: {exc}") from exc
    if not lines or lines[0] != HEAD_TITLE:
        raise VerifyFailed(f"{path.name}: not a Floor ledger head")
    values = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    for needed in ("event", "links", "hash", "manifest"):
        if needed not in values:
            raise VerifyFailed(f"{path.name}: no '{needed}:' line")
    return values


def check_chain(folder: Path, noted: tuple[int, str] | None = None,
                acted: set[str] | None = None) -> tuple[int, str, dict[str, dict[str, Any]]]:
    """Walk ledger.jsonl; returns (count, head hash, each question's last committed state), and
    adds to ``acted`` each question a moderator acted on."""
    previous, count, last_id = GENESIS, 0, (0, -1)
    last: dict[str, dict[str, Any]] = {}
    noted_seen = noted is None or noted[0] == 0
    try:
        lines = (folder / LEDGER_FILE).open("rb")
    except OSError as exc:
        raise VerifyFailed(f"{LEDGER_FILE}: cannot read it: {exc}") from exc
    with lines:
        for number, raw in enumerate(lines, start=1):
            where = f"{LEDGER_FILE}: entry {number}"
            try:
                line = json.loads(raw)
                link_id, n, digest, entry = line["id"], line["n"], line["hash"], line["entry"]
            except (ValueError, KeyError, TypeError) as exc:
                raise VerifyFailed(f"{where}: not a ledger link ({exc})") from exc
            where = f"{LEDGER_FILE}: entry {number} (log id {link_id})"
            if canonical(line) + b"\n" != raw:
                raise VerifyFailed(f"{where}: changed (its line is not as it was written)")
            if n != number:
                raise VerifyFailed(f"{where}: says it is link {n}: a link before it was removed "
                                   "or moved")
            if not isinstance(entry, dict) or entry.get("id") != link_id:
                raise VerifyFailed(f"{where}: its entry does not carry its own id")
            if link_hash(previous, canonical(entry)) != digest:
                raise VerifyFailed(f"{where}: its hash does not match its content and the link "
                                   "before it (changed, removed or reordered here)")
            order = _id_order(link_id)
            if order is None or order <= last_id:
                raise VerifyFailed(f"{where}: out of order")
            previous, count, last_id = digest, number, order
            if noted and number == noted[0]:
                if digest != noted[1]:
                    raise VerifyFailed(f"the noted head {noted[0]}:{noted[1]} is not in this "
                                       f"record: link {number} has hash {digest}")
                noted_seen = True
            for question in entry.get("qs", []):
                last[question["id"]] = question
            if acted is not None:
                acted.update(acted_on(entry))
    if not noted_seen and noted is not None:
        raise VerifyFailed(f"the noted head {noted[0]}:{noted[1]} is not in this record: it has "
                           f"only {count} links")
    return count, previous, last


def _id_order(link_id: Any) -> tuple[int, int] | None:
    if not isinstance(link_id, str):
        return None
    ms, _, seq = link_id.partition("-")
    return (int(ms), int(seq)) if ms.isdigit() and seq.isdigit() else None


def check_signature(folder: Path, head: dict[str, str], count: int, digest: str,
                    public_key: Path | None) -> str:
    """The head file's chain is the ledger's and it is signed by ``public_key`` (default: the
    folder's); returns the key's fingerprint."""
    if head["links"].isdigit() and int(head["links"]) > count:
        raise VerifyFailed(f"{LEDGER_FILE}: entry {count + 1}: missing (the signed head has "
                           f"{head['links']} entries, {LEDGER_FILE} ends at {count})")
    if head["links"] != str(count) or head["hash"] != digest:
        raise VerifyFailed(f"{HEAD_FILE} says {head['links']}:{head['hash']}, the ledger ends "
                           f"at {count}:{digest}")
    key_path = public_key or folder / PUBLIC_KEY_FILE
    try:
        key = load_public(key_path.read_bytes(), str(key_path))
        signature = (folder / SIGNATURE_FILE).read_bytes()
    except OSError as exc:
        raise VerifyFailed(f"the head is not signed: {exc}") from exc
    except SigningKeyError as exc:
        raise VerifyFailed(str(exc)) from exc
    if not is_valid(key, (folder / HEAD_FILE).read_bytes(), signature):
        raise VerifyFailed(f"{SIGNATURE_FILE}: not a valid signature of {HEAD_FILE} by the key "
                           f"{public_key or PUBLIC_KEY_FILE}, fingerprint {fingerprint(key)}")
    return fingerprint(key)


def check_questions(folder: Path, last: dict[str, dict[str, Any]],
                    acted: set[str] | None = None) -> int:
    """Every question in the chain is published, as the chain last holds it; with ``acted``,
    each is listed or counted by the kind the chain gives it."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        questions = record["questions"]
        tags = frozenset(fold(str(tag)) for tag in record.get("stripped_hashtags") or [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VerifyFailed(f"{RECORD_FILE}: cannot read it: {exc}") from exc
    published = {q["id"]: q for q in questions}
    for qid in published:
        if not isinstance(qid, str) or not PUBLIC_ID.match(qid):
            raise VerifyFailed(f"{RECORD_FILE}: question {qid!r} is not named by a public id "
                               "(a platform's post id must not be published)")
    missing = [qid for qid in last if qid not in published]
    if missing:
        raise VerifyFailed(f"{RECORD_FILE}: {len(missing)} question(s) of the ledger are not "
                           f"published, the first {missing[0]}")
    for qid, question in published.items():
        chained = last.get(qid)
        if chained is None:
            raise VerifyFailed(f"{RECORD_FILE}: question {qid} is not in the ledger")
        for name in CLEAR_FIELDS:
            if question.get(name) != chained.get(name):
                raise VerifyFailed(f"{RECORD_FILE}: question {qid}: {name} is "
                                   f"{question.get(name)!r}, the ledger says "
                                   f"{chained.get(name)!r}")
        if acted is not None and "kind" in question and \
                question["kind"] != (kind := kind_of(chained, qid in acted)):
            raise VerifyFailed(f"{RECORD_FILE}: question {qid}: kind is "
                               f"{question['kind']!r}, the ledger makes it {kind!r}")
        committed = question.get("committed") or {}
        if not isinstance(committed, dict):
            raise VerifyFailed(f"{RECORD_FILE}: question {qid}: committed is not a mapping")
        for name, value in committed.items():
            shown = question.get(name)
            if not isinstance(value, str) or not isinstance(shown, str) or \
                    not only_hashtags_left_out(value, shown, tags):
                raise VerifyFailed(f"{RECORD_FILE}: question {qid}: the shown {name} is not the "
                                   f"committed {name} with only the event's hashtags left out")
        for name, salt in question.get("proofs", {}).items():
            value, commit = committed.get(name, question.get(name)), \
                chained.get(name, {}).get("commit")
            if not isinstance(value, str) or commitment(salt, value) != commit:
                raise VerifyFailed(f"{RECORD_FILE}: question {qid}: the published {name} is "
                                   "not the one the ledger committed to")
    _check_csv(folder, published)
    return len(published)


def _check_csv(folder: Path, published: dict[str, dict[str, Any]]) -> None:
    try:
        with (folder / CSV_FILE).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise VerifyFailed(f"{CSV_FILE}: cannot read it: {exc}") from exc
    if [row.get("id") for row in rows] != list(published):
        raise VerifyFailed(f"{CSV_FILE}: its questions are not those of {RECORD_FILE}")
    for row in rows:
        question = published[row["id"]]
        committed = question.get("committed") or {}
        for column, value in (("text", question.get("text")),
                              ("committed_text", committed.get("text")),
                              ("committed_original", committed.get("original"))):
            if row.get(column, "") != (value or ""):
                raise VerifyFailed(f"{CSV_FILE}: question {row['id']}: its {column} differs "
                                   f"from {RECORD_FILE}")


def check_files(folder: Path, signed_manifest: str) -> int:
    """Every file in the folder is the one the manifest lists, and the manifest is the one the
    head signs (``signed_manifest``: its SHA-256); returns how many files it lists."""
    try:
        data = (folder / MANIFEST_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise VerifyFailed(f"{MANIFEST_FILE}: missing ({HEAD_FILE} signs its SHA-256)") from exc
    except OSError as exc:
        raise VerifyFailed(f"{MANIFEST_FILE}: cannot read it: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != signed_manifest:
        raise VerifyFailed(f"{MANIFEST_FILE}: changed (its SHA-256 is not the one {HEAD_FILE} "
                           "signs)")
    try:
        listed = manifest.parse(data)
    except ValueError as exc:
        raise VerifyFailed(f"{MANIFEST_FILE}: {exc}") from exc
    if found := manifest.differences(folder, listed):
        raise VerifyFailed("; ".join(found))
    return len(listed)


def verify(folder: Path, head: str | None = None, public_key: Path | None = None) -> Verified:
    """Check the record in ``folder``; raises VerifyFailed naming the first problem.

    The questions are checked before the files: a value that differs from the chain is named
    with its question and field, which says more than "record.json: changed"."""
    noted = parse_head(head) if head else None
    acted: set[str] = set()
    count, digest, last = check_chain(folder, noted, acted)
    head_file = read_head_file(folder / HEAD_FILE)
    key = check_signature(folder, head_file, count, digest, public_key)
    questions = check_questions(folder, last, acted)
    files = check_files(folder, head_file["manifest"])
    return Verified(count, digest, questions, key, files)
