"""Intent detection: which kind of question this is, and the words naming its subject."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.events import Intent

_FILLER_START = re.compile(
    r"^(?:(?:hey|hi|hello|yo|ok|okay|so|and|also|um|hmm|please|pls|plz|quick question|"
    r"question|opsbot|bot|sorry|folks|team|all|guys|everyone|"
    r"(?:can|could|would) (?:you|u) (?:please |pls )?(?:tell|show|remind) me|"
    r"(?:do|does) (?:you|anyone|anybody|somebody|someone) know|any idea|"
    r"i (?:want|need|would like|d like) to know|i am (?:wondering|looking for)|"
    r"i was wondering|quick one|remind me) )+"
)
_FILLER_END = re.compile(
    r"(?: (?:please|pls|plz|thanks|thank you|thx|ty|again|anyone|anybody|here|"
    r"right now|at the moment|these days|currently|today|exactly|now))+$"
)
_BROKEN = re.compile(
    r" (?:is|are|seems|looks) (?:down|broken|failing|slow|flaky|not working|on fire|erroring)$"
    r"| (?:broke|breaks|failed|fails|went down|goes down|is having issues)$"
)

_OWN_VERB = (
    r"(?:owns?|owning|maintains?|maintaining|runs?|running|manages?|managing|looks? after|"
    r"looking after|handles?|handling|supports?|supporting|keeps?|"
    r"(?:is |are )?(?:responsible|accountable) for|(?:is |are )?in charge of|takes? care of|"
    r"(?:is |are )?on the hook for|champions?|championing|drives?|driving)"
)
_CONTACT_ROLE = (
    r"(?:point of contact|points of contact|poc|contact person|contact|contacts|owner|owners|"
    r"owning team|champion|champions|go to person|go to team|go to|oncall|on call|"
    r"maintainer|maintainers|responsible team|responsible person|team responsible|dri)"
)
_ASK_VERB = (
    r"(?:ping|ask|contact|talk to|speak to|speak with|talk with|reach out to|reach|"
    r"escalate to|go to|message|page|call|bug|email|dm|notify|tag|consult|chat with)"
)
_LINK_WORD = (
    r"(?:runbooks?|playbooks?|docs|doc|documentation|dashboards?|grafana|repos?|repository|"
    r"git repo|source code|code|wiki|links?|urls?|readme|guide|manual|handbook|templates?)"
)
_LINK_TYPES = {
    "runbook": "runbook",
    "playbook": "runbook",
    "doc": "docs",
    "docs": "docs",
    "documentation": "docs",
    "wiki": "docs",
    "readme": "docs",
    "guide": "docs",
    "manual": "docs",
    "handbook": "docs",
    "template": "docs",
    "dashboard": "dashboard",
    "grafana": "dashboard",
    "repo": "repo",
    "repository": "repo",
    "git repo": "repo",
    "source code": "repo",
    "code": "repo",
}
_DET = r"(?:(?:the|a|an|our|my|your|this|that) )?"

_SOURCES: tuple[tuple[Intent, str], ...] = (
    # -- owner ----------------------------------------------------------------
    (
        "owner",
        rf"^(?:who|whom|which team|what team|which group|which person|who all) "
        rf"(?:is |are )?(?:currently )?(?:{_OWN_VERB}|the {_CONTACT_ROLE} (?:for|of|on)|"
        rf"on ?call for|the person for|the team for) {_DET}(?P<x>.+)$",
    ),
    (
        "owner",
        rf"^(?:who|whom|which team) (?:do|should|can|could|would|shall|must|to) "
        rf"(?:i |we |you )?{_ASK_VERB}(?: about| for| regarding| re| on| with| if| when)? "
        rf"{_DET}(?P<x>.+)$",
    ),
    (
        "owner",
        rf"^(?:who|which team) (?:can|could|will|would) help (?:me |us )?(?:with|on) "
        rf"{_DET}(?P<x>.+)$",
    ),
    (
        "owner",
        rf"^(?:who is |who are |what is |whats |what are )?(?:the )?{_CONTACT_ROLE} "
        rf"(?:for|of|on|about) {_DET}(?P<x>.+)$",
    ),
    ("owner", rf"^(?:who is |what is )?{_DET}(?P<x>.+?) {_CONTACT_ROLE}$"),
    ("owner", r"^whose (?:team |job |problem |responsibility )?is (?:the )?(?P<x>.+)$"),
    ("owner", r"^whose (?P<x>.+?) is (?:it|this|that)$"),
    # -- links ----------------------------------------------------------------
    (
        "links",
        rf"^(?:(?:where|how) (?:is|are|can i find|do i find|would i find|to find|can i see|"
        rf"do i get|can i get|can i access) |find |show me |give me |get me |i need |"
        rf"send me |open |got |is there |are there |do we have |do you have |link to |"
        rf"what is |whats |what are |link me to |point me to |gimme )?"
        rf"(?:the |a |an |our |any |some )?(?:\w+ )?(?P<t>{_LINK_WORD}) "
        rf"(?:for|of|to|on|about|in) "
        rf"{_DET}(?P<x>.+)$",
    ),
    (
        "links",
        rf"^(?:(?:where|how) (?:is|are|can i find|do i find|would i find|to find|can i see|"
        rf"do i get|can i get|can i access) |find |show me |give me |get me |i need |"
        rf"send me |open |link to |do we have |is there |point me to |what is |whats )?"
        rf"{_DET}(?P<x>.+?) (?P<t>{_LINK_WORD})$",
    ),
    # -- owns -----------------------------------------------------------------
    (
        "owns",
        rf"^(?:what|which|wat) (?:\w+ )?(?:\w+ )?(?:does|do|is|are|did) {_DET}(?P<x>.+?) "
        rf"(?:currently )?(?:{_OWN_VERB}|own and run|work on|works on|look after)$",
    ),
    (
        "owns",
        r"^(?:what|which) (?:\w+ )?(?:is|are) (?:owned|maintained|run|managed|handled|"
        r"supported|championed|looked after) by (?:the )?(?P<x>.+)$",
    ),
    (
        "owns",
        r"^(?:list |show |show me )?(?:all |everything |things |areas |services |systems |"
        r"stuff |what is |whats )?(?:owned|maintained|managed|run|championed) by (?:the )?"
        r"(?P<x>.+)$",
    ),
    ("owns", r"^(?:what|which) (?:are|is) (?:the )?(?P<x>.+?) responsibilit(?:y|ies)$"),
    (
        "owns",
        r"^(?:what|which) (?:\w+ )?(?:falls?|comes?|sits?|is|are) (?:under|with|in) "
        r"(?:the )?(?P<x>.+?)(?: remit| umbrella| scope| area)?$",
    ),
    (
        "owns",
        r"^(?:is|are|does|do) (?:the )?(?P<x>.+?) (?:the )?(?:owners?|own|owning|in charge) "
        r"(?:of )?(?:anything|something|any \w+)$",
    ),
    ("owns", r"^what (?:is|are) (?:the )?(?P<x>.+?) (?:the )?(?:owner|owners|in charge) of$"),
    ("owns", r"^(?P<x>.+?) (?:owns what|ownership list|owned areas)$"),
    (
        "owns",
        rf"^(?:list |show |show me |tell me )?(?:all |everything |the things |things |stuff |"
        rf"what |all the things )(?:that )?{_DET}(?P<x>.+?) (?:{_OWN_VERB})$",
    ),
    # -- members --------------------------------------------------------------
    (
        "members",
        r"^(?:who|whos|who all) (?:is |are )?(?:all )?(?:on|in|part of|members of|"
        r"a member of|working on|working in|works on|works in|work on|work in|"
        r"belongs to|belong to|sits in|sit in) (?:the )?(?:team )?(?P<x>.+?)(?: team)?$",
    ),
    (
        "members",
        r"^(?:list |show |show me |who are |give me )?(?:all )?(?:the )?"
        r"(?:members|people|folks|engineers|persons|staff|membership|roster) "
        r"(?:of|in|on) (?:the )?(?:team )?(?P<x>.+?)(?: team)?$",
    ),
    (
        "members",
        r"^(?:list |show |show me |who are |give me )?(?:the )?(?P<x>.+?) "
        r"(?:team )?(?:members|roster|membership|people|folks)$",
    ),
    ("members", r"^who (?:is|are) (?:the )?(?P<x>.+? team)$"),
    (
        "members",
        r"^(?:which|what) (?:people|persons|folks|engineers|members) (?:are|is|work|sit) "
        r"(?:on|in) (?:the )?(?:team )?(?P<x>.+?)(?: team)?$",
    ),
    ("members", r"^team (?P<x>.+)$"),
    # -- definition -----------------------------------------------------------
    (
        "definition",
        r"^(?:what|wat|wht) (?:does|do) (?:an |a |the )?(?P<x>.+?) "
        r"(?:do|does|mean|means|stand for|stands for|involve|involves|work on|actually do)$",
    ),
    (
        "definition",
        r"^(?:what|wat|wht) (?:is|are|r) (?:the )?(?:role|job|responsibilities|duties|"
        r"meaning|definition) of (?:an |a |the )?(?P<x>.+)$",
    ),
    (
        "definition",
        r"^(?:what|wat|wht|whats) (?:is |are |r )?(?:an |a |the )?(?P<x>.+?)"
        r"(?: exactly| again| anyway| all about| about| in (?:\w+ )?\w+ speak)?$",
    ),
    (
        "definition",
        r"^(?:define|explain|describe|definition of|meaning of|tell me about|"
        r"tell me more about|tell me|info on|information on|info about|information about|"
        r"details on|details about|what about|what is meant by|what do you mean by|"
        r"what do we mean by|who is|who are|how does|how do|(?:can|could) (?:someone|you|anyone) "
        r"explain) (?:an |a |the )?(?P<x>.+?)"
        r"(?: is| are| means| mean| work| works| do| does| to me| for me| in \w+ speak)?$",
    ),
)
_PATTERNS = tuple((intent, re.compile(pattern)) for intent, pattern in _SOURCES)


#: Words the patterns are made of, for correcting their typos ("resposible", "runbok").
_WORDS = {w for _, source in _SOURCES for w in re.findall(r"[a-z]{4,}", source)} - {"team"}
KEYWORDS = frozenset(_WORDS | {w[:-1] for w in _WORDS if w.endswith("s")} | {"does", "what"})
#: A how-to question: answered by an FAQ if any is close.
PROCEDURAL = re.compile(
    r"\b(?:how (?:do|can|should|would|could|does one) (?:i|we|you)|how to|what is the (?:process|"
    r"procedure|way|best way)|what are the steps|where do i|where can i|who do i tell|"
    r"is there a way)\b"
    r"|^(?:can i|i need to|i want to|i need) |(?: what now| what do i do| help| help me)$"
)


@dataclass(frozen=True, kw_only=True)
class IntentMatch:
    intent: Intent
    mention: str
    link_type: str | None = None
    link_word: str | None = None  # as typed: "dashboard", "runbooks"


_ANY_LINK = re.compile(rf"\b(?P<t>{_LINK_WORD})\b")
_LINK_FILLER = frozenset(
    "where what is are there does do the a an any our some live lives somewhere anywhere find "
    "can could i we you got have has link to for of please".split()
)


def clean(text: str) -> str:
    """Greetings, politeness and other filler removed from both ends."""
    text = _FILLER_START.sub("", text)
    return _FILLER_END.sub("", text).strip()


def correct(text: str, known: Callable[[str], bool]) -> str:
    """Typos of pattern words fixed, unless the word is a name the knowledge knows."""
    words = text.split()
    for i, word in enumerate(words):
        if len(word) < 4 or word in KEYWORDS or known(word):
            continue
        limit = 1 if len(word) < 8 else 2
        found = process.extractOne(word, KEYWORDS, scorer=OSA.distance, score_cutoff=limit)
        if found is not None and _is_typo(word, found[0]):
            words[i] = found[0]
    return " ".join(words)


def _is_typo(word: str, keyword: str) -> bool:
    """Not another form of a word ("pager", "down"): an affix is not a typo.

    Four-letter words are corrected only for a swapped or wrong letter ("dose").
    """
    if word.startswith(keyword) or word.endswith(keyword) or keyword.startswith(word):
        return False
    return len(word) > 4 or len(word) == len(keyword)


def detect(text: str) -> IntentMatch | None:
    """The first intent pattern matching normalised `text`, or None."""
    for intent, pattern in _PATTERNS:
        match = pattern.match(text)
        if match is None:
            continue
        mention = _BROKEN.sub("", match.group("x")).strip()
        if not mention:
            continue
        link_word = match.groupdict().get("t")
        return IntentMatch(
            intent=intent, mention=mention, link_type=_link_type(link_word), link_word=link_word
        )
    return _any_link(text)


def _link_type(word: str | None) -> str | None:
    if word is None:
        return None
    return _LINK_TYPES.get(word) or _LINK_TYPES.get(word.rstrip("s"))


def _any_link(text: str) -> IntentMatch | None:
    """No pattern, but a runbook, dashboard or repo is named: a links question about the rest."""
    found = _ANY_LINK.search(text)
    if found is None:
        return None
    rest = (text[: found.start()] + " " + text[found.end() :]).split()
    mention = " ".join(w for w in rest if w not in _LINK_FILLER)
    if not mention:
        return None
    word = found.group("t")
    return IntentMatch(intent="links", mention=mention, link_type=_link_type(word), link_word=word)
