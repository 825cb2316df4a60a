"""Mastodon: the hashtag timelines of one or more instances, through Mastodon.py.

Each cycle reads ``/api/v1/timelines/tag/TAG`` on every instance from the newest status seen
there (``min_id``: the page just after it, so a burst larger than a page is read in order, not
skipped). Ids are each instance's own, so the checkpoint keeps one per instance and hashtag; a
toot is keyed by its canonical ``uri`` (the one its home server gave it), so the same toot
arriving through several instances is one question.

Content is HTML: paragraphs and line breaks become line breaks and the rest goes through the
same cleaning as every post (nh3, in ``aggregator.core.normalise``). A content warning
(``spoiler_text``) is kept as the flag ``content_warning``; boosts are skipped (the timeline
does not carry them, but a boost is never a question); an edit arrives as its latest text with
the flag ``edited``.

Deletions: timelines never say a toot was deleted, so every ``recheck_interval`` the toots
lately stored are asked for again (``GET /api/v1/statuses?id[]=``, Mastodon 4.3 and later) and
those the instance does not return in two checks running are retracted. An older instance
cannot be asked in bulk; the health record says so and its deletions are not retracted.

Tokens: public hashtag timelines need none on most instances. ``MASTODON_ACCESS_TOKEN`` is used
on ``token_instance`` only (a token belongs to one server). An instance that refuses to answer
without one says so in one line. An instance that is down or slow is backed off on its own
while the others are read; the source fails only when none answers.
"""

from __future__ import annotations

import html
import logging
import re
import time
import warnings
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from urllib.parse import urlsplit

import nh3
import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonWarning,
)

from aggregator.base.environment import read_environment
from aggregator.base.platforms import MASTODON
from aggregator.base.settings import EventSettings
from aggregator.base.source_settings import MastodonSettings, SourceSettings
from aggregator.core.normalise import InvalidPost, expect_text, iso_time, required_text
from aggregator.core.question import Post
from aggregator.ingest.sources import (
    Batch,
    Checkpoint,
    RateLimited,
    Source,
    SourceError,
    SourceStopped,
    missing_twice,
)

log = logging.getLogger("floor.sources.mastodon")

TOKEN_ENV = "MASTODON_ACCESS_TOKEN"
# The most a Mastodon timeline returns per request.
PAGE_SIZE = 40
# Pages read per instance and hashtag in one cycle at most (1,000 toots).
MAX_PAGES = 25
TIMEOUT = 10.0
# A 429 without X-RateLimit-Reset: wait out one 5-minute window.
RATE_WINDOW = 300.0
# An instance that fails is left alone for the interval, doubling per failure up to this.
BACKOFF_CAP = 300.0
# Toots remembered for the deletion check, asked after per check at most, and per request.
RECENT_MAX = 500
RECHECK_MAX = 100
STATUSES_MAX = 20
USER_AGENT = "Floor (live Q&A desk; Mastodon.py)"
_BREAKS = re.compile(r"(?i)<br\s*/?>|</p>\s*<p[^>]*>")


@dataclass
class _Instance:
    """What this process knows of one instance between cycles (not stored)."""

    failures: int = 0
    retry_at: float = 0.0
    said: str = ""
    stopped: bool = False
    bulk: bool = True  # answers GET /api/v1/statuses?id[]= (Mastodon 4.3+)


class MastodonCheckpoint(Checkpoint):
    """The newest status id read per instance and hashtag, and the toots lately stored, each
    as [instance, its id there, its uri]."""

    since: dict[str, str] = {}
    recent: list[list[str]] = []
    # Toots the last check did not find (uris): retracted only if the next does not either.
    missing: list[str] = []
    swept_at: float = 0.0


