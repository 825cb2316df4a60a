"""How much a post is a question for the board, and why.

A post scores high when it asks something or demands something of the board (a question mark,
a question word leading a clause, "I'd like to know", "the board should"), and low when it is a
greeting, "is it live", a sound or stream complaint, praise, thanks or chatter. The score orders
and filters Incoming; the reason is shown on the card so a moderator can see why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WH = r"(?:what|why|when|where|who|whom|whose|which|how|whats|wheres|whens|hows)"
_AUX = (r"(?:is|are|was|were|will|would|can|could|should|shall|do|does|did|has|have|had|may|"
        r"might|must|isn't|aren't|won't|wouldn't|can't|couldn't|shouldn't|don't|doesn't|didn't|"
        r"hasn't|haven't)")
WH_START = re.compile(r"(?:^|[.!?\n]\s*|\b(?:so|and|but|also|then|ok|okay)\s+)" + _WH + r"\b",
                      re.IGNORECASE)
AUX_START = re.compile(r"(?:^|[.!?\n]\s*)" + _AUX + r"\s+(?:the|you|we|they|it|there|anyone|"
                       r"any|a|an|this|that|these|those|our|your|i|he|she|someone|board|"
                       r"trust|service|ambulance|paramedics|staff|crews)\b", re.IGNORECASE)
# A yes-or-no question with any subject ("is covid airborne", "can vaccines change DNA"); not
# "Will Smith" or "May Day" (a capitalised name after a capitalised first word).
# Tweets drop their subject ("Can't wait", "Didn't know", "Was great", "Must be"), and "Do it"
# commands: none of those forms.
AUX_ANY = re.compile(r"(?:^|[.!?\n]\s*)(?P<aux>is|are|will|would|can|could|should|does|do|did|"
                     r"has)\s+(?P<next>[^\W\d_][\w'-]*)", re.IGNORECASE)
COMMANDED = frozenset("it this that not something so your yourself me us them what whatever "
                      "be".split())
# The subject after the verb inside a sentence ("if I test positive, should I isolate"), not
# after "so", "nor", "neither", "as" or "than" ("so do I").
INVERTED = re.compile(r"(?<!\bso )(?<!\bnor )(?<!\bas )(?<!\bthan )(?<!\bneither )\b"
                      r"(?:is|are|was|were|will|would|can|could|should|do|does|did)\s+"
                      r"(?:i|you|we|they|he|she)\b(?!['’])", re.IGNORECASE)
DEMAND = re.compile(
    r"\b(?:i(?:'d| would) like to know|i want to know|i'd like to ask|my question is|"
    r"question for|can (?:the board|you|someone) (?:explain|tell|confirm|say|commit)|"
    r"please (?:explain|tell|confirm|answer|address|clarify|commit)|"
    r"(?:the board|you|trust|management) (?:should|must|need to|needs to|ought to)|"
    r"explain why|tell us (?:why|how|what|when)|wondering (?:why|how|what|when|if|whether)|"
    r"(?:i|we) demand|answer the question|any plans? (?:to|for)|any update on|"
    r"is there any|are there any)\b", re.IGNORECASE)
# Posts about this meeting's stream or sound, not for the board. Each phrase names the meeting,
# its stream or its sound ("the stream", "the mic", "no sound", "can't hear the chair"): a stream
# word alone is not enough ("What is the volume of blood in the body?", "Where can I watch the
# series online?", "Who plays Olaf in Frozen?" are questions, on the real NQ questions too).
_MEDIUM = (r"(?:stream|live ?stream|feed|broadcast|video|picture|sound|audio|mic|microphone|"
           r"volume|webcast|livestream|youtube link|link|captions|subtitles)")
_HERE = r"(?:the|this|your|ur|their|today's|tonight's)"
_TROUBLE = (r"(?:down|dead|frozen|freezing|froze|lagging|lags|laggy|buffering|stuttering|"
            r"choppy|terrible|awful|rubbish|dreadful|cutting out|cut out|"
            r"keeps? (?:dropping|cutting|stopping|freezing|buffering)|not working|"
            r"isn'?t working|stopped|gone|off|muted|on mute|(?:too |really |very |so )?(?:low|"
            r"quiet|loud)|"
            r"crackling|echoing|broken|black|blank|out of sync)")
LIVE = re.compile(
    r"\b(?:"
    r"is (?:it|this|the (?:stream|meeting|feed|broadcast)) (?:live|on|working|starting|"
    r"started)(?: yet)?\b|"
    r"(?:has|when does|when will|what time does|what time will) (?:it|this|the (?:meeting|"
    r"stream|broadcast|webcast)) (?:start|begin|go live|be live)"
    r"(?=\s*(?:yet|again)?\s*(?:[?.!]|$))|"
    r"(?:can|does|could) any(?:one|body) (?:else )?(?:hear|see) (?:it|this|that|anything|"
    r"the|him|her|them|a thing)|"
    r"(?:no|lost|lost the|losing the|bad|poor) (?:sound|audio|picture|video|stream|feed)\b|"
    r"(?:can'?t|cannot|can not|couldn'?t|unable to) (?:hear (?:the|anything|a thing|a word|him|"
    r"her|them|you|it)\b|see (?:anything|a thing|the (?:stream|screen|video|slides|picture|feed|"
    r"chair|speakers?|presentation))\b)|"
    r"(?:^|" + _HERE + r" )" + _MEDIUM +
    r"(?: is| has| keeps| just| seems| seems to be| has been| is still)?"
    r" (?:" + _TROUBLE + r")|"
    r"(?:turn|put|switch) (?:up|on|down) " + _HERE + r" (?:mic|microphone|sound|volume|audio)|"
    r"(?:turn|put|switch) " + _HERE + r" (?:mic|microphone|sound|volume|audio) (?:up|on|down)|"
    r"(?:link|url) (?:to|for) (?:the|this|today's) (?:stream|meeting|broadcast|webcast)|"
    r"where (?:can|do|should) (?:i|we) (?:watch|see|find|stream) (?:the meeting|this meeting|"
    r"it live|the stream|the live ?stream|the broadcast|the webcast|today'?s meeting|"
    r"(?:this|it)(?=\s*[?.!]*$))|"
    r"screen(?:'s| is| has| went| gone)? (?:black|blank|frozen)|"
    r"mic(?:rophone)? (?:is |isn'?t |not )?(?:on|off|muted|working)\b|"
    r"(?:is it|it'?s) just me(?: or)? (?:is |the )?(?:the )?" + _MEDIUM +
    r"|refresh(?:ed|ing)? (?:the )?(?:page|stream|browser)|"
    r"refresh(?:ing)? (?:fixed|fixes|helped|helps|worked|works))", re.IGNORECASE)
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
    aux = AUX_START.search(body) is not None or _yes_or_no(body)
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


def asks(text: str) -> bool:
    """Whether ``text`` is phrased as a question or a demand to the board (whatever else it is:
    ``score`` says that); ``asked`` keeps the sentences of a post that do."""
    return ("?" in text or WH_START.search(text) is not None or DEMAND.search(text) is not None
            or AUX_START.search(text) is not None or _yes_or_no(text))


def _yes_or_no(body: str) -> bool:
    for m in AUX_ANY.finditer(body):
        aux, after = m.group("aux"), m.group("next")
        named = aux[0].isupper() and after[0].isupper()
        if not named and not (aux.lower() == "do" and after.lower() in COMMANDED):
            return True
    return INVERTED.search(body) is not None


THRESHOLD = 0.5  # at or above: a question for the board
