"""The search index: fuzzy entity linking over names, titles and aliases."""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.answers.text import content, fold, stem
from bot.kb.knowledge import Knowledge
from bot.model import Entity, Ref

_FUZZY_MIN_LEN = 4
_VOCAB_CUTOFF = 78.0
_CANDIDATES = 12
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
#: An entity picked out by what a question says of it alone ("the go website") is
#: likely, not certain; more so with what it is part of named in full ("the website of
#: the artist portal": the portal itself is not what is asked) ...
_FITS = 0.9
_FITS_PART = 0.95
#: ... and asked back about when a few fit; more, and it names none of them.
_MAX_FITTING = 3
#: A mention is read as naming the parts of at most this many wholes (its longest runs
#: naming one), so that a mention stringing many names together costs no more.
_MAX_WHOLES = 2
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
        #: Words saying the kind ("component", "group"), type ("service") or a tag ("java")
        #: of an entity, each with the entities it fits; kind words only for kinds the
        #: knowledge has. A word that is part of some name names, it does not qualify.
        self.qualifiers: dict[str, frozenset[Ref]] = {}
        by_kind: defaultdict[str, set[Ref]] = defaultdict(set)
        by_trait: defaultdict[str, set[Ref]] = defaultdict(set)
        children: defaultdict[Ref, set[Ref]] = defaultdict(set)
        tags: set[str] = set()
        types: set[str] = set()
        for entity in knowledge:
            by_kind[entity.kind].add(entity.ref)
            kind_type = getattr(entity.spec, "type", None)
            traits = [kind_type] if isinstance(kind_type, str) else []
            for trait in (*traits, *entity.tags):
                words = content(fold(trait))
                if len(words) == 1:
                    by_trait[words[0]].add(entity.ref)
                    if trait is not kind_type:
                        tags.add(words[0])
                    else:
                        types.add(words[0])
            parent = getattr(entity.spec, "part_of", None)
            if isinstance(parent, Ref) and names is surface_names:  # not for link titles
                children[parent].add(entity.ref)
        # "model" in "model monitoring" names; "website" in a description still qualifies.
        named = {w for s in self.surfaces if s.weight == 1.0 for w in s.text.split()}
        for word, refs in by_trait.items():
            if word not in named:
                self.qualifiers[word] = frozenset(refs)
        for word, kind in KIND_WORDS.items():
            if by_kind.get(kind):
                self.qualifiers[word] = frozenset(by_kind[kind] | by_trait.get(word, set()))
        #: Tags are weak evidence ("the mlops team" may be a team tagged "mlops" or one
        #: named so): they only pick out an entity along with its type ("the go
        #: website"), and never narrow a search by name (measured on the blind set).
        self.tags_only = frozenset((tags - types - KIND_WORDS.keys()) & self.qualifiers.keys())
        #: What is part of each entity (a system's components, a domain's systems and
        #: theirs): "the website in the artist portal" is one of the portal's.
        self.parts = {parent: frozenset(_descendants(parent, children)) for parent in children}
        self.parent_sizes = sorted(
            {s.size for s in self.surfaces if s.ref in self.parts and s.weight == 1.0},
            reverse=True,
        )

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

        A mention that says the kind, type or a tag of what it names ("the petstore
        component", "the artists API", "the java service"), or what it is part of ("the
        website of the artist portal"), is also read as the rest of its words naming
        one of those; with no words left, as the one entity that fits them all.
        """
        words = content(mention)
        if not words:
            return []
        ranked = self._rank(words, kinds)
        best = {m.ref: m for m in ranked}
        wholes: set[Ref] = set()  # what a better match is part of: not what is asked
        for among, rest, sure, whole in self._narrowings(words):
            for match in self._among(among, rest, kinds, sure):
                if match.ref not in best or match.score > best[match.ref].score:
                    best[match.ref] = match
                if whole is not None and match.score > best.get(whole, match).score:
                    wholes.add(whole)
        if len(best) > len(ranked) or wholes or any(best[m.ref] is not m for m in ranked):
            ranked = sorted(
                (m for ref, m in best.items() if ref not in wholes), key=lambda m: (-m.score, m.ref)
            )
        return _with_ambiguity(ranked)

    def _narrowings(
        self, words: list[str]
    ) -> Iterator[tuple[frozenset[Ref], list[str], float, Ref | None]]:
        """The entities the words saying a kind, type, tag or parent narrow a mention to,
        each with the mention's other words, how sure one that alone fits is, and the
        parent named."""
        for among, rest in self._qualified(words, None):
            yield among, rest, _FITS, None
        wholes = [
            (whole, start, size)
            for size in self.parent_sizes
            if size < len(words)
            for start in range(len(words) - size + 1)
            for whole in self._named(" ".join(words[start : start + size]))
        ]
        for whole, start, size in wholes[:_MAX_WHOLES]:
            others = words[:start] + words[start + size :]
            for among, rest in self._qualified(others, self.parts[whole]):
                yield among, rest, _FITS_PART, whole

    def _named(self, run: str) -> Iterator[Ref]:
        """The entities with parts that `run` names exactly."""
        for sid in self.exact.get(run, ()):
            ref = self.surfaces[sid].ref
            if ref in self.parts:
                yield ref

    def _qualified(
        self, words: list[str], parts: frozenset[Ref] | None
    ) -> Iterator[tuple[frozenset[Ref], list[str]]]:
        said = [w for w in words if w in self.qualifiers]
        rest = [w for w in words if w not in self.qualifiers]
        if rest or all(w in self.tags_only or w in KIND_WORDS for w in said):
            said = [w for w in said if w not in self.tags_only]  # tags: words like others
            rest = [w for w in words if w not in said]
        if not said:
            if parts is not None and rest:
                yield parts, rest
            return
        sets = [self.qualifiers[w] for w in said]
        among = _common(sets, parts)
        traits = [w for w in said if w not in KIND_WORDS]
        if not among and (traits or rest):
            # "the go service of the audio system": "system" says the parent's kind.
            among = _common([self.qualifiers[w] for w in traits], parts)
        if not among and parts is None:
            among = frozenset().union(*sets)
        if among and (rest or traits):
            yield among, rest

    def _among(
        self, among: frozenset[Ref], rest: list[str], kinds: Collection[str] | None, sure: float
    ) -> list[Match]:
        """Entities of `among` named by `rest`; with nothing left to name them, the one
        (or few, to ask back about) that `among` holds."""
        if rest:
            return self._rank(rest, kinds, among)
        fitting = sorted(r for r in among if kinds is None or r.kind in kinds)
        if not 0 < len(fitting) <= _MAX_FITTING:
            return []
        return [Match(ref=ref, score=sure, surface="") for ref in fitting]

    def _rank(
        self, words: list[str], kinds: Collection[str] | None, among: Collection[Ref] | None = None
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
        part_weight = {p: self.weight(p) for p in parts}
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
            found = frozenset().union(*[matched[w] for w in hit])
            named = sum([part_weight[p] for p in found]) / named_total
            score = max(score, bound * (0.5 + 0.5 * named))
        return score * conflict


def _common(sets: list[frozenset[Ref]], parts: frozenset[Ref] | None) -> frozenset[Ref]:
    """What every one of `sets` (and `parts`, if given) holds."""
    found = parts
    for refs in sets:
        found = refs if found is None else found & refs
    return found or frozenset()


def _descendants(parent: Ref, children: dict[Ref, set[Ref]]) -> set[Ref]:
    found: set[Ref] = set()
    todo = [parent]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found and child != parent:
                found.add(child)
                todo.append(child)
    return found


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
