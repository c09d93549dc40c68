"""The search index: fuzzy entity linking over names, titles and aliases."""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.answers.text import content, fold, stem
from bot.kb.knowledge import Knowledge
from bot.model import Entity, Ref

_FUZZY_MIN_LEN = 4
_VOCAB_CUTOFF = 78.0
_CANDIDATES = 30
_TOKEN_MATCH = 80.0
_FUZZY_STEEPNESS = 2.5
#: Within this margin of the runner-up, the top match is ambiguous ...
_AMBIGUITY_MARGIN = 0.1
#: ... and loses up to this share of its score.
_AMBIGUITY_PENALTY = 0.25
#: A name loses this share of its score per share of the mention it leaves strange:
#: words of the mention unlike any of its words, while it has words of its own left
#: unasked ("regional inventory dataset 15" against "offline inventory dataset 15").
_CONFLICT = 1.0
#: A mention word this unlike every word of a name is strange to it; a closer one may
#: be a typo of one of them.
_STRANGE_BELOW = 70.0
#: Float sums may exceed their exact bound by an ulp: bounds are widened this much.
_BOUND_SLACK = 1.000001


#: A description of at most this many words is also a name of its entity ...
_DESCRIPTION_WORDS = 4
#: ... though a less sure one.
_DESCRIBED = 0.9
#: Words people use for the kind of an entity, Backstage's own included.
KIND_WORDS = {
    "component": "component",
    "api": "api",
    "system": "system",
    "resource": "resource",
    "domain": "domain",
    "group": "team",
    "team": "team",
    "user": "person",
    "person": "person",
    "area": "area",
    "practice": "practice",
    "role": "role",
    "term": "term",
}


@dataclass(frozen=True, kw_only=True)
class Surface:
    ref: Ref
    text: str  # stemmed content tokens joined by spaces
    size: int  # number of tokens
    weight: float = 1.0  # how surely this surface names its entity


@dataclass(frozen=True, kw_only=True)
class Match:
    ref: Ref
    score: float  # in [0, 1]
    surface: str


def surface_names(entity: Entity) -> set[str]:
    """Every way of naming `entity`, normalised."""
    names = {entity.ref.name, entity.title, *entity.aliases}
    if entity.kind == "team":
        names |= {f"{entity.title} team", f"team {entity.title}"}
    folded = {fold(n.replace("-", " ").replace("_", " ").replace(".", " ")) for n in names}
    if entity.kind == "team":
        folded |= {n.removesuffix(" team") for n in folded if n.endswith(" team")}
    return {n for n in folded if n}


def described(entity: Entity) -> set[str]:
    """A description short enough to be a name ("Artist main website"), normalised.

    Not a person's: "MLOps engineer" says what they do, and names a role.
    """
    if entity.kind == "person":
        return set()
    text = (entity.description or "").strip().removesuffix(".")
    if not text or len(text.split()) > _DESCRIPTION_WORDS or any(c in text for c in ".:;\n"):
        return set()
    folded = fold(text)
    return {folded} if folded else set()


def link_titles(entity: Entity) -> set[str]:
    """The titles of an entity's links ("Drift dashboard"), normalised."""
    return {t for t in (fold(link.title) for link in entity.links) if t}


