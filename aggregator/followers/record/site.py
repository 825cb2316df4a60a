"""A site folder that keeps every meeting's record: one folder per meeting, named by its event
slug (each a whole record, with its own manifest and signed head), and an ``index.html`` of them
all, newest first, so the public has one address for every meeting.

The index is made from what each record folder holds (``record.json``, ``head.txt``, the public
key), so a record built elsewhere and copied in is listed too. The index itself is signed by no
one: each row names its record's head and key fingerprint, which the record's own
``verify.html`` checks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from aggregator.followers.record import (
    HEAD_FILE,
    INDEX_FILE,
    PUBLIC_KEY_FILE,
    RECORD_FILE,
    VERIFY_FILE,
)
from aggregator.followers.record.signing import SigningKeyError, fingerprint, load_public
from aggregator.followers.record.verify import VerifyFailed, read_head_file

SITE_JSON = "meetings.json"


@dataclass
class Meeting:
    folder: str  # the record's folder, relative to the site
    title: str
    date: str  # YYYY-MM-DD: the day its first post arrived (else the day it was made)
    made: str
    posts: int
    questions: int  # listed as questions
    answered: int
    head: str  # COUNT:HASH, as the signed head says
    key: str  # the signing key's fingerprint; "" when the record is not signed


def _meeting(folder: Path, site: Path) -> Meeting | None:
    """What the index says of the record in ``folder``; None when it holds no record."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        head = read_head_file(folder / HEAD_FILE)
    except (OSError, ValueError, VerifyFailed):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("questions"), list):
        return None
    questions = [q for q in record["questions"] if isinstance(q, dict)]
    listed = [q for q in questions if q.get("kind", "question") == "question"]
    arrived = sorted(str(q.get("received_at") or "") for q in questions if q.get("received_at"))
    made = str(record.get("made") or "")
    key = ""
    try:
        key = fingerprint(load_public((folder / PUBLIC_KEY_FILE).read_bytes(), PUBLIC_KEY_FILE))
    except (OSError, SigningKeyError):
        pass
    return Meeting(folder.relative_to(site).as_posix(), str(record.get("title") or folder.name),
                   (arrived[0] if arrived else made)[:10], made, len(questions), len(listed),
                   sum(1 for q in listed if q.get("state") == "answered"),
                   f"{head['links']}:{head['hash']}", key)


def meetings(site: Path) -> list[Meeting]:
    """Every record in the site's folders, newest meeting first."""
    found = [m for path in sorted(site.iterdir()) if path.is_dir()
             if (m := _meeting(path, site)) is not None]
    return sorted(found, key=lambda m: (m.date, m.made), reverse=True)


def publish(site: Path) -> Path:
    """Write the site's ``index.html`` (and ``meetings.json``) of every record in it."""
    site.mkdir(parents=True, exist_ok=True)
    listed = meetings(site)
    env = Environment(loader=PackageLoader("aggregator.followers.record", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    page = env.get_template("site.html").render(meetings=listed, index=INDEX_FILE,
                                                verify=VERIFY_FILE, data=SITE_JSON)
    (site / INDEX_FILE).write_text(page, encoding="utf-8")
    (site / SITE_JSON).write_text(json.dumps([asdict(m) for m in listed], ensure_ascii=False,
                                             indent=1), encoding="utf-8")
    return site / INDEX_FILE
