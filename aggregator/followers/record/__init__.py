"""The published record: a static folder anyone can read offline and check against the ledger.

``build`` writes it from the event's Redis (``floor record DIR``), ``verify`` checks one
(``floor record verify DIR``), ``manifest`` lists every file's SHA-256 for the signed head,
``signing`` holds the organisation's Ed25519 key, ``charts`` draws the SVG charts,
``recording`` finds the YouTube recording's start, ``captions`` reads a caption file,
``site`` keeps every meeting's record in one folder with an index page.
"""

from __future__ import annotations

LEDGER_FILE = "ledger.jsonl"
RECORD_FILE = "record.json"
CSV_FILE = "questions.csv"
HEAD_FILE = "head.txt"
SIGNATURE_FILE = "head.sig"
PUBLIC_KEY_FILE = "public-key.pem"
MANIFEST_FILE = "SHA256SUMS"
INDEX_FILE = "index.html"
CHARTS_DIR = "charts"
VERIFY_FILE = "verify.html"
VERIFY_SCRIPT = "verify.js"
HEAD_TITLE = "Floor ledger head"
