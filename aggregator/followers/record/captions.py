"""The meeting's caption file (WebVTT or SRT) and the words spoken while each question was on
screen, for the record to show beside it as a transcript.

Each cue is parsed by webvtt-py or srt on its own, so one garbled cue is named (by its line in
the file) and skipped, never the file refused or the build stopped. A cue is placed with the
question that was on screen at its middle; cues that overlap the one before are placed the same
way (and counted); YouTube's automatic captions repeat each line in the next cue, so a line
equal to the one before it is not repeated in an excerpt.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import srt
import webvtt
from webvtt.models import Timestamp

TAG = re.compile(r"<[^>]*>")
# An excerpt longer than this is cut (at a word) with an ellipsis: the record is not the
# transcript, the caption file is.
MAX_EXCERPT = 1_500


class CaptionsError(Exception):
    """A file that is no caption file at all; the message says why."""


@dataclass(frozen=True)
class Cue:
    start: float  # seconds into the recording
    end: float
    text: str
    line: int  # where it starts in the file, for the problems' words


@dataclass
class Captions:
    name: str
    format: str  # "WebVTT" or "SRT"
    cues: list[Cue] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _seconds(stamp: Timestamp) -> float:
    return stamp.hours * 3600 + stamp.minutes * 60 + stamp.seconds + stamp.milliseconds / 1000


def _clean(text: str) -> str:
    lines = (" ".join(html.unescape(TAG.sub("", line)).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _vtt_cue(block: str) -> tuple[float, float, str] | None:
    try:
        parsed = webvtt.from_string("WEBVTT\n\n" + block).captions
    except Exception:  # noqa: BLE001 - the library's own errors vary by version; any is garbled
        return None
    if len(parsed) != 1:
        return None
    cue = parsed[0]
    return _seconds(cue.start_time), _seconds(cue.end_time), cue.text


def _srt_cue(block: str) -> tuple[float, float, str] | None:
    try:
        parsed = list(srt.parse(block + "\n"))
    except (srt.SRTParseError, ValueError):
        return None
    if len(parsed) != 1:
        return None
    cue = parsed[0]
    return cue.start.total_seconds(), cue.end.total_seconds(), cue.content


def _blocks(text: str, strict: bool) -> list[tuple[int, str]]:
    """The file's blocks, each with the number of its first line. ``strict`` (WebVTT): only an
    empty line ends a block, as the format says (YouTube's automatic captions have lines of one
    space inside their cues); else (SRT) a line of spaces does too."""
    blocks: list[tuple[int, str]] = []
    lines: list[str] = []
    for number, line in enumerate([*text.split("\n"), ""], start=1):
        if line if strict else line.strip():
            lines.append(line)
        elif lines:
            blocks.append((number - len(lines), "\n".join(lines)))
            lines = []
    return blocks


def parse(text: str, name: str = "captions") -> Captions:
    """The cues of a WebVTT or SRT text, and what could not be read of it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if text.startswith("WEBVTT"):
        captions, reader = Captions(name, "WebVTT"), _vtt_cue
    elif "-->" in text:
        captions, reader = Captions(name, "SRT"), _srt_cue
    else:
        raise CaptionsError(f"{name}: not a WebVTT or SRT caption file (no cue times in it)")
    for first, block in _blocks(text, strict=captions.format == "WebVTT"):
        if "-->" in block:
            cue = reader(block)
            if cue is None:
                captions.problems.append(f"line {first}: a cue that cannot be read (skipped)")
            elif cue[1] < cue[0]:
                captions.problems.append(f"line {first}: a cue that ends before it starts "
                                         "(skipped)")
            elif words := _clean(cue[2]):
                captions.cues.append(Cue(cue[0], cue[1], words, first))
        elif not (captions.format == "WebVTT" and
                  block.startswith(("WEBVTT", "NOTE", "STYLE", "REGION"))):
            captions.problems.append(f"line {first}: text that is not a cue (skipped)")
    if not captions.cues:
        raise CaptionsError(f"{name}: no cue in it could be read")
    captions.cues.sort(key=lambda cue: (cue.start, cue.line))
    overlapping = sum(1 for before, cue in zip(captions.cues, captions.cues[1:], strict=False)
                      if cue.start < before.end)
    if overlapping:
        captions.problems.append(f"{overlapping} cue(s) overlap the one before; each is placed "
                                 "by its middle")
    return captions


def read(path: Path) -> Captions:
    """The caption file at ``path``; CaptionsError when it cannot be read as one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaptionsError(f"cannot read {path}: {exc}") from exc
    try:
        text, bad = data.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
    captions = parse(text, path.name)
    if bad:
        captions.problems.insert(0, f"not all UTF-8: {bad} character(s) shown as \ufffd")
    return captions


def _joined(lines: list[str]) -> str:
    words: list[str] = []
    for line in lines:
        if not words or words[-1] != line:
            words.append(line)
    text = " ".join(words)
    if len(text) > MAX_EXCERPT:
        text = text[:MAX_EXCERPT].rsplit(" ", 1)[0] + " …"
    return text


def place(captions: Captions, spans: dict[str, tuple[float, float]]) -> dict[str, str]:
    """The words spoken during each span (seconds into the recording), by its key; a span in
    which no cue falls has no entry."""
    found: dict[str, list[str]] = {}
    ordered = sorted(spans.items(), key=lambda item: item[1])
    for cue in captions.cues:
        middle = (cue.start + cue.end) / 2
        for key, (start, end) in ordered:
            if start <= middle < end:
                found.setdefault(key, []).extend(cue.text.split("\n"))
                break
    return {key: _joined(lines) for key, lines in found.items()}
