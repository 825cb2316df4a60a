"""Build the published record from the event's Redis: the ledger caught up, then one pass over
the ledger and the log together (same ids), then the files.

Everything a question shows is its last state in the chain (the fields in clear) and, for the
personal fields the policy publishes, the value from the log entry of that same link with the
salt that proves it. So the record agrees with the chain even while the meeting goes on.

Questions are named by their public ids, as the chain names them
(``aggregator/followers/ledger.py``): never by the platform's post id, which leads to the asker.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jinja2 import Environment, PackageLoader, select_autoescape

from aggregator.base import personal
from aggregator.base.keys import Keys
from aggregator.base.settings import RecordSettings, Settings
from aggregator.core.public_text import Rules, public_text
from aggregator.core.question import PLATFORMS, utc_now
from aggregator.followers.ledger import Head, Ledger, salt_field
from aggregator.followers.record import (
    CHARTS_DIR,
    CSV_FILE,
    HEAD_FILE,
    HEAD_TITLE,
    INDEX_FILE,
    LEDGER_FILE,
    MANIFEST_FILE,
    PUBLIC_KEY_FILE,
    RECORD_FILE,
    SIGNATURE_FILE,
    VERIFY_FILE,
    VERIFY_SCRIPT,
    charts,
    manifest,
)
from aggregator.followers.record.captions import Captions
from aggregator.followers.record.kinds import KINDS, LABELS, QUESTION, acted_on, kind_of
from aggregator.followers.record.recording import Recording, attach
from aggregator.followers.record.signing import fingerprint, load_private, public_pem

CHUNK = 2_000
# What happened to a question, in the record's words (its state at the end).
OUTCOMES = {"answered": "answered", "on_screen": "on screen at the end",
            "approved": "approved, not reached", "held": "held, not reached",
            "new": "not reviewed", "rejected": "rejected", "grouped": "grouped as a duplicate"}
CSV_COLUMNS = ("id", "platform", "received_at", "outcome", "reject_reason", "published", "asker",
               "text", "original", "committed_text", "committed_original", "parent", "asked_by",
               "also_asked_on", "answered_at", "minutes_to_answer", "answer_note", "in_writing",
               "kind", "on_screen_at", "recording", "transcript")
# The /ask form's consent, as web/ask.py stores it in the raw payload.
CONSENT_NAME = "question and name"


@dataclass
class Built:
    folder: Path
    head: Head
    questions: int
    signed_by: str  # the key's fingerprint, "" when unsigned
    listed: int = 0  # the questions the page lists (the other posts it counts by kind)
    linked: int = 0  # answered questions linked to the recording
    transcripts: int = 0  # answered questions with the words spoken beside them
    # What the captions could not place, and why, in the organiser's words.
    unplaced: list[str] = field(default_factory=list)


def publishes_text(policy: RecordSettings, state: str, reason: str) -> bool:
    """Whether the record shows a question's text, or only that it was received (withheld)."""
    if state == "rejected":
        return reason not in policy.withheld_reasons
    if state in ("new", "held"):
        return policy.undecided == "text"
    return True


def platform_name(platform: str) -> str:
    return PLATFORMS.get(platform, platform)


def viewer_on(platform: str) -> str:
    return "someone using the web form" if platform == "web" else \
        f"a viewer on {platform_name(platform)}"


@dataclass
class _Pass:
    """What one pass over the chain learns about each question."""

    committed: dict[str, dict[str, Any]]
    clear: dict[str, dict[str, Any]]
    answered_at: dict[str, str]
    edited: set[str]
    qid: dict[str, str]  # public id -> the question's id in Redis
    # Each time it was on screen: [from, until] ("" until it left).
    screened: dict[str, list[list[str]]] = field(default_factory=dict)
    acted: set[str] = field(default_factory=set)  # a moderator's action named it


