"""The answer engine: question text in, `Answer` out. Pure and deterministic."""

from __future__ import annotations

from collections.abc import Collection

from bot.answers import render
from bot.answers.index import EntityIndex, Match
from bot.answers.intents import PROCEDURAL, IntentMatch, clean, correct, detect
from bot.answers.text import normalize
from bot.events import Answer, Intent
from bot.kb.knowledge import Knowledge
from bot.model import OWNABLE_KINDS, Entity, Ref

#: Answers below this confidence come back as `unknown`; calibrated on tests/data/questions.jsonl.
DEFAULT_THRESHOLD = 0.6
_FAQ_THRESHOLD = 0.55
#: A how-to question is most likely an FAQ: a lower bar.
_HOWTO_FAQ_THRESHOLD = 0.4
_SUGGESTION_FLOOR = 0.4
_MAX_SUGGESTIONS = 3
#: Without an intent phrase, a bare name is worth a little less.
_BARE_PENALTY = 0.9

KINDS_FOR: dict[Intent, Collection[str] | None] = {
    "owner": OWNABLE_KINDS | {"practice"},
    "members": {"team"},
    "owns": {"team", "person"},
    "links": None,
    "definition": None,
}


def _allowed(ref: Ref, kinds: Collection[str] | None) -> bool:
    return kinds is None or ref.kind in kinds


class AnswerEngine:
    """Answers questions about one knowledge base."""

    def __init__(self, knowledge: Knowledge, *, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")
        self.knowledge = knowledge
        self.index = EntityIndex(knowledge)
        self.threshold = threshold

    def answer(self, question: str, *, intent: Intent | None = None) -> Answer:
        """Answer `question`; with `intent`, the whole text names the subject of that intent."""
        normal = normalize(question)
        text = correct(clean(normal), self.index.knows)
        if not text:
            return self._unknown(())
        if intent is not None and intent in KINDS_FOR:
            matches = self.index.link(text, KINDS_FOR[intent])
            if matches and matches[0].score >= self.threshold:
                return self._answer(intent, matches[0])
            return self._retarget(IntentMatch(intent=intent, mention=text), matches)
        detected = detect(text)
        faq = self.index.faq.best(text)
        if faq is not None and PROCEDURAL.search(normal) and faq.score >= _HOWTO_FAQ_THRESHOLD:
            return self._faq(faq)
        if detected is None:
            return self._undirected(text, faq)
        matches = self.index.link(detected.mention, KINDS_FOR[detected.intent])
        best = matches[0] if matches else None
        if (
            faq is not None
            and faq.score >= _FAQ_THRESHOLD
            and (best is None or faq.score > best.score)
        ):
            return self._faq(faq)
        if best is None or best.score < self.threshold:
            return self._retarget(detected, matches)
        return self._answer(detected.intent, best, detected)

    def about(self, ref: Ref, intent: Intent) -> Answer:
        """The answer of `intent` about a known entity (a clicked suggestion)."""
        if ref not in self.knowledge.entities:
            return self._unknown(())
        if intent not in KINDS_FOR or not _allowed(ref, KINDS_FOR[intent]):
            intent = "definition"
        return self._answer(intent, Match(ref=ref, score=1.0, surface=""))

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
        return self._answer("definition", Match(ref=best.ref, score=score, surface=best.surface))

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
            return self._answer("owner", best, detected)
        if kind == "team" and detected.intent == "owner":
            return self._answer("owns", best, detected)
        return self._answer("definition", best, detected)

    def _answer(self, intent: Intent, match: Match, detected: IntentMatch | None = None) -> Answer:
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
        return self._answer("faq", match)

    def _suggest(self, matches: list[Match]) -> tuple[Ref, ...]:
        good = [m.ref for m in matches if m.score >= _SUGGESTION_FLOOR]
        return tuple(good[:_MAX_SUGGESTIONS])

    def _unknown(self, suggestions: tuple[Ref, ...], best: float = 0.0) -> Answer:
        """Not confident: `confidence` is that of the best rejected candidate."""
        return Answer(
            intent="unknown",
            entity=None,
            confidence=round(min(best, 1.0), 4),
            text=render.unknown(self.knowledge, suggestions),
            suggestions=suggestions,
        )
