"""The meeting's recording on YouTube: when its second 0 was, a link to any moment in it, and
each answered question's link and the caption words spoken while it was on screen.

The moment a question went on screen is in the chain (a UTC time); its place in the recording is
that time less the broadcast's actual start (the Data API's ``liveStreamingDetails.
actualStartTime``, read through google-api-python-client as the YouTube source reads it), plus
``[record] recording_offset`` for a recording trimmed or started apart from the broadcast. A
link starts ``[record] lead_in`` seconds before, so the reader hears the question put.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aggregator.base.settings import Settings
from aggregator.base.source_settings import VIDEO_ID, VIDEO_IN_URL, SourceSettings
from aggregator.followers.record.captions import Captions, place

WATCH = "https://www.youtube.com/watch?v={video}&t={seconds}s"


class NoRecording(Exception):
    """No links can be made; the message says why in the organiser's words."""


@dataclass(frozen=True)
class Recording:
    video: str
    start: datetime  # second 0 of the recording, less the offset
    offset: float = 0.0
    lead_in: float = 5.0

    def position(self, moment: datetime) -> float:
        """Seconds into the recording at the UTC ``moment`` (negative: before it starts)."""
        return (moment - self.start).total_seconds() + self.offset

    def moment(self, position: float) -> datetime:
        """The UTC time that ``position`` seconds into the recording shows."""
        return self.start + timedelta(seconds=position - self.offset)

    def link(self, moment: datetime) -> str | None:
        """The recording at ``moment``, less the lead-in; None when that is before it starts
        (nothing of it was recorded)."""
        seconds = self.position(moment)
        if seconds < 0:
            return None
        return WATCH.format(video=self.video, seconds=int(max(0.0, seconds - self.lead_in)))


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time with its zone (``Z`` too); None when it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def video_id(text: str) -> str:
    """The 11-character id in a video id or any YouTube link; "" when there is none."""
    text = text.strip()
    found = VIDEO_IN_URL.search(text)
    video = found.group(1) if found else text
    return video if VIDEO_ID.match(video) else ""


def video_of(settings: Settings) -> str:
    """The recording's video: ``[record] video``, else the YouTube source's, else the board's."""
    youtube = settings.sources.get("youtube")
    for candidate in (settings.record.video,
                      str(youtube.model_dump().get("video_id") or "") if youtube else "",
                      settings.screen.youtube_video_id):
        if candidate.strip():
            return video_id(candidate)
    return ""


def actual_start(settings: Settings, video: str, http: Any = None) -> datetime:
    """The broadcast's actual start, from YouTube; NoRecording says why it cannot be had.
    ``http`` replaces the client's transport (tests: an httplib2 mock)."""
    from aggregator.ingest.sources import SourceError
    from aggregator.ingest.sources.youtube import VIDEO_COST, YouTubeSource

    source = YouTubeSource(SourceSettings.model_validate({"video_id": video}), settings.event,
                           http=http)
    try:
        reply = source.call(source.connect().videos().list(part="liveStreamingDetails",
                                                           id=video), VIDEO_COST)
    except SourceError as exc:
        raise NoRecording(f"cannot read video {video}'s start time from YouTube: {exc}") from exc
    items = reply.get("items")
    item = items[0] if isinstance(items, list) and items else None
    if not isinstance(item, dict):
        raise NoRecording(f"YouTube has no video {video}")
    details = item.get("liveStreamingDetails")
    started = details.get("actualStartTime") if isinstance(details, dict) else None
    moment = parse_time(started) if isinstance(started, str) else None
    if moment is None:
        raise NoRecording(f"YouTube gives no actual start time for video {video} (not a live "
                          "broadcast, or it has not started)")
    return moment


def find(settings: Settings, http: Any = None) -> Recording:
    """The recording the record links to, from the settings and YouTube; NoRecording says why
    there is none."""
    policy = settings.record
    video = video_of(settings)
    if not video:
        raise NoRecording("no video: set [record] video to the recording's YouTube link")
    if policy.recording_start.strip():
        start = parse_time(policy.recording_start)
        if start is None:
            raise NoRecording(f"[record] recording_start {policy.recording_start!r} is not an "
                              "ISO 8601 time with its zone (e.g. 2026-05-14T09:55:00Z)")
    else:
        start = actual_start(settings, video, http)
    return Recording(video, start, policy.recording_offset, policy.lead_in)


def clock(seconds: float) -> str:
    """A place in the recording as a reader sees it on YouTube: 1:02:03, or 2:03."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def attach(rows: list[dict[str, Any]], recording: Recording | None,
           captions: Captions | None) -> list[str]:
    """Link each answered question to the moment it went on screen in the recording and put
    beside it the words spoken while it was there (the record's rows, as ``build`` makes them:
    ``state``, ``on_screen_at``, ``off_screen_at``, ``answered_at``); returns what could not be
    placed."""
    early: list[str] = []  # about the links
    unplaced: list[str] = []  # about the words
    spans: dict[str, tuple[float, float]] = {}
    by_id = {row["id"]: row for row in rows}
    for row in rows:
        start = parse_time(row["on_screen_at"]) or parse_time(row["answered_at"])
        if row["state"] != "answered" or recording is None or start is None:
            continue
        row["recording"] = recording.link(start)
        row["recording_at"] = clock(recording.position(start))
        end = parse_time(row["off_screen_at"]) if row["on_screen_at"] else None
        if row["recording"] is None:
            early.append(f"{row['id']}: on screen before the recording starts: no link")
        elif end is None:
            unplaced.append(f"{row['id']}: answered without being on screen: no words placed "
                            "with it")
        else:
            spans[row["id"]] = (recording.position(start), recording.position(end))
    if captions is None:
        return early
    if recording is None:
        return ["the captions cannot be placed: the recording's start time is not known"]
    words = place(captions, spans)
    for qid, (start_s, end_s) in spans.items():
        if qid in words:
            by_id[qid]["transcript"] = words[qid]
        else:
            unplaced.append(f"{qid}: no caption while it was on screen ({clock(start_s)} to "
                            f"{clock(end_s)} in the recording)")
    return [*early, *captions.problems, *unplaced]
