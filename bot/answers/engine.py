"""The answer engine: question text in, `Answer` out. Pure and deterministic."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

from bot.answers import render
from bot.answers.faqs import FaqIndex
from bot.answers.index import EntityIndex, Match, link_titles
from bot.answers.intents import PROCEDURAL, IntentMatch, clean, correct, detect
from bot.answers.text import clauses, fold, strip_markup
from bot.events import Answer, Intent
from bot.kb.knowledge import Knowledge
from bot.model import OWNABLE_KINDS, Entity, Ref

#: Answers below this confidence come back as `unknown`; calibrated on tests/data/questions.jsonl.
DEFAULT_THRESHOLD = 0.6
_FAQ_THRESHOLD = 0.55
#: A how-to question is most likely an FAQ: a lower bar.
_HOWTO_FAQ_THRESHOLD = 0.45
_SUGGESTION_FLOOR = 0.4
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


def _allowed(ref: Ref, kinds: Collection[str] | None) -> bool:
    return kinds is None or ref.kind in kinds


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
        self._cache: OrderedDict[tuple[str, Intent | None], Answer] = OrderedDict()
        self._cache_size = cache_size
        self.knowledge = knowledge
        self.index = EntityIndex(knowledge)
        self.link_titles = EntityIndex(knowledge, link_titles)
        self.faqs = FaqIndex(knowledge, self.index.weight)
        self.threshold = threshold

    def answer(self, question: str, *, intent: Intent | None = None) -> Answer:
        """Answer `question`; with `intent`, the whole text names the subject of that intent.

        A message often carries context around its question ("who owns X? it broke at
        noon"): each clause is tried too, and the most confident answer wins.
        """
        key = (question, intent)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        answer = self._answer_fresh(question, intent)
        # Only questions of a sensible length are kept: 4,096 kept messages of 40 kB
        # each would hold 160 MB.
        if self._cache_size > 0 and len(question) <= MAX_QUESTION:
            self._cache[key] = answer
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return answer

    def _answer_fresh(self, question: str, intent: Intent | None) -> Answer:
        if len(question) > MAX_MESSAGE:
            return self._too_long()
        text = strip_markup(question)
        whole = fold(text)
        if len(whole) > MAX_QUESTION:
            return self._too_long()
        pieces = clauses(text)  # the whole text first, then its clauses
        parts = list(dict.fromkeys([whole, *(fold(p) for p in pieces[1:])])) if pieces else []
        best = self._answer(parts[0], intent) if parts else self._unknown(())
        if best.confidence >= _SURE or len(parts) < 2:
            return best
        for part in parts[1:]:
            answer = self._answer(part, intent)
            if _better(answer, best):
                best = answer
        return self._topic_and_question(parts[1:], best)

    def _topic_and_question(self, parts: list[str], best: Answer) -> Answer:
        """ "dependency scanning: who is its champion?": the subject in one clause, the
        question in another."""
        if best.intent not in ("unknown", "definition") or best.confidence >= _SURE:
            return best
        asked = [d for d in (detect(clean(p)) for p in parts) if d is not None]
        tried: set[Intent] = set()
        for detected in asked:
            # A later question of an intent tried already would link the same parts with
            # the same kinds: n clauses must not cost n^2 links.
            if detected.intent in tried:
                continue
            tried.add(detected.intent)
            kinds = KINDS_FOR.get(detected.intent)
            for part in parts:
                matches = self.index.link(clean(part), kinds)
                if matches and matches[0].score >= max(self.threshold, best.confidence):
                    return self._found(detected.intent, matches[0], detected)
        return best

    def _answer(self, normal: str, intent: Intent | None) -> Answer:
        text = correct(clean(normal), self.index.knows)
        if not text:
            return self._unknown(())
        if intent is not None and intent in KINDS_FOR:
            matches = self.index.link(text, KINDS_FOR[intent])
            if matches and matches[0].score >= self.threshold:
                return self._found(intent, matches[0])
            return self._retarget(IntentMatch(intent=intent, mention=text), matches)
        detected = detect(text)
        faq = self.faqs.best(text)
        if faq is not None and PROCEDURAL.search(normal) and faq.score >= _HOWTO_FAQ_THRESHOLD:
            return self._faq(faq)
        if detected is None:
            return self._undirected(text, faq)
        matches = self._link(detected)
        best = matches[0] if matches else None
        # A question about an entity ("who owns X") is an FAQ only when asked the way
        # the FAQ is asked, not because the FAQ's answer mentions X.
        faq = self.faqs.best(text, asked_only=True)
        if (
            faq is not None
            and faq.score >= _FAQ_THRESHOLD
            and (best is None or faq.score > best.score)
        ):
            return self._faq(faq)
        if best is None or best.score < self.threshold:
            return self._retarget(detected, matches)
        return self._found(detected.intent, best, detected)

    def _link(self, detected: IntentMatch) -> list[Match]:
        """Entities the mention names; for links, also by the titles of their links."""
        matches = self.index.link(detected.mention, KINDS_FOR[detected.intent])
        if detected.intent != "links" or detected.link_word is None:
            return matches
        titled = self.link_titles.link(f"{detected.mention} {detected.link_word}")
        best = {m.ref: m for m in reversed(matches)}
        for match in titled:
            if match.score > best.get(match.ref, match).score or match.ref not in best:
                best[match.ref] = match
        return sorted(best.values(), key=lambda m: (-m.score, m.ref))

    def about(self, ref: Ref, intent: Intent) -> Answer:
        """The answer of `intent` about a known entity (a clicked suggestion)."""
        if ref not in self.knowledge.entities:
            return self._unknown(())
        if intent not in KINDS_FOR or not _allowed(ref, KINDS_FOR[intent]):
            intent = "definition"
        return self._found(intent, Match(ref=ref, score=1.0, surface=""))

    # -- decisions -----------------------------------------------------------------

    def _undirected(self, text: str, faq: Match | None) -> Answer:
        """No intent phrase: an FAQ, or a bare name taken as "tell me about"."""
        if faq is not None and faq.score >= _FAQ_THRESHOLD:
            return self._faq(faq)
        matches = self.index.link(text)
        if not matches:
            return self._unknown(())
        best = matches[0]
        score = best.score * _BARE_PENALTY
        if score < self.threshold:
            return self._unknown(self._suggest(matches), score)
        return self._found("definition", Match(ref=best.ref, score=score, surface=best.surface))

    def _retarget(self, detected: IntentMatch, matches: list[Match]) -> Answer:
        """The subject is not of a kind the intent expects: answer for the kind it is."""
        unrestricted = KINDS_FOR[detected.intent] is None
        anything = matches if unrestricted else self.index.link(detected.mention)
        if not anything or anything[0].score < self.threshold:
            best_score = anything[0].score if anything else 0.0
            return self._unknown(self._suggest(matches or anything), best_score)
        best = anything[0]
        kind = best.ref.kind
        if kind in OWNABLE_KINDS and detected.intent in ("owner", "members"):
            return self._found("owner", best, detected)
        if kind == "team" and detected.intent == "owner":
            return self._found("owns", best, detected)
        return self._found("definition", best, detected)

    def _found(self, intent: Intent, match: Match, detected: IntentMatch | None = None) -> Answer:
        entity = self.knowledge.entities[match.ref]
        if entity.kind == "faq":
            intent = "faq"  # "what is the process for X" named an FAQ: its answer is the answer
        link_type = detected.link_type if detected else None
        return Answer(
            intent=intent,
            entity=entity.ref,
            confidence=round(min(match.score, 1.0), 4),
            text=self._text(intent, entity, link_type),
        )

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

    def _faq(self, match: Match) -> Answer:
        return self._found("faq", match)

    def _suggest(self, matches: list[Match]) -> tuple[Ref, ...]:
        good = [m.ref for m in matches if m.score >= _SUGGESTION_FLOOR]
        return tuple(good[:_MAX_SUGGESTIONS])

    def _too_long(self) -> Answer:
        return Answer(
            intent="unknown", entity=None, confidence=0.0, text=render.too_long(MAX_QUESTION)
        )

    def _unknown(self, suggestions: tuple[Ref, ...], best: float = 0.0) -> Answer:
        """Not confident: `confidence` is that of the best rejected candidate."""
        return Answer(
            intent="unknown",
            entity=None,
            confidence=round(min(best, 1.0), 4),
            text=render.unknown(self.knowledge, suggestions),
            suggestions=suggestions,
        )
