"""Personal data in a post: UK phone numbers, email addresses, NHS numbers, postcodes, street
addresses, dates of birth and people's names given with a relation ("my dad, Harold Smith",
"my name is ...", "Mrs Price"), found as spans and masked in the display text.

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
         "postcode": "postcode", "address": "street address", "dob": "date of birth",
         "name": "name"}

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# An address spelt out to dodge filters: "jo dot bloggs at gmail dot com", "jo [at] nhs.net".
SPELT_EMAIL = re.compile(
    r"\b[\w+-]+(?:(?:\s+dot\s+|\.)[\w+-]+)*(?:\s+at\s+|\s*\[at\]\s*|\s*\(at\)\s*)[\w-]+"
    r"(?:(?:\s+dot\s+|\.)[\w-]+)*(?:\s+dot\s+|\.)(?:com|org|net|uk|gov|ac|edu|io|co|me|info|"
    r"wales|scot|eu|ie)\b", re.IGNORECASE)
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
_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
# A whole date: 12/03/1954, 12.03.54, 1954-03-12, 3rd March 1954, March 3, 1954, 12 Mar 54.
DATE = re.compile(
    r"\b(?:" + _DAY + r"[/.-](?:1[0-2]|0?[1-9])[/.-](?:19|20)?\d\d|"
    r"(?:19|20)\d\d-(?:1[0-2]|0[1-9])-(?:[12]\d|3[01]|0[1-9])|"
    + _DAY + r"(?:\s+of)?\s+" + _MONTHS + r"\.?,?\s+(?:19|20)?\d\d|"
    + _MONTHS + r"\.?\s+" + _DAY + r",?\s+(?:19|20)\d\d)\b", re.IGNORECASE)
# Words that say a date near them is someone's birth date.
BIRTH = re.compile(r"\b(?:born|birth|d\.?o\.?b\b|birthday|b\.\s)", re.IGNORECASE)
BIRTH_WINDOW = 40  # characters either side of a date
_YEAR = re.compile(r"(?:19|20)\d\d$|\d\d$")
# Who a person is to the writer; a capitalised name right after it is that person's name.
_RELATION = (r"(?:dad|daddy|father|mum|mummy|mom|mother|husband|wife|partner|son|daughter|"
             r"brother|sister|nan|nana|nanna|gran|granny|grandma|grandmother|grandad|granddad|"
             r"grandpa|grandfather|grandson|granddaughter|grandchild|uncle|aunt|auntie|aunty|"
             r"niece|nephew|cousin|friend|best friend|neighbour|neighbor|fianc[eé]e?|"
             r"boyfriend|girlfriend|carer|stepdad|stepmum|stepfather|stepmother|"
             r"(?:father|mother|son|daughter|brother|sister)-in-law|child|baby|boy|girl|"
             r"(?:late|elderly|disabled|poorly|little|baby|twin|eldest|youngest|older|younger|"
             r"big|wee) (?:dad|father|mum|mother|husband|wife|son|daughter|brother|sister|"
             r"nan|gran|grandad|grandma|partner|boy|girl))")
_NAME_WORD = r"(?:(?:Mc|Mac|O')?[A-Z][a-z'’-]*[a-z]|[A-Z]\.)"
_NAME = _NAME_WORD + r"(?:[ -]" + _NAME_WORD + r"){0,2}"
NAME = re.compile(
    r"\b(?i:(?:my|our|his|her|their)\s+" + _RELATION + r")(?:'s name (?:is|was))?,?\s+"
    r"(?:is\s+|was\s+|called\s+|named\s+)?(?P<a>" + _NAME + r")|"
    r"\b(?i:my name is|my name's|i am called|i'm called|name:)\s+(?P<b>" + _NAME
    + r")|"
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Nurse|Sister|Prof)\.?\s+(?P<c>" + _NAME + r")")
# The same in lower case, only set off by commas ("my dad, harold smith, waited"): without
# capitals or commas a name cannot be told from the words around it.
APPOSITIVE = re.compile(
    r"\b(?:my|our|his|her|their)\s+" + _RELATION + r",\s+(?P<a>[a-z][a-z'’-]+(?:\s+[a-z][a-z'’-]+)"
    r"{0,2}),", re.IGNORECASE)
# Capitalised words that start a clause rather than a name ("my son Is ...", "I'm Not sure").
NOT_NAMES = frozenset("""A An And As At But By For From He Her His How I If In Is It Its Me My
No Not Of On Or Our She So That The Their Then There They This To Was We Were What When Where
Which Who Why Will With You Your Has Had Have Does Did Do Can Could Would Should Just Still Also
Very Really Here Now Today Yesterday Tomorrow Monday Tuesday Wednesday Thursday Friday Saturday
Sunday Please Thanks Thank Yes Sorry I'm I've I'd I'll Im Ive Not Never Always Again After
Before Since Because NHS A&E
GP Ambulance Hospital Trust Board Council Paramedic Paramedics Doctor Nurse""".split())
# Lower-case words an aside after "my dad," is made of when it is not a name.
_CLAUSE_WORDS = frozenset(w.lower() for w in NOT_NAMES) | frozenset("""bless him her who
which a an the aged age years old again too though however also sadly unfortunately still now
then once twice being been bless god rip rest peace poor love""".split())
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
    for m in SPELT_EMAIL.finditer(text):
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
    for m in DATE.finditer(text):
        if _is_birth_date(text, m):
            add(m.start(), m.end(), "dob")
    for m in NAME.finditer(text):
        start, end = _name_span(m)
        if end > start:
            add(start, end, "name")
    for m in APPOSITIVE.finditer(text):
        words = m.group("a").split()
        if not any(w.lower() in _CLAUSE_WORDS or w.lower().endswith("ly") for w in words):
            add(m.start("a"), m.end("a"), "name")
    return sorted(spans, key=lambda s: s.start)


def _is_birth_date(text: str, m: re.Match[str]) -> bool:
    """A whole date is a birth date when words near it say so ("born", "DOB", "date of
    birth"), or when its year is more than 16 years back in numeric form (12/03/1954): a
    meeting's own dates are recent."""
    near = text[max(0, m.start() - BIRTH_WINDOW):m.end() + BIRTH_WINDOW]
    if BIRTH.search(near):
        return True
    year = _YEAR.search(m.group(0).rstrip(".,"))
    if year is None or not any(c in m.group(0) for c in "/.-"):
        return False
    digits = year.group(0)
    full = int(digits) if len(digits) == 4 else None
    return full is not None and 1900 <= full <= 2009


def _name_span(m: re.Match[str]) -> tuple[int, int]:
    """The span of the name a NAME match holds, without trailing clause words ("Harold Smith
    Was" -> "Harold Smith"); empty when it starts with one ("my son Is ...")."""
    group = next(g for g in ("a", "b", "c") if m.group(g) is not None)
    start = m.start(group)
    end = start
    for word in re.finditer(r"\S+", m.group(group)):
        if word.group(0).strip(".,'’-") in NOT_NAMES:
            break
        end = start + word.end()
    return start, end


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
