"""The one place where Floor's Redis key names are written.

Every key of an event lives under ``floor:{event}:``, braces included: the braces are a Redis
Cluster hash tag, so all of an event's keys hash to one slot and the store's Lua script and the
moderation's WATCH/MULTI transactions (which touch several keys at once) work on a cluster,
where keys in two slots would be refused (CROSSSLOT). An event is therefore served by one
cluster node; events spread over the nodes. Two events sharing a server never mix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    event: str

    @property
    def prefix(self) -> str:
        return f"floor:{{{self.event}}}:"

    @property
    def pattern(self) -> str:
        """SCAN/KEYS pattern of every key of the event (glob characters in the slug escaped)."""
        return re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"

    @property
    def log(self) -> str:
        """Stream of every change: the queue to the consoles and the audit trail."""
        return self.prefix + "log"

    @property
    def questions(self) -> str:
        """Sorted set of every question id, scored by arrival order."""
        return self.prefix + "questions"

    @property
    def arrivals(self) -> str:
        """Counter that scores ``questions``."""
        return self.prefix + "arrivals"

    @property
    def queue(self) -> str:
        """Sorted set of approved question ids in the order the board takes them."""
        return self.prefix + "queue"

    @property
    def screen(self) -> str:
        """The id of the question on screen now (absent when the screen is clear)."""
        return self.prefix + "screen"

    @property
    def checkpoints(self) -> str:
        """Hash: source name -> checkpoint of the last stored batch."""
        return self.prefix + "checkpoints"

    @property
    def dead_letters(self) -> str:
        """Hash: dead-letter id -> JSON (source, reason, raw payload, time)."""
        return self.prefix + "dead"

    @property
    def moderators(self) -> str:
        """Hash: username -> argon2 hash."""
        return self.prefix + "moderators"

    @property
    def sessions(self) -> str:
        """Hash: username -> session generation. Bumping it ends every session of that moderator
        (pages and sockets); never deleted, so a removed name re-added revives no old cookie."""
        return self.prefix + "sessions"

    @property
    def device_trust(self) -> str:
        """Hash: username -> the generation of the browsers that moderator's logins remembered.
        A new password or a removal bumps it (logging out does not), which revokes every device
        cookie of that moderator; never deleted, like ``sessions``."""
        return self.prefix + "device-trust"

    @property
    def sources(self) -> str:
        """Set of source names that have ever reported health."""
        return self.prefix + "sources"

    @property
    def presence(self) -> str:
        """Sorted set of open consoles (moderator and connection), scored by when they expire."""
        return self.prefix + "presence"

    @property
    def editing(self) -> str:
        """Hash of soft edit locks: question and connection -> who is editing, until when."""
        return self.prefix + "editing"

    @property
    def screen_links(self) -> str:
        """Hash: sha256 of a screen or overlay link's secret -> JSON (kind, label, created)."""
        return self.prefix + "screen-links"

    @property
    def control_tokens(self) -> str:
        """Hash: sha256 of a remote control token -> JSON (label, created)."""
        return self.prefix + "control-tokens"

    @property
    def ledger(self) -> str:
        """Stream: one hash-chain link per log entry, under the log entry's own id."""
        return self.prefix + "ledger"

    @property
    def salts(self) -> str:
        """Hash: "{qid} {field}" -> the random salt of that personal field's commitments.
        Deleting a salt (a purge) leaves the commitment in the ledger and the value unprovable."""
        return self.prefix + "salts"

    @property
    def purged(self) -> str:
        """String: when personal data was last purged (ISO 8601), absent before."""
        return self.prefix + "purged"

    @property
    def notes(self) -> str:
        """Hash: note id -> JSON of a moderators' note to the chair (text, who, when, seen)."""
        return self.prefix + "notes"

    @property
    def agenda(self) -> str:
        """Hash: agenda item id -> JSON (title, keywords, position)."""
        return self.prefix + "agenda"

    @property
    def agenda_current(self) -> str:
        """The id of the agenda item the meeting is on (absent: all questions)."""
        return self.prefix + "agenda-current"

    @property
    def indexed(self) -> str:
        """Marker: the ``state`` indexes hold every question (set once built from the
        projections; an event stored before the indexes existed is indexed on first use)."""
        return self.prefix + "indexed"

    def state(self, state: str) -> str:
        """Sorted set of the ids of the questions in one state: "new" scored by arrival (as
        ``questions``), every other state by when the question last changed (Unix ms)."""
        return self.prefix + "state:" + state

    def recently_asked(self, digest: str) -> str:
        """Marker that one browser sent one text on the question form a moment ago (it expires
        after ``web.ask.REPEAT_WINDOW``): ``digest`` is a keyed hash of the text, never the text."""
        return self.prefix + "recently-asked:" + digest

    def question(self, qid: str) -> str:
        return self.prefix + "q:" + qid

    def health(self, source: str) -> str:
        return self.prefix + "health:" + source

    def heartbeat(self, source: str) -> str:
        return self.prefix + "alive:" + source

    @property
    def followers(self) -> str:
        """Set of the names of the log's followers (``triage``, ``ledger``) that have ever
        reported: the console's health panel shows each beside the sources."""
        return self.prefix + "followers"

    def follower(self, name: str) -> str:
        """Hash: a follower's health (state, when it started, entries handled, lag, error)."""
        return self.prefix + "follower:" + name

    def follower_heartbeat(self, name: str) -> str:
        """String with a TTL, renewed by the follower's loop: absent, the follower is dead."""
        return self.prefix + "follower-alive:" + name

    @property
    def muted(self) -> str:
        """Set of muted authors (``Question.author_key``): ingest sets their new posts aside."""
        return self.prefix + "muted"

    def repeats(self, qid: str) -> str:
        """Set of the question ids triage suggested as repeats of ``qid`` (members may since have
        been dismissed or dealt with: readers check each): "reject all like this" reaches the
        whole cluster, not only the cards a console holds."""
        return self.prefix + "repeats:" + qid

    def muted_posts(self, author: str) -> str:
        """Set of the question ids set aside because ``author`` is muted (the card the mute was
        made on, and each post ingest set aside since): what an unmute brings back."""
        return self.prefix + "muted-posts:" + author
