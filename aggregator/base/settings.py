"""The event's settings: ``config/event.toml`` for what is public, the environment for secrets.

Every key is documented in ``config/event.example.toml``. A typo is an error that names the file,
the key and the nearest valid key, never a silently ignored setting.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aggregator.base.environment import read_environment
from aggregator.base.platforms import OPTIONS
from aggregator.base.source_settings import SourceSettings

__all__ = ["ConfigError", "EventSettings", "Settings", "SourceSettings", "TriageSettings", "load"]

DEFAULT_CONFIG = Path("config/event.toml")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ITEM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_MEMBER = 60


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventSettings(_Section):
    slug: str = "rehearsal"
    title: str = "Annual Public Meeting"
    hashtags: list[str] = Field(default_factory=lambda: ["#APM2026"])

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("use lower-case letters, digits and dashes, e.g. 'apm-2026'")
        return value

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return ["#" + tag.lstrip("#") for tag in value if tag.strip("# ")]


class ScreenSettings(_Section):
    youtube_video_id: str = ""
    anonymise: bool = False
    queue_length: int = Field(default=3, ge=0, le=10)
    strip_hashtags: bool = True
    board_max_chars: int = Field(default=280, ge=40, le=10_000)
    ask_url: str = ""

    @field_validator("ask_url")
    @classmethod
    def _ask_url(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(r"^https?://[^\s/?#]+(/[^\s]*)?$", value) \
                or len(value) > 200:
            raise ValueError("the question form's public address, such as "
                             "'https://floor.example.org/ask' (or empty)")
        return value


class ModerationSettings(_Section):
    reject_reasons: list[str] = Field(default_factory=lambda: [
        "off topic", "duplicate", "abusive", "personal case to follow up privately",
        "already answered"])


class AgendaItemSettings(_Section):
    id: str
    title: str = Field(min_length=1, max_length=80)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ITEM_ID.match(value):
            raise ValueError("use lower-case letters, digits and dashes, e.g. 'finance'")
        return value


class AgendaSettings(_Section):
    items: list[AgendaItemSettings] = Field(default_factory=list)

    @field_validator("items")
    @classmethod
    def _unique(cls, value: list[AgendaItemSettings]) -> list[AgendaItemSettings]:
        ids = [item.id for item in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"agenda item ids must differ: {', '.join(twice)} appear twice")
        return value


class ChairSettings(_Section):
    # Seconds a question may stay on screen before the timer turns amber; 0: no limit.
    soft_limit_seconds: int = Field(default=0, ge=0, le=3600)
    # Who at the top table a question can be directed to ("for the Chief Executive").
    board_members: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("board_members")
    @classmethod
    def _members(cls, value: list[str]) -> list[str]:
        names = [" ".join(name.split()) for name in value]
        if any(not name or len(name) > MAX_MEMBER for name in names):
            raise ValueError(f"each board member is a name of 1 to {MAX_MEMBER} characters")
        return list(dict.fromkeys(names))


class RetentionSettings(_Section):
    purge_after_days: int = Field(default=90, ge=1)
    # The meeting's day (YYYY-MM-DD); empty: the day of the log's last entry.
    meeting_date: str = ""
    # true: the ledger process (`floor ledger`, started by `floor run`) purges on its own once a
    # day after the due date.
    automatic: bool = True

    @field_validator("meeting_date")
    @classmethod
    def _date(cls, value: str) -> str:
        if value:
            try:
                date.fromisoformat(value)
            except ValueError as exc:
                raise ValueError("write the date as YYYY-MM-DD, e.g. '2026-05-14'") from exc
        return value


class RecordSettings(_Section):
    # Questions rejected for these reasons are published as a fact only (the reason, the
    # platform, the time), never their text; their original text is purged with the names.
    withheld_reasons: list[str] = Field(default_factory=lambda: [
        "abusive", "personal case to follow up privately", "deleted by its author",
        "its author was banned from the chat"])
    # Questions no moderator decided on (still new, or held): "text" or "fact".
    undecided: Literal["text", "fact"] = "fact"
    # "consented": name only /ask askers who agreed to be named; "nobody": name no one.
    name_askers: Literal["consented", "nobody"] = "consented"
    # The Ed25519 private key that signs the record's head (`floor keys create`); empty: pass
    # --key to `floor record`.
    signing_key: str = ""
    # The recording the record links each answer to: a YouTube video id or link; empty: the
    # YouTube source's video_id, else [screen] youtube_video_id.
    video: str = ""
    # When the recording's second 0 was, ISO 8601 UTC; empty: ask YouTube for the broadcast's
    # actual start time (liveStreamingDetails.actualStartTime).
    recording_start: str = ""
    # Seconds added to every moment in the recording: negative when its start was trimmed off.
    recording_offset: float = 0.0
    # Seconds of lead-in before the moment a question went on screen.
    lead_in: float = Field(default=5.0, ge=0)
    # A site folder that keeps every meeting's record (`floor record --site`); empty: none.
    site: str = ""


class TriageSettings(_Section):
    enabled: bool = True
    mask_personal: bool = True
    abuse_words: list[str] = Field(default_factory=list)
    question_threshold: float = Field(default=0.5, ge=0, le=1)
    # "lexical" (letters and words, the default) or "semantic" (adds sentence embeddings: finds
    # paraphrases; needs the [semantic] extra, and loads its model when the worker starts).
    backend: Literal["lexical", "semantic"] = "lexical"
    # Probability (0 to 1) at or above which a repeat is suggested; 0: the backend's own,
    # chosen with its fitted weights (aggregator/followers/triage/pairs.py).
    duplicate_threshold: float = Field(default=0.0, ge=0, le=1)


class Settings(_Section):
    event: EventSettings = Field(default_factory=EventSettings)
    screen: ScreenSettings = Field(default_factory=ScreenSettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    chair: ChairSettings = Field(default_factory=ChairSettings)
    agenda: AgendaSettings = Field(default_factory=AgendaSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    record: RecordSettings = Field(default_factory=RecordSettings)
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    path: str = ""

    def source(self, name: str) -> SourceSettings:
        """The raw settings of one source; the source validates them with its own model."""
        return self.sources.get(name) or SourceSettings()

    def enabled_sources(self) -> list[str]:
        return [name for name, options in self.sources.items() if options.enabled]

    @model_validator(mode="after")
    def _hashtags_for_sources(self) -> Settings:
        """An enabled source that searches or filters by hashtag needs some: X with none would
        search (and bill) every post on X."""
        problems = []
        for name in self.enabled_sources():
            model = OPTIONS.get(name)
            if model is None:
                continue
            try:
                options = model.model_validate(self.sources[name].model_dump(exclude_unset=True))
            except ValidationError:
                continue  # load() names these, key by key
            problem = options.hashtag_problem(self.event.hashtags)
            if problem:
                problems.append(f"[sources.{name}]: {problem}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ConfigError(Exception):
    """Bad settings; the message says where and what, one problem a line."""


def _valid_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return list(model.model_fields)


def _explain(error: ValidationError, path: str, model: type[BaseModel] = Settings,
             prefix: str = "") -> str:
    lines = []
    for problem in error.errors():
        loc = tuple(problem["loc"])
        where = prefix + ".".join(str(p) for p in loc)
        if not loc:  # a rule across sections
            lines.append(f"{path}: {problem['msg'].removeprefix('Value error, ')}")
        elif problem["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _valid_keys(model, loc), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"{path}: unknown setting '{where}'{hint}")
        else:
            lines.append(f"{path}: '{where}': {problem['msg']} (got {problem.get('input')!r})")
    return "\n".join(lines)


def load(path: Path | str | None = None) -> Settings:
    """Read the settings file. A missing default file means the built-in rehearsal defaults;
    a missing file that was asked for by name is an error."""
    named = path or read_environment().config
    config_path = Path(named or DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from exc
    elif named:
        raise ConfigError(f"{config_path}: no such file (copy config/event.example.toml)")
    problems = _source_problems(data.get("sources"), str(config_path))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems.insert(0, _explain(exc, str(config_path)))
    if problems:
        raise ConfigError("\n".join(problems))
    settings.path = str(config_path) if config_path.exists() else ""
    return settings


def _source_problems(sources: Any, path: str) -> list[str]:
    """Each [sources.NAME] checked against that source's own settings model."""
    if not isinstance(sources, dict):
        return []
    known = OPTIONS
    problems = []
    for name, options in sources.items():
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{path}: unknown source '[sources.{name}]'{hint}; "
                            f"known: {', '.join(sorted(known))}")
            continue
        model = known[name]
        try:
            model.model_validate(options)
        except ValidationError as exc:
            problems.append(_explain(exc, path, model, prefix=f"sources.{name}."))
    return problems
