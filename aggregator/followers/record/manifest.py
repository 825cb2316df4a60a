"""The record's manifest, ``SHA256SUMS``: the SHA-256 of every file of the published folder, in
GNU ``sha256sum``'s format, so ``sha256sum -c SHA256SUMS`` checks it; its own SHA-256 is a line
of the signed head, so the signature covers every byte a reader opens.

It lists every file under the folder, in subfolders too, except itself and the two files that
sign it (``head.txt``, which holds its SHA-256, and ``head.sig``). One line a file:
``<64 lowercase hex digits><two spaces><path>\\n``, the path relative to the folder with ``/``
between names, the lines sorted by the paths' UTF-8 bytes, no escapes (a name that would need
one, with a line break, is refused).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from aggregator.followers.record import HEAD_FILE, MANIFEST_FILE, SIGNATURE_FILE

UNLISTED = frozenset({MANIFEST_FILE, HEAD_FILE, SIGNATURE_FILE})
LINE = re.compile(r"([0-9a-f]{64})  ([^\n\r]+)")


class UnlistableName(Exception):
    """A file in the folder whose name no manifest line can hold."""


def _order(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _listable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # an undecodable name, as Python holds it
        return False
    return "\n" not in name and "\r" not in name


def published_files(folder: Path) -> list[str]:
    """The path of every file in ``folder`` the manifest lists (or must), in manifest order."""
    names = (path.relative_to(folder).as_posix() for path in folder.rglob("*")
             if path.is_file())
    return sorted((name for name in names if name not in UNLISTED), key=_order)


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write(folder: Path) -> str:
    """Write the manifest of ``folder``; returns its own SHA-256, for the head."""
    lines = []
    for name in published_files(folder):
        if not _listable(name):
            raise UnlistableName(f"{name!r}: a file name with a line break, or not UTF-8, cannot "
                                 f"be listed in {MANIFEST_FILE}; take it out of {folder}")
        lines.append(f"{file_digest(folder / name)}  {name}\n")
    data = "".join(lines).encode("utf-8")
    (folder / MANIFEST_FILE).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def parse(data: bytes) -> dict[str, str]:
    """A manifest's lines as path -> SHA-256; ValueError names the first line that is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc})") from exc
    if text and not text.endswith("\n"):
        raise ValueError("its last line does not end with a newline")
    listed: dict[str, str] = {}
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        match = LINE.fullmatch(line)
        path = match.group(2) if match else ""
        parts = path.split("/")
        if not match or path in listed or path in UNLISTED or "" in parts or "." in parts \
                or ".." in parts:
            raise ValueError(f"line {number} is not '<SHA-256>  <path in the folder>' (once)")
        listed[path] = match.group(1)
    return listed


def differences(folder: Path, listed: dict[str, str]) -> list[str]:
    """How the files in ``folder`` differ from the manifest's ``listed``: one phrase a file, each
    starting with its path, in manifest order; empty when they agree."""
    present = set(published_files(folder))
    found = []
    for name in sorted(present | set(listed), key=_order):
        if name not in listed:
            found.append(f"{name}: not in the manifest ({MANIFEST_FILE} does not list it)")
        elif name not in present:
            found.append(f"{name}: missing ({MANIFEST_FILE} lists it)")
        elif file_digest(folder / name) != listed[name]:
            found.append(f"{name}: changed (its SHA-256 is not the one {MANIFEST_FILE} lists)")
    return found