class EntityIndex:
    """Entity names (or any other surface of them) to fuzzy-link mentions against.

    Built once per knowledge load; answers lookups without touching the knowledge.
    """

    def __init__(
        self, knowledge: Knowledge, names: Callable[[Entity], set[str]] = surface_names
    ) -> None:
        self.knowledge = knowledge
        surfaces: dict[tuple[Ref, str], Surface] = {}
        for entity in knowledge:
            for name in names(entity):
                words = content(name)
                text = " ".join(words)
                surfaces[(entity.ref, text)] = Surface(ref=entity.ref, text=text, size=len(words))
            if names is surface_names:
                for name in described(entity):
                    words = content(name)
                    text = " ".join(words)
                    surfaces.setdefault(
                        (entity.ref, text),
                        Surface(ref=entity.ref, text=text, size=len(words), weight=_DESCRIBED),
                    )
        self.surfaces = list(surfaces.values())
        #: Words in the longest name: a longer run of a mention can name nothing.
        self.longest = max((s.size for s in self.surfaces), default=0)
        self.exact: dict[str, list[int]] = defaultdict(list)
        self.postings: dict[str, list[int]] = defaultdict(list)
        entity_freq: defaultdict[str, set[Ref]] = defaultdict(set)
        for sid, surface in enumerate(self.surfaces):
            self.exact[surface.text].append(sid)
            for word in set(surface.text.split()):
                self.postings[word].append(sid)
                entity_freq[word].add(surface.ref)
        total = max(len(knowledge), 1)
        self.idf = {w: math.log(1 + total / len(refs)) for w, refs in entity_freq.items()}
        self.unknown_idf = math.log(1 + total)
        #: Each surface's kind, and its words' total weight, once rather than per lookup.
        self.kinds = [surface.ref.kind for surface in self.surfaces]
        self.named_totals = [
            sum(self.weight(p) for p in surface.text.split()) or 1.0 for surface in self.surfaces
        ]
        self.vocab = sorted(self.postings)
        #: Words saying the kind ("component", "group") or type ("service") of an entity,
        #: each with the entities it fits; kind words only for kinds the knowledge has.
        self.qualifiers: dict[str, frozenset[Ref]] = {}
        by_kind: defaultdict[str, set[Ref]] = defaultdict(set)
        by_type: defaultdict[str, set[Ref]] = defaultdict(set)
        for entity in knowledge:
            by_kind[entity.kind].add(entity.ref)
            kind_type = getattr(entity.spec, "type", None)
            if isinstance(kind_type, str) and kind_type.strip():
                words = content(fold(kind_type))
                if len(words) == 1:
                    by_type[words[0]].add(entity.ref)
        for word, refs in by_type.items():
            if word not in self.postings:  # "model" in "model monitoring" names, not types
                self.qualifiers[word] = frozenset(refs)
        for word, kind in KIND_WORDS.items():
            if by_kind.get(kind):
                self.qualifiers[word] = frozenset(by_kind[kind] | by_type.get(word, set()))

    def knows(self, word: str) -> bool:
        """Whether `word` (unstemmed) is part of some entity's name."""
        return stem(word) in self.postings

    def weight(self, word: str) -> float:
        return self.idf.get(word, self.unknown_idf)

    def _vocab_matches(self, word: str) -> list[tuple[str, float]]:
        if word in self.postings:
            return [(word, 1.0)]
        if len(word) < _FUZZY_MIN_LEN:
            return []
        found = process.extract(
            word, self.vocab, scorer=fuzz.ratio, score_cutoff=_VOCAB_CUTOFF, limit=3
        )
        return [(choice, score / 100.0) for choice, score, _ in found]

    def link(self, mention: str, kinds: Collection[str] | None = None) -> list[Match]:
        """Entities named by `mention` (normalised text), best first, one match per entity.

        A mention that says the kind or type of what it names ("the petstore component",
        "the artists API", "the audio domain", "the search service") is also read as the
        rest of its words naming something of that kind.
        """
        words = content(mention)
        if not words:
            return []

        ranked = self._rank(words, kinds)
        said = [w for w in words if w in self.qualifiers]
        rest = [w for w in words if w not in self.qualifiers]
        if said and rest:
            qualified = set().union(*(self.qualifiers[w] for w in said))
            best = {m.ref: m for m in ranked}
            for match in self._rank(rest, kinds, qualified):
                if match.score > best.get(match.ref, match).score or match.ref not in best:
                    best[match.ref] = match
            ranked = sorted(best.values(), key=lambda m: (-m.score, m.ref))
        return _with_ambiguity(ranked)

    def _rank(
        self, words: list[str], kinds: Collection[str] | None, among: set[Ref] | None = None
    ) -> list[Match]:
        """Entities of `kinds` (and `among` these, if given) named by `words`."""
        total = sum(self.weight(w) for w in words)
        weights: defaultdict[int, float] = defaultdict(float)
        for word in dict.fromkeys(words):  # in order: sums of floats repeat exactly
            for vocab_word, similarity in self._vocab_matches(word):
                gain = self.weight(vocab_word) * similarity
                for sid in self.postings[vocab_word]:
                    weights[sid] += gain
        for sid in self.exact.get(" ".join(words), ()):
            weights[sid] += total
        # The surfaces with the most weight of the mention's words (the first on a tie).
        kind_of, surfaces = self.kinds, self.surfaces
        top = [
            -negated
            for _, negated in heapq.nlargest(
                _CANDIDATES,
                [
                    (weight, -sid)
                    for sid, weight in weights.items()
                    if (kinds is None or kind_of[sid] in kinds)
                    and (among is None or surfaces[sid].ref in among)
                ],
            )
        ]
        scorer = _Scorer(self.weight, words, total, longest=self.longest)
        best: dict[Ref, tuple[float, str]] = {}  # per entity: its best score, and name
        for sid in top:
            surface = surfaces[sid]
            score = scorer.score(surface, self.named_totals[sid]) * surface.weight
            previous = best.get(surface.ref)
            if previous is None or score > previous[0]:
                best[surface.ref] = (score, surface.text)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
        return [Match(ref=ref, score=score, surface=text) for ref, (score, text) in ranked]


