"""``floor keys``, ``floor record``, ``floor answer-note`` and ``floor export``: the public
record (``aggregator/followers/record/``), what it says of an answer, and the full export.
``floor ledger``, which writes the chain the record is built from, is in ``cli/workers.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.context import connect, event_settings, plural, redact


@click.group()
def keys() -> None:
    """The organisation's key that signs the published record."""


@keys.command("create")
@click.option("--dir", "folder", type=click.Path(file_okay=False), default="keys",
              show_default=True, help="Folder for the key pair.")
def keys_create(folder: str) -> None:
    """Make an Ed25519 key pair: the private key (readable by you only) and the public key to
    publish. The private key is never printed."""
    from aggregator.followers.record.signing import (
        SigningKeyError,
        create,
        fingerprint,
        load_public,
    )

    try:
        private, public = create(Path(folder))
    except (SigningKeyError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    key = load_public(public.read_bytes(), str(public))
    click.echo(f"private key: {private} (keep it safe; set [record] signing_key to this path)")
    click.echo(f"public key:  {public}\nfingerprint: {fingerprint(key)} (publish it)")


class _RecordGroup(click.Group):
    """``floor record DIR`` builds; ``floor record verify DIR`` checks."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["build", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RecordGroup)
def record() -> None:
    """The published record: `floor record DIR` builds it, `floor record verify DIR` checks it."""


@record.command("build")
@click.argument("folder", type=click.Path(file_okay=False), required=False)
@click.option("--key", type=click.Path(dir_okay=False, exists=True),
              help="The Ed25519 private key that signs the head (default: [record] "
                   "signing_key).")
@click.option("--captions", type=click.Path(dir_okay=False, exists=True),
              help="The meeting's caption file (WebVTT or SRT): the words spoken while each "
                   "answered question was on screen go beside it, as a transcript.")
@click.option("--site", type=click.Path(file_okay=False),
              help="A site folder keeping every meeting's record: build into SITE/EVENT-SLUG "
                   "and write SITE/index.html of them all (default: [record] site).")
def record_build(folder: str | None, key: str | None, captions: str | None,
                 site: str | None) -> None:
    """Build the record into FOLDER: index.html, verify.html, questions.csv, record.json, the
    ledger, the charts, the manifest SHA256SUMS of every file in FOLDER and the signed head.
    Each answered question links to its moment in the YouTube recording when its start time
    can be found ([record] video, recording_start)."""
    from aggregator.followers.record.build import build
    from aggregator.followers.record.captions import CaptionsError, read
    from aggregator.followers.record.manifest import UnlistableName
    from aggregator.followers.record.recording import NoRecording, find
    from aggregator.followers.record.signing import SigningKeyError
    from aggregator.followers.record.site import publish

    settings = event_settings()
    if folder and site:
        raise click.UsageError("give the record's FOLDER or --site SITE, not both")
    if folder is None:
        site = site or settings.record.site or None
        if site is None:
            raise click.UsageError("give the record's FOLDER, or --site SITE")
    target = Path(folder) if folder else Path(site or ".") / settings.event.slug
    key_path = key or settings.record.signing_key or None
    try:
        recording = find(settings)
    except NoRecording as exc:
        recording = None
        click.echo(f"no links to the recording: {exc}")
    transcript = None
    if captions:
        try:
            transcript = read(Path(captions))
        except CaptionsError as exc:
            click.echo(f"no transcript: {exc}")
    try:
        built = build(connect(), settings, target, Path(key_path) if key_path else None,
                      recording=recording, captions=transcript)
    except (SigningKeyError, UnlistableName) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"record: {plural(built.questions, 'post')}, {built.listed} listed as "
               f"questions, ledger head {built.head} in {target}")
    if recording is not None:
        click.echo(f"recording: {built.linked} answered question(s) linked to "
                   f"https://www.youtube.com/watch?v={recording.video}")
    if transcript is not None:
        click.echo(f"transcript: words beside {built.transcripts} answered question(s) from "
                   f"{transcript.name}")
        for line in built.unplaced:
            click.echo(f"  not placed: {line}")
    if built.signed_by:
        click.echo(f"signed by the key {built.signed_by}")
    else:
        click.echo("NOT signed: pass --key or set [record] signing_key (`floor keys create`)")
    if site:
        index = publish(Path(site))
        click.echo(f"site: {index} lists every meeting's record in {site}")


@record.command("verify")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--head", help="A head noted during the meeting, COUNT:HASH: the record must "
                             "extend it.")
@click.option("--public-key", type=click.Path(dir_okay=False, exists=True),
              help="The organisation's public key as it publishes it (default: the one in "
                   "the folder; compare its fingerprint then).")
def record_verify(folder: str, head: str | None, public_key: str | None) -> None:
    """Check a record: the chain, the signature, a noted head, the questions, every file against
    the signed manifest; name the first entry, or the files, that fail."""
    from aggregator.followers.record import MANIFEST_FILE
    from aggregator.followers.record.verify import VerifyFailed, verify

    try:
        done = verify(Path(folder), head, Path(public_key) if public_key else None)
    except VerifyFailed as exc:
        raise click.ClickException(f"the record does NOT verify: {exc}") from exc
    click.echo(f"ok: {done.count} ledger entries, head {done.count}:{done.hash}")
    click.echo(f"ok: signed by the key with fingerprint {done.key_fingerprint}")
    click.echo(f"ok: {done.questions} questions, each as the ledger holds it")
    click.echo(f"ok: {done.files} files, each as the signed {MANIFEST_FILE} lists it, and no "
               "other")
    if head:
        click.echo(f"ok: extends the noted head {head}")




@click.command("answer-note")
@click.argument("qid")
@click.argument("note", required=False, default=None)
@click.option("--in-writing", "writing", flag_value="in_writing",
              help="Mark the question to be answered in writing.")
@click.option("--not-in-writing", "writing", flag_value="not_in_writing",
              help="Take that mark away.")
@click.option("--by", "actor", default="secretary", show_default=True,
              help="Who records it (in the log and the ledger).")
def answer_note(qid: str, note: str | None, writing: str | None, actor: str) -> None:
    """Attach a short answer summary NOTE to question QID (an empty NOTE takes it away), and/or
    mark it to be answered in writing. Each is a logged, chained action, as on the console.
    QID is the id the record and the console show (x-6ba569e483d815f5649b) or the one in
    Redis (x:1852...)."""
    from aggregator.core.actions import Refused
    from aggregator.core.moderation import Moderation
    from aggregator.core.public_ids import UnknownQuestion, resolve
    from aggregator.core.store import Store

    if note is None and writing is None:
        raise click.UsageError("give a NOTE, --in-writing or --not-in-writing")
    settings, conn = event_settings(), connect()
    try:
        qid = resolve(conn, settings.event.slug, qid)
    except UnknownQuestion as exc:
        raise click.ClickException(str(exc)) from exc
    store, moderation = Store(conn, settings.event.slug), Moderation(conn, settings.event.slug)
    for action, params in ((writing, {}), ("answer_note" if note is not None else None,
                                          {"note": note or ""})):
        if action is None:
            continue
        question = store.question(qid)
        if question is None:
            raise click.ClickException(f"there is no question {qid}")
        try:
            moderation.apply(action, qid, question.version, actor, **params)
        except Refused as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{qid}: {action.replace('_', ' ')} recorded")


@click.command()
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
def export(output: Any) -> None:
    """Every question with its full history, as JSON lines."""
    from aggregator.core.store import Store
    from aggregator.followers.export import export_lines

    count = 0
    for line in export_lines(Store(connect(), event_settings().event.slug)):
        output.write(redact(line) + "\n")
        count += 1
    click.echo(f"exported {plural(count, 'question')}", err=True)


COMMANDS = (keys, record, answer_note, export)
