"""Sources: one module per platform, each a small class behind the same interface.

A source reads raw items since a checkpoint (``fetch``) and turns one raw item into a Post
(``parse``). The poller does the rest: normalising, dead letters, storing, checkpoints, health.
Every module in this package is imported by ``registry()``, and every Source subclass is
registered under its name, which comes with its ``platform``: its row in the catalogue
(``aggregator/base/platforms.py``), with its settings model. A concrete source with neither a row
nor a name fails at import.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from aggregator.base.platforms import Platform
from aggregator.base.settings import EventSettings
from aggregator.base.source_settings import SourceSettings
from aggregator.core.question import Post


class SourceError(Exception):
    """A failure worth retrying with backoff (network, 5xx, malformed page)."""


class RateLimited(SourceError):
    """The platform said "not before ``until``" (Unix seconds)."""

    def __init__(self, until: float, detail: str = "rate limited") -> None:
        super().__init__(detail)
        self.until = until


class SourceStopped(SourceError):
    """Needs a person: expired token, missing permission, wrong tier. Said once, retried slowly."""


@dataclass
class Ban:
    """The platform banned an author (``handle``, as the source's Posts name authors) on
    ``platform``: their open questions are retracted, or flagged "author_banned"."""

    platform: str
    handle: str
    retract: bool = False


@dataclass
class Batch:
    """What one fetch read. ``checkpoint`` is stored with the batch, atomically; None keeps the
    old one. ``retracted`` names question ids whose posts the author deleted; ``bans`` authors
    the platform banned. ``health`` adds source-specific fields to the health record (e.g.
    backend, spend_usd, detail; a None value clears one); the poller's own fields (state,
    last_error, ...) take precedence. ``ended`` says, in plain words, that the source has
    nothing more to read (a chat that ended): the batch is stored, then the source is shown
    stopped with that message."""

    items: list[Any]
    checkpoint: str | None
    retracted: list[str] = field(default_factory=list)
    next_poll_in: float | None = None
    health: dict[str, Any] = field(default_factory=dict)
    bans: list[Ban] = field(default_factory=list)
    ended: str | None = None


class Checkpoint(BaseModel):
    """A source's checkpoint: one pydantic model per source, stored as its JSON."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def parse(cls, text: str | None) -> Self:
        """The stored checkpoint (a fresh one for None or ""); ValidationError if unreadable."""
        return cls.model_validate_json(text) if text else cls()

    @classmethod
    def read(cls, text: str | None, source: str) -> Self:
        """The stored checkpoint, or a fresh one (logged) when it cannot be read: for sources
        whose ids make re-reading from the start harmless."""
        try:
            return cls.parse(text)
        except ValidationError as exc:
            logging.getLogger(f"floor.sources.{source}").warning(
                "poller %s: unreadable checkpoint %r (%s); starting afresh", source,
                str(text)[:200], exc.errors()[0]["msg"])
            return cls()

    def dump(self) -> str:
        return self.model_dump_json(exclude_none=True)


_REGISTRY: dict[str, type[Source]] = {}


class Source(ABC):
    # The source's row in the catalogue (aggregator/base/platforms.py), which gives its name and its
    # settings model. A source made outside the catalogue (a test's) declares a name instead.
    platform: ClassVar[Platform | None] = None
    name: ClassVar[str] = ""
    settings_model: ClassVar[type[SourceSettings]] = SourceSettings
    # A source of invented posts (the rehearsal feed) is polled only when enabled, or forced:
    # its posts must never land in a real event by mistake.
    invented: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__abstractmethods__", None):
            return
        if cls.platform is not None:
            cls.name = cls.platform.name
            cls.settings_model = cls.platform.settings or SourceSettings
        if not cls.name:
            raise TypeError(f"{cls.__qualname__} must declare a source name (platform = its row "
                            "in aggregator/base/platforms.py)")
        _REGISTRY[cls.name] = cls

    def __init__(self, settings: SourceSettings, event: EventSettings) -> None:
        self.settings = self.settings_model.model_validate(settings.model_dump(exclude_unset=True))
        problem = self.settings.hashtag_problem(list(event.hashtags))
        if problem:  # the settings module refuses this too; a source made in code is checked here
            raise ValueError(f"[sources.{self.name}] {problem}")
        self.event = event

    @property
    def labels(self) -> dict[str, Any]:
        """Fixed facts for the health record, written with every poll whatever its outcome
        (e.g. which backend reads)."""
        return {}

    @property
    def interval(self) -> float:
        """Seconds between polls when all is well."""
        return float(self.settings.interval)

    @abstractmethod
    def fetch(self, checkpoint: str | None) -> Batch:
        """Read what is new since ``checkpoint``. Raise RateLimited, SourceStopped or
        SourceError; anything else is treated as a SourceError too."""

    @abstractmethod
    def parse(self, item: Any) -> Post | None:
        """One raw item -> a Post, or None for an item that is not a question (for example a
        post without the event's hashtag). Raise anything for an item that cannot be read:
        it becomes a dead letter with the message as the reason."""

    def describe(self, item: Any) -> str:
        """Where an item came from, to begin a dead letter's reason (e.g. "file line 7")."""
        return ""

    def check(self) -> str:
        """One cheap authenticated call for ``floor check``: return what works, raise
        SourceStopped/SourceError with what is missing."""
        return "nothing to check"


def missing_twice(absent: list[str], missing: list[str]) -> tuple[list[str], list[str]]:
    """For a source that rechecks its recent posts: of the posts ``absent`` from this check,
    (those the last check missed too: deleted, to retract; the rest, to check again). One
    answer without a post could be a hiccup of the platform, and a retraction takes a question
    away from the moderators."""
    before = set(missing)
    return [key for key in absent if key in before], [key for key in absent if key not in before]


def registry() -> dict[str, type[Source]]:
    """Every source in this package, by name (this imports every platform's client library)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(_REGISTRY)


def source_class(name: str) -> type[Source]:
    """The source called ``name``, importing only its own module (and so only its platform's
    client library). KeyError for a name no module declares."""
    if name not in _REGISTRY and name.isidentifier():
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    if name not in _REGISTRY:
        registry()
    return _REGISTRY[name]