class _Scorer:
    """Scores names against one mention, remembering word likenesses between names.

    score = likeness * (0.4 + 0.6 * share of the mention used)
                     * (0.5 + 0.5 * share of the name matched),
    over the mention's word n-grams about as long as the name; shares are weighted by
    how telling each word is (idf).

    A name of n words is scored against grams of n - 1 to n + 1 words, so grams longer
    than the `longest` name + 1 are never built: the work is O(words * longest), not
    O(words^2) grams of O(words) characters each.
    """

    def __init__(
        self, weight: Callable[[str], float], words: list[str], total: float, *, longest: int
    ) -> None:
        self.weight = weight
        self.total = total
        self.words = set(words)
        # Per size, each distinct gram once: a repeated phrase scores the same each time.
        self.grams: dict[int, dict[str, tuple[list[str], float]]] = {}
        for size in range(min(len(words), longest + 1), 0, -1):
            grams = self.grams.setdefault(size, {})
            for start in range(len(words) - size + 1):
                part = words[start : start + size]
                gram = " ".join(part)
                if gram not in grams:
                    grams[gram] = (part, sum(weight(w) for w in part) / total)
        #: Mention word -> name word -> their likeness (0-100).
        self.ratios: dict[str, dict[str, float]] = {}
        #: Per name size, the grams it is scored against, most of the mention first.
        self.by_size: dict[int, list[tuple[str, tuple[list[str], float]]]] = {}

    def grams_for(self, size: int) -> list[tuple[str, tuple[list[str], float]]]:
        """The grams a name of `size` words is scored against, by share of the mention
        asked, most first: once a gram asks too little to beat the best score, so do the
        rest."""
        found = self.by_size.get(size)
        if found is None:
            found = [
                item for n in (size - 1, size, size + 1) for item in self.grams.get(n, {}).items()
            ]
            found.sort(key=lambda item: -item[1][1])
            self.by_size[size] = found
        return found

    def score(self, surface: Surface, named_total: float) -> float:
        """`surface`'s score; `named_total` is the total weight of its words."""
        text = surface.text
        parts = text.split()
        ratios = self.ratios
        # Per mention word: its best likeness to a word of the name, and the name's
        # words it matches (only for words matching some: `hits`); each gram then only
        # adds these up. A hit's likeness also counts as a word of the name (`near`).
        best: dict[str, float] = {}
        matched: dict[str, frozenset[str]] = {}
        near: dict[str, float] = {}
        for word in self.words:
            known = ratios.get(word)
            if known is None:
                known = ratios[word] = {}
            top = 0.0
            close: list[str] = []
            for part in parts:
                ratio = known.get(part)
                if ratio is None:
                    ratio = known[part] = 100.0 if word == part else fuzz.ratio(word, part)
                if ratio > top:
                    top = ratio
                if ratio >= _TOKEN_MATCH:
                    close.append(part)
            best[word] = top
            if close:
                matched[word] = frozenset(close)
                near[word] = 1.0 - (100.0 - top) * _FUZZY_STEEPNESS / 100.0
        conflict = 1.0
        # Words on both sides that the other lacks: "regional inventory dataset" asks for
        # something else than "offline inventory dataset", not for it in other words.
        if matched and len(matched) < len(self.words):
            named_words = frozenset().union(*matched.values())
            if not named_words.issuperset(parts):
                strange = (
                    sum(
                        self.weight(w)
                        for w in sorted(self.words.difference(matched))
                        if best[w] < _STRANGE_BELOW
                    )
                    / self.total
                )
                conflict = 1.0 - _CONFLICT * strange
        length = len(text)
        score = 0.0
        for gram, (gram_words, asked) in self.grams_for(surface.size):
            # Likeness and the share of the name matched are at most 1: a gram asking
            # too little of the mention cannot beat the best so far, nor can the rest.
            if (0.4 + 0.6 * asked) * _BOUND_SLACK < score:
                break
            hit = [w for w in gram_words if w in near]
            # A gram with no word of the name can only match as one run-together
            # word ("datalake"): then its length is close to the name's.
            if not hit and abs(len(gram) - length) > 3:
                continue
            close_sum = sum([near[w] for w in hit])
            similarity = max(fuzz.ratio(gram, text) / 100.0, close_sum / len(gram_words))
            bound = similarity * (0.4 + 0.6 * asked)
            if similarity <= score or bound * _BOUND_SLACK < score:
                continue  # even matching the whole name, it scores no better
            found = frozenset().union(*(matched[w] for w in hit))
            named = sum(self.weight(p) for p in found) / named_total
            score = max(score, bound * (0.5 + 0.5 * named))
        return score * conflict


def _with_ambiguity(ranked: list[Match]) -> list[Match]:
    """The top match loses confidence when another entity matches almost as well.

    Order is kept: the runners-up are what to suggest when the top one is not enough.
    """
    if len(ranked) < 2:
        return ranked
    top, second = ranked[0], ranked[1]
    shortfall = max(0.0, _AMBIGUITY_MARGIN - (top.score - second.score)) / _AMBIGUITY_MARGIN
    score = top.score * (1.0 - _AMBIGUITY_PENALTY * shortfall)
    return [Match(ref=top.ref, score=score, surface=top.surface), *ranked[1:]]
