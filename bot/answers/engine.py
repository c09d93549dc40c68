"""The answer engine: question text in, `Answer` out. Pure and deterministic."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

from bot.answers import render
from bot.answers.faqs import FaqIndex
from bot.answers.index import EntityIndex, Match, link_titles
from bot.answers.intents import (
    PERSON_FACTS,
    PROCEDURAL,
    IntentMatch,
    clean,
    correct,
    detect,
    names_nothing,
)
from bot.answers.text import clauses, fold, strip_markup
from bot.events import Answer, Detail, Intent
from bot.kb.knowledge import Knowledge
from bot.model import OWNABLE_KINDS, Entity, Ref

#: Answers below this confidence come back as `unknown`: the one bar every answer meets,
#: FAQs included. Calibrated on tests/data/questions.jsonl.
DEFAULT_THRESHOLD = 0.6
#: A how-to question is most likely an FAQ: that counts as evidence besides the words
#: it shares with the FAQ. Calibrated: a how-to match of 0.45 (the former bar for them)
#: is as often right as an entity match of 0.6.
_HOWTO_FAQ_BONUS = 0.15
#: Two entities this close ("security" names a team and an area) are both likely: the
#: question is asked back rather than one of them guessed. It is the index's own margin of
#: ambiguity: a runner-up within 0.1 of the top match (which the index lowers for it, so
#: the runner-up may even come out ahead).
_CLOSE = 0.1
#: A third candidate joins a question back when it is this close to the second.
_ALSO_CLOSE = 0.05
#: The confidence of a follow-up ("and the runbook?") about the previous answer's entity.
_FOLLOW_UP = 0.9
_SUGGESTION_FLOOR = 0.25
CACHE_SIZE = 4096
#: An answer this confident needs no second look at the message's other clauses.
_SURE = 0.95
_MAX_SUGGESTIONS = 3
#: Without an intent phrase, a bare name is worth a little less.
_BARE_PENALTY = 0.9
#: The longest question looked up, in characters of its normalised words (markup, emoji
#: and punctuation do not count). The longest question in the evaluation sets is 80;
#: 1,000 leaves room for a question with a paragraph of context around it ("who owns
#: X? it broke at noon ..."), and keeps the work on one message to milliseconds.
MAX_QUESTION = 1_000
#: A message longer than this is refused unread: it is Slack's limit for a message's
#: text, and room enough for a question with a long link pasted in it.
MAX_MESSAGE = 40_000

KINDS_FOR: dict[Intent, Collection[str] | None] = {
    "owner": OWNABLE_KINDS | {"practice"},
    "members": {"team"},
    "owns": {"team", "person"},
    "links": None,
    "definition": None,
}
_LINK_DETAILS: frozenset[Detail] = frozenset({"runbook", "dashboard", "repo", "docs"})
_OWNER_FACTS: frozenset[Detail] = frozenset({"backup", "oncall", "channel", "email", "lead"})


def _intent_for(intent: Intent, kind: str) -> Intent:
    """The intent a question gets about an entity of `kind` (the subject is not always of
    the kind the question expects: "who owns ML Platform" asks what the team owns)."""
    if _allowed_kind(kind, KINDS_FOR.get(intent)):
        return intent
    if kind in OWNABLE_KINDS and intent in ("owner", "members"):
        return "owner"
    if kind == "team" and intent == "owner":
        return "owns"
    return "definition"


def _allowed_kind(kind: str, kinds: Collection[str] | None) -> bool:
    return kinds is None or kind in kinds


def _resolve(intent: Intent, detail: Detail | None, kind: str) -> tuple[Intent, Detail | None]:
    """The intent and detail of an answer about an entity of `kind`, as the contract says:
    the backup, on-call, channel, e-mail or lead of something owned is an owner answer;
    of a team or person, a definition; runbooks and dashboards are links."""
    if detail is None:
        return _intent_for(intent, kind), None
    if detail in _LINK_DETAILS:
        return "links", detail
    if detail == "members":
        return ("members", "members") if kind == "team" else (_intent_for(intent, kind), None)
    ownable = kind in OWNABLE_KINDS or kind == "practice"
    if detail in _OWNER_FACTS:
        return ("owner" if ownable else "definition"), detail
    if detail == "description":
        return "definition", "role" if kind == "person" else "description"
    # A person's teams or role; a team's parent team.
    if kind == "person" or (kind == "team" and detail == "member_of"):
        return "definition", detail
    return ("owner" if ownable else "definition"), None


def _better(answer: Answer, than: Answer) -> bool:
    """An answer beats an "I don't know"; between two of a kind, the more confident wins."""
    known, other_known = answer.intent != "unknown", than.intent != "unknown"
    if known != other_known:
        return known
    return answer.confidence > than.confidence


class AnswerEngine:
    """Answers questions about one knowledge base."""

    def __init__(
        self,
        knowledge: Knowledge,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")
        # Answers depend only on the question and this (immutable) knowledge: the same
        # question asked again is answered from memory until the knowledge is reloaded.
        self._cache: OrderedDict[tuple[str, Intent | None, Ref | None], Answer] = OrderedDict()
        self._cache_size = cache_size
        self.knowledge = knowledge
        self.index = EntityIndex(knowledge)
        self.link_titles = EntityIndex(knowledge, link_titles)
        self.faqs = FaqIndex(knowledge, self.index.weight)
        self.threshold = threshold
        #: An entity to name in a question back ("e.g. “who owns Batch inference”").
        self._example = min((e.ref for e in knowledge.ownables()), default=None)

    def answer(
        self, question: str, *, intent: Intent | None = None, about: Ref | None = None
    ) -> Answer:
        """Answer `question`; with `intent`, the whole text names the subject of that intent.

        A message often carries context around its question ("who owns X? it broke at
        noon"): each clause is tried too, and the most confident answer wins.

        `about` is the entity of the conversation so far (the caller's to keep): a
        question naming no entity of its own ("and the runbook?", "who's their lead?")
        is about it. Without it, such a question is asked back. The answer depends on
        nothing else: the same question, knowledge and `about` give the same answer.
        """
        key = (question, intent, about)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        answer = self._answer_fresh(question, intent, about)
        # Only questions of a sensible length are kept: 4,096 kept messages of 40 kB
        # each would hold 160 MB.
        if self._cache_size > 0 and len(question) <= MAX_QUESTION:
            self._cache[key] = answer
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return answer

    def _answer_fresh(self, question: str, intent: Intent | None, about: Ref | None) -> Answer:
        if len(question) > MAX_MESSAGE:
            return self._too_long()
        text = strip_markup(question)
        whole = fold(text)
        if len(whole) > MAX_QUESTION:
            return self._too_long()
        pieces = clauses(text)  # the whole text first, then its clauses
        parts = list(dict.fromkeys([whole, *(fold(p) for p in pieces[1:])])) if pieces else []
        if not parts:
            return self._unknown(())
        # Only the whole message may be a follow-up: a clause without a subject ("who is
        # its champion?") may have its subject in another clause of the same message.
        best = self._answer(parts[0], intent, about)
        if best.confidence >= _SURE or len(parts) < 2 or (about and best.entity == about):
            return best
        for part in parts[1:]:
            answer = self._answer(part, intent, None)
            if _better(answer, best):
                best = answer
        return self._topic_and_question(parts[1:], best)

    def _topic_and_question(self, parts: list[str], best: Answer) -> Answer:
        """ "dependency scanning: who is its champion?": the subject in one clause, the
        question in another."""
        if best.intent not in ("unknown", "definition") or best.confidence >= _SURE:
            return best
        detections = [(p, detect(clean(p))) for p in parts]
        asked = [d for _, d in detections if d is not None]
        # The subject is in a clause that asks nothing ("who is the backup" names no
        # entity, even if "backup" is a word of one).
        topics = [p for p, d in detections if d is None]
        tried: set[Intent] = set()
        for detected in asked:
            # A later question of an intent tried already would link the same parts with
            # the same kinds: n clauses must not cost n^2 links.
            if detected.intent in tried:
                continue
            tried.add(detected.intent)
            kinds = KINDS_FOR.get(detected.intent)
            for part in topics:
                matches = self.index.link(clean(part), kinds)
                if self._close(matches):
                    continue  # this clause names two things as well: no guessing
                if matches and matches[0].score >= max(self.threshold, best.confidence):
                    return self._found(detected.intent, matches[0], detected)
        return best

    def _answer(self, normal: str, intent: Intent | None, about: Ref | None) -> Answer:
        text = correct(clean(normal), self.index.knows)
        if not text:
            return self._unknown(())
        if intent is not None and intent in KINDS_FOR:
            return self._command(text, intent, about)
        detected = detect(text)
        faq = self.faqs.best(text)
        howto = faq is not None and PROCEDURAL.search(normal) and self._faq_sure(faq, howto=True)
        # "where do I ask about the feature store?" asks a fact of what it names: a how-to
        # FAQ sharing a word with it must beat that entity, not merely the threshold.
        fact = detected is not None and detected.detail is not None and not detected.weak
        if howto and faq is not None and not fact:
            return self._faq(faq, howto=True)
        if detected is not None and detected.subjectless:
            return self._follow_up(detected, about)
        detected, matches = self._reading(text, detected)
        if detected is None:
            return self._undirected(text, faq)
        if detected.subjectless:
            return self._follow_up(detected, about)
        best = matches[0] if matches else None
        if (
            howto
            and faq is not None
            and (best is None or _faq_confidence(faq, howto=True) > best.score)
        ):
            return self._faq(faq, howto=True)
        # A question about an entity ("who owns X") is an FAQ only when asked the way
        # the FAQ is asked, not because the FAQ's answer mentions X.
        faq = self.faqs.best(text, asked_only=True)
        if faq is not None and self._faq_sure(faq) and (best is None or faq.score > best.score):
            return self._faq(faq)
        return self._decide(detected, matches)

    def _command(self, text: str, intent: Intent, about: Ref | None) -> Answer:
        """`/ops who-owns X`: the whole text names the subject of `intent`."""
        detected = IntentMatch(intent=intent, mention=text)
        if names_nothing(text):
            return self._follow_up(detected, about)  # "/ops links it"
        return self._decide(detected, self.index.link(text, KINDS_FOR[intent]))

    def _reading(
        self, text: str, detected: IntentMatch | None
    ) -> tuple[IntentMatch | None, list[Match]]:
        """The reading of the question that names something, and what it names.

        A fact asked of what cannot have it ("the role of an ML engineer" asks about the
        role), or a name that ends in a fact's word ("secrets manager") is read without
        the fact.
        """
        if detected is None or detected.detail is None:
            return detected, self._link(detected) if detected is not None else []
        person = detected.detail in PERSON_FACTS
        if not person and not detected.weak:
            return detected, self._link(detected)
        kinds = {"person"} if person else KINDS_FOR[detected.intent]
        matches = self.index.link(detected.mention, kinds)
        top = max((m.score for m in matches[:2]), default=0.0)
        fits = top >= self.threshold
        if fits and detected.weak:
            # "X backup" is a fact of X only when X clearly names something, better than
            # the whole phrase does ("secrets manager" names secrets management).
            named = self.index.link(detected.phrase)
            clear = not self._close(matches)
            fits = clear and (not named or named[0].score < top)
        if fits:
            return detected, matches
        plain = detect(text, facts=False)
        return plain, self._link(plain) if plain is not None else []

    def _link(self, detected: IntentMatch) -> list[Match]:
        """Entities the mention names; for links, also by the titles of their links."""
        matches = self.index.link(detected.mention, KINDS_FOR[detected.intent])
        if detected.intent != "links" or detected.link_word is None:
            return matches
        # A link title found by the link word alone ("Runbook") names no entity.
        titled = [
            m
            for m in self.link_titles.link(f"{detected.mention} {detected.link_word}")
            if m.score >= self.threshold
        ]
        if not titled:
            return matches  # as ranked: a top match lowered for a close runner-up stays first
        best = {m.ref: m for m in reversed(matches)}
        for match in titled:
            if match.score > best.get(match.ref, match).score or match.ref not in best:
                best[match.ref] = match
        return sorted(best.values(), key=lambda m: (-m.score, m.ref))

    def about(self, ref: Ref, intent: Intent, detail: Detail | None = None) -> Answer:
        """The answer of `intent` (and `detail`) about a known entity (a clicked suggestion)."""
        if ref not in self.knowledge.entities:
            return self._unknown(())
        if intent not in KINDS_FOR or (
            detail is None and not _allowed_kind(ref.kind, KINDS_FOR[intent])
        ):
            intent = "definition"
        asked = IntentMatch(intent=intent, mention="", detail=detail, link_type=_link_type(detail))
        return self._found(intent, Match(ref=ref, score=1.0, surface=""), asked)

    # -- decisions -----------------------------------------------------------------

    def _follow_up(self, detected: IntentMatch, about: Ref | None) -> Answer:
        """A question naming no subject: about the conversation's entity, else asked back."""
        if about is None or about not in self.knowledge.entities:
            return self._clarify(detected, ())
        previous = Match(ref=about, score=_FOLLOW_UP, surface="")
        if self.threshold > _FOLLOW_UP:  # a bar this high takes no subject on trust
            return self._clarify(detected, (previous,))
        return self._found(detected.intent, previous, detected)

    def _decide(self, detected: IntentMatch, matches: list[Match]) -> Answer:
        """Answer about the entity that clearly wins; ask back when two are as likely."""
        close = self._close(matches)
        if close:
            return self._clarify(detected, close)
        if matches and matches[0].score >= self.threshold:
            return self._found(detected.intent, matches[0], detected)
        return self._retarget(detected, matches)

    def _close(self, matches: list[Match]) -> tuple[Match, ...]:
        """The likely candidates when no entity clearly wins, else ().

        Two are both likely when the runner-up scores about as well as the top match
        (which the index has lowered already for having a close runner-up) and one of
        them would pass the threshold.
        """
        if len(matches) < 2:
            return ()
        top, second = matches[0], matches[1]
        if second.score < top.score - _CLOSE or max(top.score, second.score) < self.threshold:
            return ()
        third = [m for m in matches[2:3] if m.score >= second.score - _ALSO_CLOSE]
        return (top, second, *third)

    def _undirected(self, text: str, faq: Match | None) -> Answer:
        """No intent phrase: an FAQ, or a bare name taken as "tell me about"; the FAQ only
        when it is more likely than the name ("kafka" is the Kafka area, not the FAQ on
        Kafka topics)."""
        matches = self.index.link(text)
        bare = [Match(ref=m.ref, score=m.score * _BARE_PENALTY, surface=m.surface) for m in matches]
        named = max((m.score for m in matches[:2]), default=0.0)
        if faq is not None and self._faq_sure(faq) and _faq_confidence(faq, howto=False) > named:
            return self._faq(faq)
        if not matches:
            return self._unknown(())
        close = self._close(bare)
        if close:
            return self._clarify(IntentMatch(intent="definition", mention=text), close)
        if bare[0].score < self.threshold:
            return self._unknown(self._suggest(matches), bare[0].score)
        return self._found("definition", bare[0])

    def _retarget(self, detected: IntentMatch, matches: list[Match]) -> Answer:
        """The subject is not of a kind the intent expects: answer for the kind it is."""
        unrestricted = KINDS_FOR[detected.intent] is None
        anything = matches if unrestricted else self.index.link(detected.mention)
        close = () if unrestricted else self._close(anything)
        if close:
            return self._clarify(detected, close)
        if not anything or anything[0].score < self.threshold:
            best_score = anything[0].score if anything else 0.0
            return self._unknown(self._suggest(matches or anything), best_score, detected)
        return self._found(detected.intent, anything[0], detected)

    def _found(self, intent: Intent, match: Match, detected: IntentMatch | None = None) -> Answer:
        entity = self.knowledge.entities[match.ref]
        intent, detail = _resolve(intent, detected.detail if detected else None, entity.kind)
        if entity.kind == "faq":
            # "what is the process for X" named an FAQ: its answer is the answer
            intent, detail = "faq", None
        link_type = detected.link_type if detected else None
        body = self._text(intent, entity, link_type)
        fact = render.fact(self.knowledge, entity, detail)
        return Answer(
            intent=intent,
            entity=entity.ref,
            confidence=round(min(match.score, 1.0), 4),
            text=f"{fact} {body}" if fact else body,
            detail=detail,
        )

    def _clarify(self, detected: IntentMatch, close: tuple[Match, ...]) -> Answer:
        """Ask back: which of the close candidates, or (none) which one at all.

        Its confidence is the top candidate's share of the likelihood, kept below the
        threshold: no single answer is likely enough to give.
        """
        refs = tuple(m.ref for m in close)
        share = close[0].score * close[0].score / sum(m.score for m in close) if close else 0.0
        return Answer(
            intent="unknown",
            entity=None,
            confidence=self._below(share),
            text=render.clarify(self.knowledge, refs, self._example_question(detected)),
            suggestions=refs,
            detail=detected.detail,
            asked=detected.intent,
        )

    def _example_question(self, detected: IntentMatch) -> str | None:
        if self._example is None:
            return None
        title = self.knowledge.title(self._example)
        if detected.detail is not None:
            noun = "on-call" if detected.detail == "oncall" else detected.detail
            return f"the {noun.replace('_', ' ')} for {title}"
        return {
            "owner": f"who owns {title}",
            "links": f"links for {title}",
            "definition": f"what is {title}",
        }.get(detected.intent, f"who owns {title}")

    def _text(self, intent: Intent, entity: Entity, link_type: str | None) -> str:
        k = self.knowledge
        match intent:
            case "owner":
                return render.owner(k, entity)
            case "links":
                return render.links(k, entity, link_type)
            case "members":
                return render.members(k, entity)
            case "owns":
                return render.owns(k, entity)
            case "faq":
                return render.faq(entity)
            case _:
                return render.definition(k, entity)

    def _faq_sure(self, match: Match, *, howto: bool = False) -> bool:
        return _faq_confidence(match, howto=howto) >= self.threshold

    def _faq(self, match: Match, *, howto: bool = False) -> Answer:
        score = _faq_confidence(match, howto=howto)
        return self._found("faq", Match(ref=match.ref, score=score, surface=match.surface))

    def _suggest(self, matches: list[Match]) -> tuple[Ref, ...]:
        good = [m.ref for m in matches if m.score >= _SUGGESTION_FLOOR]
        return tuple(good[:_MAX_SUGGESTIONS])

    def _too_long(self) -> Answer:
        return Answer(
            intent="unknown", entity=None, confidence=0.0, text=render.too_long(MAX_QUESTION)
        )

    def _below(self, confidence: float) -> float:
        """The confidence of an answer not given: below the threshold, also once rounded."""
        return round(min(confidence, max(0.0, self.threshold - 0.0001)), 4)

    def _unknown(
        self, suggestions: tuple[Ref, ...], best: float = 0.0, asked: IntentMatch | None = None
    ) -> Answer:
        """Not confident: `confidence` is that of the best rejected candidate. What was
        asked is kept, so that a suggestion picked answers it."""
        return Answer(
            intent="unknown",
            entity=None,
            confidence=self._below(best),
            text=render.unknown(self.knowledge, suggestions),
            suggestions=suggestions,
            detail=None if asked is None else asked.detail,
            asked=None if asked is None or not suggestions else asked.intent,
        )


def _faq_confidence(match: Match, *, howto: bool) -> float:
    """An FAQ match's confidence: its words' likeness, and for a how-to question the
    evidence that it asks for a procedure."""
    return min(1.0, match.score + (_HOWTO_FAQ_BONUS if howto else 0.0))


def _link_type(detail: Detail | None) -> str | None:
    return detail if detail in _LINK_DETAILS else None
