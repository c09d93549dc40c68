"""FAQ matching: a question against every field of each FAQ and the words related to them.

An FAQ is found by the words of the ways it is asked (`questions`, title, aliases) and,
at lower weights, by its tags, link titles, answer, and the words of what its text
names: a glossary term or an area it mentions brings its aliases and description along
as related words ("annotation" for an FAQ whose answer names "data labelling").

The score blends two views, as FAQ retrieval usually does:
  - how closely the question matches one way the FAQ is asked (a fuzzy, weighted Dice
    overlap of content words), and
  - how much of the question the FAQ as a whole explains (each question word counted
    by how telling it is, times the weight of the field it is found in), over a
    pseudo-count so that one shared word is weak evidence and three are strong.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.answers.index import Match
from bot.answers.related import related_words
from bot.answers.text import fold, topic_words
from bot.kb.knowledge import Knowledge
from bot.model import OWNABLE_KINDS, Entity, FAQSpec, PracticeSpec, Ref, RoleSpec

#: How much a word found in each field of an FAQ says that the question is this FAQ.
ASKED = 1.0
TAGS = 0.8
LINKS = 0.7
ANSWER = 0.7
RELATED_NAME = 0.6
RELATED_TEXT = 0.45
#: How much a word related to a question word (`related.txt`) counts as that word
#: (measured: 0.6 and 0.7 find more paraphrases but answer more how-tos wrongly).
RELATED_WORD = 0.5
#: Kinds whose names, met in an FAQ's text, lend it their words.
_RELATED_KINDS = OWNABLE_KINDS | {"term", "practice"}
#: The question's own weight is padded by this many average words: one shared word
#: explains a one-word question entirely, but is not much evidence for any FAQ.
PSEUDO_WORDS = 0.5
_FUZZY_MIN_LEN = 4
_FUZZY_CUTOFF = 84.0
#: Float sums may exceed their exact bound by an ulp: bounds are widened this much.
_BOUND_SLACK = 1.000001
_URL = re.compile(r"\]\([^)]*\)|<?(?:https?|mailto):[^\s>)]+>?|`[^`]*`")
#: A word with a digit that the knowledge never uses ("10k", "3am") is a quantity or a
#: time, not a topic: it weighs as little as the commonest word.
_DIGIT = re.compile(r"[0-9]")


def prose(text: str) -> str:
    """Markdown prose without link targets, URLs and inline code, folded."""
    if ":" in text or "`" in text:  # every URL and code span has one
        text = _URL.sub(" ", text)
    return fold(text)


def words_of(text: str) -> list[str]:
    return topic_words(prose(text))


def full_text(entity: Entity) -> Iterator[str]:
    """Every piece of text an entity holds, for how common each word is."""
    yield entity.ref.name.replace("-", " ").replace("_", " ").replace(".", " ")
    yield entity.title
    yield from entity.aliases
    yield from entity.tags
    if entity.description:
        yield entity.description
    for link in entity.links:
        yield link.title
    spec = entity.spec
    if isinstance(spec, FAQSpec):
        yield from spec.questions
        yield spec.answer
    elif isinstance(spec, PracticeSpec):
        yield from (spec.why or "", *spec.how)
    elif isinstance(spec, RoleSpec):
        yield from (*spec.responsibilities, *spec.skills)


class Vocabulary:
    """How telling each (stemmed) word is: its inverse document frequency over every
    entity's text. A word the knowledge never uses weighs as much as the rarest."""

    def __init__(self, knowledge: Knowledge) -> None:
        df: defaultdict[str, int] = defaultdict(int)
        for entity in knowledge:
            for word in set(words_of("\n".join(full_text(entity)))):
                df[word] += 1
        total = max(len(knowledge), 1)
        self.idf = {w: math.log(1 + total / n) for w, n in df.items()}
        self.unknown = math.log(1 + total)
        self.common = min(self.idf.values(), default=1.0)

    def weight(self, word: str) -> float:
        found = self.idf.get(word)
        if found is not None:
            return found
        return self.common if _DIGIT.search(word) else self.unknown