def _log_entries(conn: redis.Redis, key: str) -> Iterator[tuple[str, dict[str, str]]]:
    last = "0-0"
    while chunk := conn.xrange(key, min="(" + last, count=CHUNK):
        yield from chunk
        last = chunk[-1][0]


def _walk(conn: redis.Redis, keys: Keys, ledger: Ledger, head: Head, out: Path) -> _Pass:
    seen = _Pass({}, {}, {}, set(), {})
    screened = seen.screened
    entries = _log_entries(conn, keys.log)
    with out.open("w", encoding="utf-8", newline="\n") as lines:
        for link in ledger.links():
            if link.n > head.count:
                break
            lines.write(link.line() + "\n")
            log_id, fields = next(entries)
            if log_id != link.id:
                raise RuntimeError(f"the log and the ledger disagree at {link.id} ({log_id})")
            entry = orjson.loads(link.entry)
            if entry.get("type") == "edit":
                seen.edited.add(entry.get("qid", ""))
            seen.acted.update(acted_on(entry))
            # The chain's questions are the log entry's, in the same order, renamed.
            clear = dict(zip((q["id"] for q in entry.get("qs", [])),
                             orjson.loads(fields.get("qs", "[]")), strict=True))
            for question in entry.get("qs", []):
                qid = question["id"]
                seen.qid[qid] = clear[qid].get("id", "")
                before, state = seen.committed.get(qid, {}).get("state"), question.get("state")
                if state == "answered" and before != "answered":
                    seen.answered_at[qid] = entry.get("at", "")
                if state == "on_screen" and before != "on_screen":
                    screened.setdefault(qid, []).append([entry.get("at", ""), ""])
                elif before == "on_screen" and state != "on_screen" and qid in screened:
                    screened[qid][-1][1] = entry.get("at", "")
                seen.committed[qid] = question
                seen.clear[qid] = clear.get(qid, {})
    return seen


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _consents(conn: redis.Redis, keys: Keys, qids: list[str]) -> set[str]:
    """The /ask askers who agreed to be named (their consent is in the raw payload), by their
    ids in Redis."""
    web = [qid for qid in qids if qid.startswith("web:")]
    pipe = conn.pipeline(transaction=False)
    for qid in web:
        pipe.hget(keys.question(qid), "raw")
    named = set()
    for qid, raw in zip(web, pipe.execute(), strict=True):
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            continue
        if isinstance(payload, dict) and payload.get("consent") == CONSENT_NAME:
            named.add(qid)
    return named


def _questions(conn: redis.Redis, keys: Keys, ledger: Ledger, seen: _Pass,
               settings: Settings) -> list[dict[str, Any]]:
    policy = settings.record
    qids = list(seen.committed)
    consented = _consents(conn, keys, list(seen.qid.values())) \
        if policy.name_askers == "consented" else set()
    rows: list[dict[str, Any]] = []
    for qid in qids:
        chained, clear = seen.committed[qid], seen.clear[qid]
        state = chained.get("state", "")
        publish = publishes_text(policy, state, chained.get("reject_reason", ""))
        row: dict[str, Any] = {name: chained.get(name) for name in
                               ("id", "platform", "state", "reject_reason", "parent", "asked_by",
                                "received_at", "answer_note", "in_writing")}
        row.update(platform_name=platform_name(row["platform"]), outcome=OUTCOMES.get(state, state),
                   published="text" if publish else "fact", text=None, original=None,
                   asker=viewer_on(row["platform"]), answered_at="", minutes_to_answer=None,
                   also_asked_on={}, proofs={}, masked=[], committed={})
        row["written"] = ("" if not row["in_writing"] else
                          "answered" if row["answer_note"] else "awaiting")
        if publish:
            row["text"] = clear.get("text", "")
            if qid in seen.edited:
                row["original"] = clear.get("original", "")
            _mask(row, Rules.of(settings))
        if seen.qid[qid] in consented and clear.get("author_name"):
            row["author_name"] = row["asker"] = clear["author_name"]
        row["kind"] = kind_of(chained, qid in seen.acted)
        row.update(on_screen_at="", off_screen_at="", recording=None, transcript=None)
        if seen.screened.get(qid):
            row["on_screen_at"], row["off_screen_at"] = seen.screened[qid][-1]
        if state == "answered" and qid in seen.answered_at:
            row["answered_at"] = seen.answered_at[qid]
            start, end = _when(row["received_at"] or ""), _when(row["answered_at"])
            if start and end:
                row["minutes_to_answer"] = round((end - start).total_seconds() / 60, 1)
        rows.append(row)
    _prove(ledger, rows, seen.qid)
    children: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        if row["state"] == "grouped" and row["parent"]:
            children[row["parent"]][row["platform_name"]] += 1
    for row in rows:
        row["also_asked_on"] = dict(children.get(row["id"], {}))
    return rows


