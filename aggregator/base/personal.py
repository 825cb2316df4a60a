"""Personal data in a post: UK phone numbers, email addresses, NHS numbers, postcodes and street
addresses, found as spans and masked in the display text.

Phone numbers come from ``phonenumbers`` at POSSIBLE leniency: the VALID default skips the
Ofcom drama ranges (07700 900xxx) that people and tests use, and a miss here is a leak onto the
board. POSSIBLE also matches NHS numbers and times, so NHS numbers are taken first and a phone
match must hold a UK number's 10 or 11 digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

# Which kinds there are, in the words a card shows.
KINDS = {"phone": "phone number", "email": "email address", "nhs": "NHS number",
         "postcode": "postcode", "address": "street address"}

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Ten digits as an NHS number is written: 3-3-4 with spaces or dashes, or run together.
NHS = re.compile(r"(?<![\d+])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
# The UK postcode shapes (A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA, AA9A 9AA), any case,
# with or without the space.
POSTCODE = re.compile(
    r"\b(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?) ?\d[A-Z]{2}\b", re.IGNORECASE)
_SUFFIXES = ("road|rd|street|st|lane|ln|avenue|ave|close|drive|dr|way|crescent|terrace|place|"
             "gardens|court|grove|row|walk|square|hill|mews|park|parade|rise|view|green")
# A house number (maybe "Flat 3," before it) and one to four capitalised words ending in a street
# word: "12 Acacia Avenue", "flat 2, 41b Mill Lane". A street named without a number is a place
# people talk about, not an address.
ADDRESS = re.compile(
    r"\b(?:(?:flat|apartment|apt|unit)\s+\d+[a-z]?,?\s+)?\d{1,4}[a-z]?,?\s+"
    r"(?:[A-Z][\w'-]*\s+){1,4}(?:" + _SUFFIXES + r")\b\.?",
    re.IGNORECASE)
_CAPITALISED = re.compile(r"\d{1,4}[a-z]?,?\s+[A-Z]")
MASK = "█"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


def nhs_valid(digits: str) -> bool:
    """The NHS number's modulus-11 check digit (9.3% of random 10-digit strings pass)."""
    d = [int(c) for c in digits if c.isdigit()]
    if len(d) != 10:
        return False
    check = 11 - sum(x * w for x, w in zip(d, range(10, 1, -1), strict=False)) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == d[9]


def find(text: str) -> list[Span]:
    """Every personal-data span in ``text``, non-overlapping, in order."""
    spans: list[Span] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s.start or start >= s.end for s in spans)

    def add(start: int, end: int, kind: str) -> None:
        if free(start, end):
            spans.append(Span(start, end, kind))

    for m in EMAIL.finditer(text):
        add(m.start(), m.end(), "email")
    for m in NHS.finditer(text):
        if nhs_valid(m.group(0)):
            add(m.start(), m.end(), "nhs")
    if sum(c.isdigit() for c in text) >= 10:
        for match in phonenumbers.PhoneNumberMatcher(
                text, "GB", leniency=phonenumbers.Leniency.POSSIBLE, max_tries=200):
            digits = sum(c.isdigit() for c in match.raw_string)
            national = str(match.number.national_number)
            if match.number.country_code == 44 and not 9 <= len(national) <= 10:
                continue
            if digits >= 10:
                add(match.start, match.end, "phone")
    for m in ADDRESS.finditer(text):
        if _CAPITALISED.match(m.group(0)) or m.group(0).lower().startswith(("flat", "apart",
                                                                            "apt", "unit")):
            add(m.start(), m.end(), "address")
    for m in POSTCODE.finditer(text):
        add(m.start(), m.end(), "postcode")
    return sorted(spans, key=lambda s: s.start)


def mask(text: str, spans: list[Span] | None = None) -> str:
    """``text`` with each span replaced by blocks, one per character (layout kept)."""
    spans = find(text) if spans is None else spans
    out, at = [], 0
    for span in spans:
        out.append(text[at:span.start])
        out.append(MASK * (span.end - span.start))
        at = span.end
    out.append(text[at:])
    return "".join(out)