class MastodonSource(Source):
    platform = MASTODON

    def __init__(self, settings: SourceSettings, event: EventSettings, *,
                 clock: Any = time.time) -> None:
        super().__init__(settings, event)
        self.options = cast(MastodonSettings, self.settings)
        self.tags = self.options.hashtags or [t.lstrip("#") for t in event.hashtags]
        self.token_instance = self.options.token_instance or self.options.instances[0]
        self.clock = clock
        self._clients: dict[str, Mastodon] = {}
        self._state = {url: _Instance() for url in self.options.instances}
        self._answers: dict[str, requests.Response] = {}

    # -- talking to the instances -------------------------------------------------------------

    def client(self, instance: str) -> Mastodon:
        if instance not in self._clients:
            token = read_environment().token(TOKEN_ENV) if instance == self.token_instance else ""
            # "throw": a 429 comes back to the poller's pause instead of sleeping in here.
            # Mastodon.py drops the instance's words from errors of typed calls (it casts the
            # error body to the call's return type): a hook keeps the last answer to read them.
            session = requests.Session()
            session.hooks["response"].append(self._keep(instance))
            self._clients[instance] = Mastodon(
                api_base_url=instance, access_token=token or None, ratelimit_method="throw",
                request_timeout=TIMEOUT, version_check_mode="none", user_agent=USER_AGENT,
                session=session)
        return self._clients[instance]

    def _keep(self, instance: str) -> Any:
        def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            self._answers[instance] = response
        return hook

    def said(self, instance: str, exc: MastodonError) -> str:
        """The status and the instance's own words ({"error": "..."}), on one line."""
        answer = self._answers.get(instance)
        words = ""
        if answer is not None and not answer.ok:
            try:
                body = answer.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                words = body["error"][:200]
        status = _status(exc)
        if status is None:
            return str(exc)
        return f"{status} {words or exc.args[2]}".strip()

    def uses_token(self, instance: str) -> bool:
        return instance == self.token_instance and bool(read_environment().token(TOKEN_ENV))

    def call(self, instance: str, doing: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """One Mastodon.py call, its errors as the poller's kinds of failure."""
        client = self.client(instance)
        host = urlsplit(instance).netloc
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", MastodonWarning)
                answer = getattr(client, method)(*args, **kwargs)
        except MastodonRatelimitError as exc:
            reset = client.ratelimit_reset
            until = float(reset) if reset and reset > self.clock() else self.clock() + RATE_WINDOW
            raise RateLimited(until, f"{host}: rate limit reached ({doing}, 429)") from exc
        except MastodonUnauthorizedError as exc:
            if self.uses_token(instance):
                raise _Refused(f"{host} refused {TOKEN_ENV} ({self.said(instance, exc)}): it may "
                               "have been revoked; make a new read-scope token and restart the "
                               "poller") from exc
            raise _Refused(f"{host} does not show its hashtag timeline without a token "
                           f"({self.said(instance, exc)}): put a read-scope token of an account "
                           f"there in {TOKEN_ENV} and name it in token_instance") from exc
        except MastodonNotFoundError:
            raise
        except MastodonNetworkError as exc:
            if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
                raise SourceError(f"{host} did not answer within {TIMEOUT:.0f} s ({doing})") \
                    from exc
            raise SourceError(f"{host} could not be reached ({doing})") from exc
        except MastodonServerError as exc:
            raise SourceError(f"{host} is failing ({doing}: {self.said(instance, exc)})") from exc
        except MastodonAPIError as exc:
            status = _status(exc)
            if status in (403, 422):
                raise _Refused(f"{host} refused {doing} ({self.said(instance, exc)}): its "
                               f"hashtag timeline may need a token; see {TOKEN_ENV}") from exc
            raise SourceError(f"{host} answered {doing} with {self.said(instance, exc)}") from exc
        except MastodonError as exc:
            raise SourceError(f"{host}: {doing} failed: {exc}") from exc
        for warning in caught:
            if issubclass(warning.category, MastodonWarning):
                log.warning("poller mastodon: %s: %s", host, warning.message)
        return answer

    # -- the source interface -------------------------------------------------------------------

    def fetch(self, checkpoint: str | None) -> Batch:
        state = MastodonCheckpoint.read(checkpoint, self.name)
        items: list[dict[str, Any]] = []
        uris: set[str] = set()
        answered, paused, problems = 0, [], []
        now = self.clock()
        for instance, known in self._state.items():
            if known.stopped or known.retry_at > now:
                problems.append(known.said)
                continue
            try:
                for item in self.read(instance, state):
                    uri = item["status"].get("uri")
                    if isinstance(uri, str) and uri in uris:
                        continue  # the same toot through another instance
                    if isinstance(uri, str):
                        uris.add(uri)
                    items.append(item)
            except RateLimited as exc:
                paused.append(exc)
                self.failed(known, str(exc), until=exc.until)
                problems.append(known.said)
                continue
            except _Refused as exc:
                known.stopped, known.said = True, str(exc)
                log.error("poller mastodon: %s", exc)
                problems.append(known.said)
                continue
            except (SourceError, MastodonNotFoundError) as exc:
                self.failed(known, str(exc))
                problems.append(known.said)
                continue
            known.failures, known.said = 0, ""
            answered += 1
        if not answered:
            if paused:
                raise RateLimited(min(exc.until for exc in paused), "; ".join(problems))
            if all(known.stopped for known in self._state.values()):
                raise SourceStopped("; ".join(problems))
            raise SourceError("; ".join(problems) or "no instance answered")
        retracted: list[str] = []
        if now - state.swept_at >= self.options.recheck_interval:
            retracted = self.sweep(state, problems)  # before this cycle's toots: just seen
            state.swept_at = now
        self.remember(state, items)
        return Batch(items, state.dump(), retracted=retracted,
                     health={"detail": "; ".join(p for p in problems if p) or None,
                             "instances": len(self._state), "instances_answering": answered})

    def failed(self, known: _Instance, said: str, until: float | None = None) -> None:
        known.failures += 1
        wait = min(BACKOFF_CAP, self.interval * 2 ** min(known.failures, 16))
        known.retry_at = until if until is not None else self.clock() + wait
        known.said = said
        log.warning("poller mastodon: %s (again in %.0fs)", said, known.retry_at - self.clock())

    def read(self, instance: str, state: MastodonCheckpoint) -> list[dict[str, Any]]:
        """New toots on one instance for every hashtag, newest first per hashtag. The
        checkpoint moves only once every hashtag was read: the batch of an instance that fails
        half-way is dropped, so its place must stay where it was."""
        found = []
        advanced: dict[str, str] = {}
        for tag in self.tags:
            key = f"{instance} #{tag}"
            since = state.since.get(key)
            for _ in range(MAX_PAGES if since else 1):
                page = self.call(instance, f"the #{tag} timeline", "timeline_hashtag", tag,
                                 min_id=since, limit=PAGE_SIZE)
                statuses = [_plain(status) for status in page or []]
                found += [{"instance": instance, "status": s} for s in statuses]
                ids = [s["id"] for s in statuses if isinstance(s, dict)
                       and isinstance(s.get("id"), str) and s["id"].isdigit()]
                if ids:
                    since = max(ids, key=int) if since is None else max([since, *ids], key=int)
                if len(statuses) < PAGE_SIZE:
                    break
            if since:
                advanced[key] = since
        state.since.update(advanced)
        return found

    def remember(self, state: MastodonCheckpoint, items: list[dict[str, Any]]) -> None:
        known = {entry[2] for entry in state.recent if len(entry) == 3}
        for item in items:
            status = item["status"]
            uri, local = status.get("uri"), status.get("id")
            if isinstance(uri, str) and isinstance(local, str) and uri not in known \
                    and not status.get("reblog"):
                known.add(uri)
                state.recent.append([item["instance"], local, uri])
        state.recent = state.recent[-RECENT_MAX:]

    def sweep(self, state: MastodonCheckpoint, problems: list[str]) -> list[str]:
        """The question ids of recent toots their instance did not return in two checks
        running (deleted)."""
        absent: list[list[str]] = []
        asked = [e for e in state.recent[-RECHECK_MAX:] if len(e) == 3]
        for instance, known in self._state.items():
            if not known.bulk or known.stopped or known.retry_at > self.clock():
                continue
            mine = [entry for entry in asked if entry[0] == instance]
            for start in range(0, len(mine), STATUSES_MAX):
                chunk = mine[start:start + STATUSES_MAX]
                try:
                    found = self.call(instance, "the deletion check", "statuses",
                                      [entry[1] for entry in chunk])
                except MastodonNotFoundError:
                    known.bulk = False
                    problems.append(f"{urlsplit(instance).netloc} cannot be asked which toots "
                                    "were deleted (it is older than Mastodon 4.3): its "
                                    "deletions are not retracted")
                    break
                except SourceError as exc:  # checked again next time
                    log.warning("poller mastodon: deletion check skipped: %s", exc)
                    break
                present = {str(s.get("id")) for s in found or [] if isinstance(s, dict)}
                absent += [entry for entry in chunk if entry[1] not in present]
        gone, state.missing = missing_twice([entry[2] for entry in absent], state.missing)
        if gone:
            drop = set(gone)
            state.recent = [e for e in state.recent if len(e) != 3 or e[2] not in drop]
            log.info("poller mastodon: %d toot(s) deleted by their authors", len(gone))
        return [MASTODON.question_id(uri) for uri in gone]

    def describe(self, item: Any) -> str:
        status = item.get("status") if isinstance(item, dict) else None
        uri = status.get("uri") if isinstance(status, dict) else None
        return f"toot {uri}" if isinstance(uri, str) else "toot without a uri"

    def parse(self, item: dict[str, Any]) -> Post | None:
        status = item.get("status")
        if not isinstance(status, dict):
            raise InvalidPost(f"not a JSON object: {str(status)[:80]}")
        if status.get("reblog"):
            return None  # a boost: the toot itself is read where it was posted
        uri = required_text(status, "uri")
        if not uri.startswith(("https://", "http://")):
            raise InvalidPost(f"field 'uri': not a toot's address: {uri[:80]!r}")
        text = html_text(required_text(status, "content"))
        posted_at = iso_time(required_text(status, "created_at"), "created_at")
        account = status.get("account")
        if not isinstance(account, dict):
            raise InvalidPost("field 'account': expected a JSON object")
        acct = required_text(account, "acct", "account.acct")
        name = account.get("display_name")
        name = expect_text(name, "account.display_name") if name is not None else ""
        if not text:
            return None  # media only: nothing to ask
        host = urlsplit(str(item.get("instance", ""))).netloc
        handle = acct if "@" in acct or not host else f"{acct}@{host}"
        flags = []
        if status.get("spoiler_text"):
            flags.append("content_warning")
        if status.get("in_reply_to_id"):
            flags.append("reply")
        if status.get("edited_at"):
            flags.append("edited")
        url = status.get("url") if isinstance(status.get("url"), str) else uri
        return Post(platform=MASTODON.code, native_id=uri, text=text,
                    author_name=name or acct, author_handle=handle, url=url or uri,
                    posted_at=posted_at, raw=item, flags=flags)

    def check(self) -> str:
        """Reads one toot of the first hashtag on every instance."""
        said = []
        for instance in self.options.instances:
            host = urlsplit(instance).netloc
            # Mastodon 4.5+ says in its instance record who may read hashtag timelines.
            if not self.call(instance, "reading the instance's settings", "timeline_is_available",
                             "hashtag", with_auth=self.uses_token(instance)):
                raise SourceStopped(
                    f"{host} does not show its hashtag timelines without a token (its settings "
                    f"say so): put a read-scope token of an account there in {TOKEN_ENV} and "
                    "name it in token_instance")
            try:
                page = self.call(instance, "a test read", "timeline_hashtag",
                                 self.tags[0], limit=1)
            except _Refused as exc:
                raise SourceStopped(str(exc)) from exc
            except MastodonNotFoundError as exc:
                raise SourceError(f"{host} has no hashtag timeline "
                                  f"({self.said(instance, exc)})") from exc
            token = " with the token" if self.uses_token(instance) else " without a token"
            said.append(f"{host} answers{token} ({len(page or [])} recent toot(s) "
                        f"tagged #{self.tags[0]})")
        return "; ".join(said)


class _Refused(SourceError):
    """An instance refused this client (a revoked token, or no token where one is needed)."""


def html_text(content: str) -> str:
    """A toot's HTML as text: paragraphs and line breaks as line breaks, every tag removed by
    the same sanitiser as every other post's text (nh3), entities decoded."""
    return html.unescape(nh3.clean(_BREAKS.sub("\n", content), tags=set())).strip()


def _plain(value: Any) -> Any:
    """Mastodon.py's objects (dicts with datetimes, id types) as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    return value


def _status(exc: MastodonError) -> int | None:
    args = exc.args
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None