def _mask(row: dict[str, Any], rules: Rules) -> None:
    """A published text is the public text, as on the board (``aggregator.core.public_text``:
    personal data masked, the event's hashtags left out; the original of an edited question,
    or a question approved before triage reached it, can still hold a phone number).

    A text only the event's hashtags changed keeps its proof: the committed text (public, the
    hashtags being the event's own) is published beside it under ``committed``, and the
    verifiers check the proof against it and that the shown text is it without those hashtags.
    A text masking changed is listed in ``masked`` and gets no proof: the committed text holds
    personal data, so it is not published."""
    for name in ("text", "original"):
        value = row.get(name)
        if not isinstance(value, str) or (shown := public_text(value, rules)) == value:
            continue
        row[name] = shown
        if rules.mask and personal.mask(value) != value:
            row["masked"].append(name)
        else:
            row["committed"][name] = value


def _prove(ledger: Ledger, rows: list[dict[str, Any]], qid_of: dict[str, str]) -> None:
    """Attach the salt of each published personal value, where it still exists (not for a
    masked one: it would not match the ledger's commitment; for a text without the event's
    hashtags, it proves the ``committed`` text beside it)."""
    wanted = [(row, name) for row in rows for name in ("text", "original", "author_name")
              if isinstance(row.get(name), str) and name not in row["masked"]]
    for start in range(0, len(wanted), CHUNK):
        part = wanted[start:start + CHUNK]
        salts = ledger.salts([salt_field(qid_of[row["id"]], name) for row, name in part])
        for row, name in part:
            salt = salts.get(salt_field(qid_of[row["id"]], name))
            if salt:
                row["proofs"][name] = salt


def _csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            line = {**row, "outcome": row["state"],
                    "text": row["text"] or "", "original": row["original"] or "",
                    "committed_text": row["committed"].get("text", ""),
                    "committed_original": row["committed"].get("original", ""),
                    "also_asked_on": "; ".join(f"{p} {n}" for p, n in
                                               sorted(row["also_asked_on"].items())),
                    "minutes_to_answer": "" if row["minutes_to_answer"] is None
                    else row["minutes_to_answer"],
                    "answer_note": row["answer_note"] or "", "in_writing": row["written"],
                    "recording": row["recording"] or "", "transcript": row["transcript"] or ""}
            writer.writerow(line)


@dataclass
class Chart:
    """One SVG and the table of the same numbers, for readers who cannot see the chart."""

    title: str
    svg: str
    head: list[str]
    rows: list[list[Any]]