@dataclass(frozen=True, kw_only=True)
class _Faq:
    ref: Ref
    variants: tuple[tuple[tuple[str, ...], float], ...]  # (words, their total weight)
    fields: dict[str, float]  # word -> weight of the best field it occurs in


@dataclass(frozen=True, kw_only=True)
class _Question:
    """A question's words, weighed and matched to the vocabulary once for all FAQs."""

    words: tuple[tuple[float, tuple[tuple[str, float], ...]], ...]  # (weight, similar)
    closest: dict[str, float]  # vocabulary word -> its best similarity to a question word
    own: float  # the question words' total weight

    @classmethod
    def of(
        cls,
        words: tuple[str, ...],
        similar: dict[str, dict[str, float]],
        weight: Callable[[str], float],
    ) -> _Question:
        closest: dict[str, float] = {}
        for found in similar.values():
            for v, s in found.items():
                if s > closest.get(v, 0.0):
                    closest[v] = s
        weighed = tuple((weight(word), tuple(similar[word].items())) for word in words)
        return cls(words=weighed, closest=closest, own=sum(w for w, _ in weighed))


class _Names:
    """Names of related entities (terms, areas, practices) as word sequences."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.words: dict[tuple[str, ...], list[Entity]] = defaultdict(list)
        for entity in knowledge.of_kind(*_RELATED_KINDS):
            for name in {entity.ref.name.replace("-", " "), entity.title, *entity.aliases}:
                key = tuple(words_of(name))
                if key:
                    self.words[key].append(entity)
        self.longest = max((len(k) for k in self.words), default=0)

    def mentioned(self, words: list[str]) -> Iterable[Entity]:
        """Entities named by a run of `words`."""
        for size in range(min(self.longest, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                yield from self.words.get(tuple(words[start : start + size]), ())


def _related(entity: Entity) -> Iterator[tuple[str, float]]:
    for name in (entity.title, *entity.aliases):
        for word in words_of(name):
            yield word, RELATED_NAME
    if entity.description:
        for word in words_of(entity.description):
            yield word, RELATED_TEXT


def _document(entity: Entity, spec: FAQSpec, names: _Names) -> dict[str, float]:
    fields: dict[str, float] = {}

    def add(words: Iterable[str], weight: float) -> None:
        for word in words:
            if weight > fields.get(word, 0.0):
                fields[word] = weight

    asked = [words_of(t) for t in (*spec.questions, entity.title, *entity.aliases)]
    answer = words_of(spec.answer)
    add((w for ws in asked for w in ws), ASKED)
    add((w for tag in entity.tags for w in words_of(tag.replace("-", " "))), TAGS)
    add((w for link in entity.links for w in words_of(link.title)), LINKS)
    add(answer, ANSWER)
    for words in (*asked, answer):
        for other in names.mentioned(words):
            if other.ref != entity.ref:
                for word, weight in _related(other):
                    add((word,), weight)
    return fields


class FaqIndex:
    """Finds the FAQ a whole question asks, by all of its fields."""

    def __init__(self, knowledge: Knowledge, weight: Callable[[str], float] | None = None) -> None:
        # `weight` is accepted for compatibility; FAQs weigh words by all of the
        # knowledge's text, not by names only.
        del weight
        self.vocabulary = Vocabulary(knowledge)
        self.related = related_words()
        self.weight = self.vocabulary.weight
        names = _Names(knowledge)
        self.faqs: list[_Faq] = []
        self.postings: dict[str, list[int]] = defaultdict(list)
        for entity in knowledge.of_kind("faq"):
            assert isinstance(entity.spec, FAQSpec)
            variants = []
            for text in (*entity.spec.questions, entity.title, *entity.aliases):
                words = tuple(dict.fromkeys(words_of(text)))
                if words:
                    variants.append((words, sum(map(self.weight, words))))
            fields = _document(entity, entity.spec, names)
            fid = len(self.faqs)
            self.faqs.append(_Faq(ref=entity.ref, variants=tuple(variants), fields=fields))
            for word in fields:
                self.postings[word].append(fid)
        self.vocab = sorted(self.postings)
        self.mean_weight = (
            sum(map(self.weight, self.vocab)) / len(self.vocab) if self.vocab else 1.0
        )
        #: The last question looked up, with its best FAQ both ways: a question is
        #: usually looked up both ways in a row, and one pass finds both.
        self._last: tuple[str, Match | None, Match | None] | None = None

    def _similar(self, word: str) -> dict[str, float]:
        """The FAQ words like `word`: itself, a close spelling, or a related word."""
        if word in self.postings:
            similar = {word: 1.0}
        elif len(word) < _FUZZY_MIN_LEN:
            similar = {}
        else:
            found = process.extract(
                word, self.vocab, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=3
            )
            similar = {choice: score / 100.0 for choice, score, _ in found}
        for other in self.related.get(word, ()):
            if other in self.postings and other not in similar:
                similar[other] = RELATED_WORD
        return similar

    def best(self, question: str, *, asked_only: bool = False) -> Match | None:
        """The FAQ `question` (normalised text) most likely asks, with its score; with
        `asked_only`, by the ways each FAQ is asked alone."""
        last = self._last
        if last is None or last[0] != question:
            last = self._last = (question, *self._best_both_ways(question))
        return last[2] if asked_only else last[1]

    def _best_both_ways(self, question: str) -> tuple[Match | None, Match | None]:
        words = tuple(dict.fromkeys(topic_words(question)))
        if not self.faqs or not words:
            return None, None
        similar = {w: self._similar(w) for w in words}
        candidates = sorted({fid for s in similar.values() for v in s for fid in self.postings[v]})
        asked = _Question.of(words, similar, self.weight)
        best: Match | None = None
        best_asked: Match | None = None
        for fid in candidates:
            faq = self.faqs[fid]
            dice, explained, surface = self._score(
                faq,
                asked,
                beat=-1.0 if best_asked is None else best_asked.score,
                beat_both=-1.0 if best is None else best.score,
            )
            score = min(dice + (1.0 - dice) * explained, 1.0)
            if best is None or score > best.score:
                best = Match(ref=faq.ref, score=score, surface=surface)
            if best_asked is None or dice > best_asked.score:
                best_asked = Match(ref=faq.ref, score=dice, surface=surface)
        return best, best_asked

    def _score(
        self, faq: _Faq, question: _Question, *, beat: float, beat_both: float
    ) -> tuple[float, float, str]:
        """How closely `question` matches one way `faq` is asked (and which way), and
        how much of it the FAQ as a whole explains.

        Ways of asking that cannot match better than `beat` nor, blended with what the
        FAQ explains, score better than `beat_both` (the best FAQ so far, both ways) are
        not matched word by word: then the FAQ loses to that one either way.
        """
        # Run for every candidate FAQ of every question (500 of them at 10,000 entities):
        # plain loops over what `_Question` prepared, no generator or lookup per word.
        fields = faq.fields
        explained = 0.0
        for weight, similar in question.words:
            found = 0.0
            for v, s in similar:
                in_field = s * fields.get(v, 0.0)
                if in_field > found:
                    found = in_field
            explained += weight * found
        # Every way an FAQ is asked is in its fields at the top weight: the question's
        # words match one of them at most as well as they match the FAQ as a whole.
        most = explained
        explained /= question.own + PSEUDO_WORDS * self.mean_weight
        dice, surface = 0.0, ""
        closest = question.closest
        for variant, other in faq.variants:
            theirs = 0.0
            for v in variant:
                near = closest.get(v)
                if near:  # a word no question word is like adds nothing
                    theirs += self.weight(v) * near
            bound = min((most + theirs) / (question.own + other), 1.0) * _BOUND_SLACK
            if bound < dice:
                continue  # this way of asking cannot match better than one found
            if bound < beat and (bound + (1.0 - bound) * explained) * _BOUND_SLACK < beat_both:
                continue  # nor make this FAQ the best one so far, either way
            matched = 0.0
            for weight, similar in question.words:
                found = 0.0
                for v, s in similar:
                    if s > found and v in variant:
                        found = s
                matched += weight * found
            score = min((matched + theirs) / (question.own + other), 1.0)
            if score > dice:
                dice, surface = score, " ".join(variant)
        return dice, explained, surface
