"""How much a post is a question for the board, and why.

A post scores high when it asks something or demands something of the board (a question mark,
a question word leading a clause, "I'd like to know", "the board should"), and low when it is a
greeting, "is it live", a sound or stream complaint, praise, thanks or chatter. The score orders
and filters Incoming; the reason is shown on the card so a moderator can see why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WH = r"(?:what|why|when|where|who|whom|whose|which|how)"
_AUX = (r"(?:is|are|was|were|will|would|can|could|should|shall|do|does|did|has|have|had|may|"
        r"might|must|isn't|aren't|won't|wouldn't|can't|couldn't|shouldn't|don't|doesn't|didn't|"
        r"hasn't|haven't)")
WH_START = re.compile(r"(?:^|[.!?\n]\s*|\b(?:so|and|but|also|then|ok|okay)\s+)" + _WH + r"\b",
                      re.IGNORECASE)
AUX_START = re.compile(r"(?:^|[.!?\n]\s*)" + _AUX + r"\s+(?:the|you|we|they|it|there|anyone|"
                       r"any|a|an|this|that|these|those|our|your|i|he|she|someone|board|"
                       r"trust|service|ambulance|paramedics|staff|crews)\b", re.IGNORECASE)
DEMAND = re.compile(
    r"\b(?:i(?:'d| would) like to know|i want to know|i'd like to ask|my question is|"
    r"question for|can (?:the board|you|someone) (?:explain|tell|confirm|say|commit)|"
    r"please (?:explain|tell|confirm|answer|address|clarify|commit)|"
    r"(?:the board|you|trust|management) (?:should|must|need to|needs to|ought to)|"
    r"explain why|tell us (?:why|how|what|when)|wondering (?:why|how|what|when|if|whether)|"
    r"(?:i|we) demand|answer the question|any plans? (?:to|for)|any update on|"
    r"is there any|are there any)\b", re.IGNORECASE)
# Posts about the meeting itself, not for the board.
LIVE = re.compile(r"\b(?:is (?:it|this|the stream) (?:live|on|working|starting)|"
                  r"(?:has|when does|when will) (?:it|the (?:meeting|stream)) (?:start|begin)|"
                  r"(?:can|does) any(?:one|body) (?:else )?(?:hear|see)|no sound|sound is|"
                  r"audio|can'?t hear|cannot hear|mic(?:rophone)?\b|volume|buffering|"
                  r"stream (?:is )?(?:down|frozen|lagging|keeps)|frozen|lagging|"
                  r"link (?:to|for) the stream|where (?:can i|do i) watch|screen is black|"
                  r"is it just me|refresh)", re.IGNORECASE)
GREETING = re.compile(r"^\W*(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|"
                      r"greetings|evening all|morning all|afternoon all|watching from|"
                      r"hello from|hi from|tuning in)\b", re.IGNORECASE)
PRAISE = re.compile(r"\b(?:thank(?:s| you)|thx|cheers|well done|great (?:job|work|answer|point|"
                    r"meeting|question)|brilliant|excellent|fantastic|good point|love this|"
                    r"agree(?:d)?|hear,? hear|spot on|so true|amazing|proud|heroes)\b",
                    re.IGNORECASE)
CHATTER = re.compile(r"^\W*(?:lol|haha+|same|this|\+1|yes+|no+|ok(?:ay)?|wow|omg|true|"
                     r"exactly|indeed|nice|ha|yep|nope)\W*$", re.IGNORECASE)
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Score:
    score: float  # 0 (not a question for the board) .. 1
    reason: str


def score(text: str) -> Score:
    """The question score of one post, with the reason in a moderator's words."""
    body = text.strip()[:2_000]
    words = WORD.findall(body)
    if not words:
        return Score(0.0, "no words")
    asks = "?" in body
    wh = WH_START.search(body) is not None
    aux = AUX_START.search(body) is not None
    demand = DEMAND.search(body) is not None
    if LIVE.search(body) and len(words) < 25:
        return Score(0.1, "about the stream or sound, not for the board")
    if GREETING.search(body) and not (demand or (asks and len(words) > 6)):
        return Score(0.05, "a greeting")
    if CHATTER.match(body) or (len(words) <= 2 and not asks):
        return Score(0.05, "chatter")
    if PRAISE.search(body) and not (asks or demand):
        return Score(0.1, "praise or thanks")
    if demand:
        return Score(0.9, "asks the board to explain or act")
    if asks and (wh or aux):
        return Score(0.95 if len(words) >= 5 else 0.7, "a question" if len(words) >= 5
                     else "a short question")
    if wh or aux:
        return Score(0.75, "phrased as a question (no question mark)")
    if asks:
        return Score(0.6 if len(words) >= 4 else 0.3, "ends with a question mark")
    return Score(0.2, "a statement")


THRESHOLD = 0.5  # at or above: a question for the board