def _time_bins(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    arrivals = [t for t in (_when(r["received_at"] or "") for r in rows) if t]
    if not arrivals:
        return []
    first, last = min(arrivals), max(arrivals)
    width = max(60.0, (last - first).total_seconds() / 30)  # about 30 bins, a minute at least
    counts = Counter(int((t - first).total_seconds() // width) for t in arrivals)
    return [(datetime.fromtimestamp(first.timestamp() + i * width, first.tzinfo)
             .strftime("%H:%M"), counts.get(i, 0)) for i in range(max(counts) + 1)]


def _wait_bins(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    waits = [r["minutes_to_answer"] for r in rows if r["minutes_to_answer"] is not None]
    if not waits:
        return []
    size = max(1, int(max(waits) // 12) + 1)
    counts = Counter(int(w // size) for w in waits)
    return [(f"{i * size}-{(i + 1) * size} min", counts.get(i, 0))
            for i in range(max(counts) + 1)]


def _charts(rows: list[dict[str, Any]], counted: Counter[str]) -> dict[str, Chart]:
    """File name -> chart: the listed questions', and the other posts' by kind."""
    platforms = sorted({row["platform_name"] for row in rows})
    by_platform = Counter(row["platform_name"] for row in rows)
    order = [o for o in OUTCOMES.values() if any(r["outcome"] == o for r in rows)]
    outcomes = {p: Counter(r["outcome"] for r in rows if r["platform_name"] == p)
                for p in platforms}
    counts = [(p, by_platform[p]) for p in platforms]
    times, waits = _time_bins(rows), _wait_bins(rows)
    titles = ("Questions by platform", "Outcome by platform",
              "Questions arriving over the meeting", "Time from arrival to answer",
              "Other posts, counted but not listed")
    kinds = [(LABELS[name], counted.get(name, 0)) for name in KINDS]
    return {
        "platforms.svg": Chart(titles[0], charts.bars(titles[0], counts),
                               ["Platform", "Questions"], [list(c) for c in counts]),
        "outcomes.svg": Chart(titles[1], charts.stacked(titles[1], [(p, dict(outcomes[p]))
                                                                     for p in platforms], order),
                              ["Platform", *order],
                              [[p, *(outcomes[p].get(o, 0) for o in order)] for p in platforms]),
        "arrivals.svg": Chart(titles[2], charts.histogram(titles[2], times,
                                                          "time of arrival (UTC)"),
                              ["From (UTC)", "Questions"], [list(b) for b in times]),
        "answer-times.svg": Chart(titles[3], charts.histogram(titles[3], waits,
                                                              "minutes from arrival to answer"),
                                  ["Minutes", "Questions answered"], [list(b) for b in waits]),
        "other-posts.svg": Chart(titles[4], charts.bars(titles[4], kinds),
                                 ["Kind of post", "Posts"], [list(k) for k in kinds]),
    }


def _sign(folder: Path, settings: Settings, head: Head, made: str,
          key: Ed25519PrivateKey | None) -> None:
    """Write the public key, the manifest of every file, then ``head.txt``: the ledger's head and
    the manifest's SHA-256, signed by ``key`` as its exact bytes in ``head.sig``. Last, so the
    manifest lists every file the build wrote."""
    (folder / SIGNATURE_FILE).unlink(missing_ok=True)
    if key is None:
        (folder / PUBLIC_KEY_FILE).unlink(missing_ok=True)
    else:
        (folder / PUBLIC_KEY_FILE).write_bytes(public_pem(key.public_key()))
    listed = manifest.write(folder)
    text = (f"{HEAD_TITLE}\nevent: {settings.event.slug}\nlinks: {head.count}\n"
            f"hash: {head.hash}\nlast-entry: {head.last_id}\nmanifest: {listed}\n"
            f"made: {made}\n")
    (folder / HEAD_FILE).write_text(text, encoding="utf-8", newline="\n")
    if key is not None:
        (folder / SIGNATURE_FILE).write_bytes(key.sign(text.encode("utf-8")))


def build(conn: redis.Redis, settings: Settings, folder: Path,
          key_path: Path | None = None, *, recording: Recording | None = None,
          captions: Captions | None = None) -> Built:
    """Write the record of the event into ``folder`` (made if needed; our files replaced), every
    file in it listed in the manifest the head signs: build into a folder of its own.

    With ``recording``, each answered question links to its moment in it; with ``captions``
    too, the words spoken while it was on screen are put beside it."""
    key = load_private(key_path) if key_path is not None else None
    signed_by = fingerprint(key.public_key()) if key is not None else ""
    keys = Keys(settings.event.slug)
    ledger = Ledger(conn, settings.event.slug)
    ledger.catch_up()
    head = ledger.head()
    folder.mkdir(parents=True, exist_ok=True)
    seen = _walk(conn, keys, ledger, head, folder / LEDGER_FILE)
    rows = _questions(conn, keys, ledger, seen, settings)
    unplaced = attach(rows, recording, captions)
    listed = [row for row in rows if row["kind"] == QUESTION]
    counted = Counter(row["kind"] for row in rows if row["kind"] != QUESTION)
    policy = settings.record.model_dump(exclude={"signing_key", "site"})
    made = utc_now()
    watched = None if recording is None else {
        "video": recording.video, "start": recording.start.isoformat().replace("+00:00", "Z"),
        "offset": recording.offset, "lead_in": recording.lead_in}
    transcript = None if captions is None else {
        "file": captions.name, "format": captions.format, "cues": len(captions.cues),
        "unplaced": unplaced}
    record = {"event": settings.event.slug, "title": settings.event.title, "made": made,
              "head": {"links": head.count, "hash": head.hash}, "policy": policy,
              # What the verifiers may find left out of a committed text (folded, no "#").
              "stripped_hashtags": sorted(Rules.of(settings).tags),
              "recording": watched, "transcript": transcript,
              "counted": {name: counted.get(name, 0) for name in KINDS}, "questions": rows}
    # orjson: the standard library's encoder, indented, was a third of the build at 50,000.
    (folder / RECORD_FILE).write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    _csv(rows, folder / CSV_FILE)
    chart_dir = folder / CHARTS_DIR
    shutil.rmtree(chart_dir, ignore_errors=True)
    chart_dir.mkdir()
    drawn = _charts(listed, counted)
    for name, chart in drawn.items():
        (chart_dir / name).write_text(chart.svg, encoding="utf-8")
    env = Environment(loader=PackageLoader("aggregator.followers.record", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    files = dict(csv=CSV_FILE, json=RECORD_FILE, ledger=LEDGER_FILE, head=HEAD_FILE,
                 sig=SIGNATURE_FILE, key=PUBLIC_KEY_FILE, charts=CHARTS_DIR,
                 manifest=MANIFEST_FILE, verify=VERIFY_FILE)
    page = env.get_template("record.html").render(
        title=settings.event.title, made=made, head=head, signed_by=signed_by, rows=listed,
        by_id={row["id"]: row for row in listed}, charts=drawn, received=len(rows),
        counted=[(KINDS[name][counted[name] != 1], counted[name]) for name in KINDS
                 if counted[name]],
        withheld=settings.record.withheld_reasons, files=files, recording=watched,
        transcript=transcript,
        totals=Counter(row["outcome"] for row in listed),
        awaiting=[row for row in listed if row["written"] == "awaiting"])
    (folder / INDEX_FILE).write_text(page, encoding="utf-8")
    checker = env.get_template("verify.html").render(
        title=settings.event.title, made=made, head=head, signed_by=signed_by,
        files={**files, "index": INDEX_FILE, "script": VERIFY_SCRIPT})
    (folder / VERIFY_FILE).write_text(checker, encoding="utf-8")
    (folder / VERIFY_SCRIPT).write_bytes(
        resources.files("aggregator.followers.record").joinpath("static", VERIFY_SCRIPT)
        .read_bytes())
    _sign(folder, settings, head, made, key)
    return Built(folder, head, len(rows), signed_by, len(listed),
                 sum(1 for row in rows if row["recording"]),
                 sum(1 for row in rows if row["transcript"]), unplaced)
