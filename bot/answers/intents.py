"""Intent detection: which kind of question this is, and the words naming its subject."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.events import Detail, Intent

_FILLER_START = re.compile(
    r"^(?:(?:hey|hi|hello|yo|ok|okay|so|and|also|um|hmm|please|pls|plz|quick question|"
    r"question|opsbot|bot|sorry|folks|team|all|guys|everyone|urgent|asap|help|q|qq|"
    r"quick q|[1-9]|"
    r"(?:can|could|would) (?:you|u) (?:please |pls )?(?:tell|show|remind) me|"
    r"(?:do|does) (?:you|anyone|anybody|somebody|someone) know|any idea|"
    r"i (?:want|need|would like|d like) to know|i am (?:wondering|looking for)|"
    r"i was wondering|quick one|remind me) )+"
)
_FILLER_END = re.compile(
    r"(?: (?:please|pls|plz|thanks|thank you|thx|ty|again|anyone|anybody|here|"
    r"right now|at the moment|these days|currently|today|exactly|now|this week|this weekend|"
    r"tonight|this month|at the minute))+$"
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
        r"^how (?:many|big) (?:people|members|engineers|folks|persons|staff|is|are) "
        r"(?:are |is |work |sit |does |do )?(?:on |in )?(?:the )?(?:team )?(?P<x>.+?)(?: team)?"
        r"(?: have| has)?$",
    ),
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

# -- specific facts ----------------------------------------------------------------
# "who is the backup for X", "X channel", "which team is Kenji on": the fact asked for
# and the words naming its subject. Tried before the patterns above.

#: The nouns naming each fact, as typed (after folding: "e-mail" is "e mail").
_FACT_NOUNS: dict[Detail, str] = {
    "backup": (
        r"backup|back up|backup (?:owner|contact|person|team)|secondary(?: owner| contact)?|"
        r"second owner|deputy|fallback(?: owner| contact)?|stand in|standin|cover|"
        r"second in line|next in line"
    ),
    "oncall": (
        r"(?:on call|oncall|on duty)(?: person| engineer| rota| rotation| schedule| contact)?|"
        r"pager(?: rota| duty| rotation| schedule)?|pagerduty(?: schedule| rota| rotation)?|"
        r"rota|rotation|escalation(?: contact| path| policy)"
    ),
    "channel": r"(?:(?:slack|chat|teams|support|help) )?(?:channel|chatroom|chat room)",
    "email": (
        r"(?:(?:contact|team|support) )?(?:e mail|email|mail)(?: address| alias| list)?|"
        r"mailing list|distribution list"
    ),
    "lead": r"(?:team |tech |technical |engineering )?(?:lead|leader|manager)|head|boss",
    "role": r"role|roles|job title|job|position",
    "member_of": r"team|teams|squad|group|department",
}
#: Facts only a person has: asked of anything else, the question means something else
#: ("what is the role of an ML engineer" is about the role).
PERSON_FACTS: frozenset[Detail] = frozenset({"member_of", "role"})
_WH = r"(?:who|what|which|where|whats|whos|wheres)"
_IS = r"(?:is|are|s)"
#: A subject never starts with a question word: that would be the question itself.
_SUBJECT = r"(?!.*\b(?:who|what|which|where|how|when|why|whose|whats|whos)\b)(?P<x>.+?)"
_ABOUT = r"(?:(?:what|how) about |and |also )?"


def _fact_sources(detail: Detail, noun: str) -> list[tuple[Detail, str, bool]]:
    """(detail, pattern, weak): a weak pattern ("X backup") may be a name ending in the
    noun ("secrets manager"); the engine checks which reading names something."""
    who = r"(?:who|what|which|where|which team|what team|which person)"
    return [
        (
            detail,
            rf"^{_ABOUT}(?:{who} {_IS} |which |what )?{_DET}(?:{noun}) "
            rf"(?:for|of|on|at|in|to|about|with) "
            rf"{_DET}(?P<x>.+)$",
            False,
        ),
        (
            detail,
            rf"^(?:who|what|which) (?:{noun}) (?:is|are|does|do|has|have|should) {_DET}"
            rf"(?P<x>.+?)(?: have| has| use| got| in| on| part of)?$",
            False,
        ),
        (detail, rf"^{_ABOUT}(?:{_WH} {_IS} )?{_DET}(?:{_SUBJECT} )?(?:{noun})$", True),
    ]


_FACT_VERBS: tuple[tuple[Detail, str, bool], ...] = (
    (
        "backup",
        rf"^who (?:is |are )?(?:backs? up|backing up|covers?(?: for)?|covering(?: for)?|"
        rf"stands? in for|standing in for|deputi[sz]es for) {_DET}(?P<x>.+)$",
        False,
    ),
    (
        "backup",
        rf"^who else (?:knows|owns|works on|knows about|can help with|understands) "
        rf"{_DET}(?P<x>.+)$",
        False,
    ),
    (
        "backup",
        rf"^(?:who|whom) (?:do|should|can|could) (?:i|we) (?:ask|contact|ping|go to|talk to) "
        rf"(?:about|for|regarding|re) {_DET}(?P<x>.+?) (?:if|when|while) (?:the )?\w+ "
        rf"(?:is |are )?(?:out|away|off|on holiday|on vacation|on leave|unavailable|ooo|sick|"
        rf"not around|not available)$",
        False,
    ),
    (
        "oncall",
        rf"^(?:who|whom) (?:do|should|can|could|would|shall) (?:i|we) page "
        rf"(?:for |about |re |regarding |on |if |when )?{_DET}(?P<x>.+)$",
        False,
    ),
    (
        "oncall",
        rf"^who (?:is |gets |will get |would get |has |holds )?(?:paged|carrying the pager|"
        rf"holding the pager|the pager|on the pager) (?:for|about|on) {_DET}(?P<x>.+)$",
        False,
    ),
    (
        "lead",
        rf"^who (?:leads|heads|is leading|is heading|manages|is managing|runs) "
        rf"{_DET}(?P<x>.+? team)$",
        False,
    ),
    ("lead", rf"^who (?:leads|heads|is leading|is heading) {_DET}(?P<x>.+)$", False),
    (
        "email",
        rf"^(?:how|where) (?:do|can|should|would) (?:i|we) (?:e mail|email|mail|write to|"
        rf"send (?:an )?e ?mail to) {_DET}(?P<x>.+)$",
        False,
    ),
    (
        "email",
        rf"^(?:how|where) (?:do|can|should|would) (?:i|we) (?:contact|reach|get hold of|"
        rf"write to) {_DET}(?P<x>.+?) (?:by|via|over|on|with an?) (?:e mail|email|mail)$",
        False,
    ),
    (
        "email",
        rf"^(?:what|which) (?:e mail|email|address|mailing list) (?:should|do|can) (?:i|we) "
        rf"(?:use|write to|send to|email|mail) (?:for|about|to reach|to contact|re) "
        rf"{_DET}(?P<x>.+)$",
        False,
    ),
    (
        "channel",
        rf"^(?:what|which) (?:slack |chat )?channel (?:should|do|can) (?:i|we) "
        rf"(?:use|post in|ask in|go to|join) (?:for|about|re|regarding) {_DET}(?P<x>.+)$",
        False,
    ),
    ("lead", r"^(?:who|whom) (?:does|do) (?P<x>.+?) (?:report to|work for|answer to)$", False),
    (
        "description",
        r"^(?:what|wat|wht) (?:does|do) (?:an |a |the )?(?P<x>.+?) "
        r"(?:do|actually do|handle|cover|take care of|do here|do all day)$",
        False,
    ),
    (
        "description",
        r"^(?:what|wat|wht) (?:is|are) (?:an |a |the )?(?P<x>.+?)"
        r"(?<!responsible)(?<!accountable)(?<!in charge)(?<!on the hook)"
        r" (?:for|used for|good for)$",
        False,
    ),
    (
        "channel",
        rf"^(?:where|which channel|what channel|which slack channel|what slack channel) "
        rf"(?:do|should|can|would) (?:i|we) (?:ask|post|talk|chat|go) "
        rf"(?:about|for|regarding|re|with) {_DET}(?P<x>.+?)(?: questions| issues| stuff)?$",
        False,
    ),
    (
        "channel",
        rf"^where (?:does|do|is|are) {_DET}(?P<x>.+?) (?:hang out|hangs out|chat|talk)$",
        False,
    ),
    (
        "channel",
        rf"^where (?:do|does|can|should|would) (?:people|folks|we|i|you|engineers|everyone) "
        rf"(?:discuss|talk about|chat about|ask about|ask questions about|post about) "
        rf"{_DET}(?P<x>.+)$",
        False,
    ),
    (
        "member_of",
        r"^(?:which|what) (?:team|teams|squad|group|groups|department|org) (?:is|are|does|do) "
        r"(?P<x>.+?) "
        r"(?:on|in|part of|a member of|member of|belong to|belongs to|work in|work on|"
        r"work for|works in|works on|sit in|sits in|with|under|report to|reports to)$",
        False,
    ),
    ("member_of", r"^(?:which|what) (?:team|teams) (?:is|are) (?P<x>.+?)$", False),
    (
        "member_of",
        r"^(?:which team|what team|which teams|what teams) (?:does|do) (?P<x>.+?) "
        r"(?:work for|work with|report to|belong to|work in|work on)$",
        False,
    ),
    ("member_of", r"^where (?:does|do) (?P<x>.+?) (?:work|sit)$", False),
    ("member_of", r"^(?:is )?(?P<x>.+?) (?:is |are )?(?:on|in) (?:which|what) teams?$", False),
    (
        "role",
        r"^(?:what|which) (?:role|roles|job|position|job title) (?:does|do|is|are) (?P<x>.+?)"
        r"(?: have| hold| play| do| in)?$",
        False,
    ),
)
_FACTS = tuple(
    (detail, re.compile(pattern), weak)
    for detail, pattern, weak in (
        *_FACT_VERBS,
        *(s for detail, noun in _FACT_NOUNS.items() for s in _fact_sources(detail, noun)),
    )
)
#: Words that name nothing: a mention made only of these is no subject ("who owns it",
#: "and their lead?"), so the question is about the previous answer or needs asking back.
_NO_SUBJECT = frozenset(
    "it its they them their theirs this that these those he him his she her hers one ones "
    "same thing things stuff the a an who what which whats whos is are was were do does "
    "there here and also about for of on in to please again then now so "
    "thanks thank you thx ty cool great ok okay nice perfect awesome got it".split()
)


#: Words the patterns are made of, for correcting their typos ("resposible", "runbok").
_WORDS = {w for _, source in _SOURCES for w in re.findall(r"[a-z]{4,}", source)} - {"team"}
#: Fact nouns long enough not to be a typo of an everyday word ("load" is not "lead").
_FACT_WORDS = {"backup", "channel", "email", "oncall", "manager", "rotation", "secondary"}
#: In a fixed order: a typo as close to two keywords is corrected the same way every run.
KEYWORDS = tuple(
    sorted(_WORDS | {w[:-1] for w in _WORDS if w.endswith("s")} | {"does", "what"} | _FACT_WORDS)
)
_KEYWORD_SET = frozenset(KEYWORDS)
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
    mention: str  # "" when the question names no subject ("who owns it")
    link_type: str | None = None
    link_word: str | None = None  # as typed: "dashboard", "runbooks"
    #: The specific fact asked for ("backup"), None for a general question.
    detail: Detail | None = None
    #: The words may also be a name ending in the fact's noun ("secrets manager").
    weak: bool = False
    #: The whole phrase of a weak match ("secrets manager"), to compare the readings.
    phrase: str = ""

    @property
    def subjectless(self) -> bool:
        return not self.mention


_ANY_LINK = re.compile(rf"\b(?P<t>{_LINK_WORD})\b")
_LINK_FILLER = frozenset(
    "where what is are there does do the a an any our some live lives somewhere anywhere find "
    "can could i we you got have has link to for of please".split()
)


#: "sorry if this is the wrong channel but who owns X": what comes before "but" and a
#: question is an apology or context.
_LEAD_IN = re.compile(
    r"^(?:(?:sorry|apologies|not sure|hope|hey|hi|hello)\b.*?\bbut |"
    r".*?\bbut (?=(?:who|whos|what|whats|where|wheres|which|how|when|is|are|can|could|"
    r"does|do|should|any|anyone)\b))"
)


def clean(text: str) -> str:
    """Greetings, politeness and other filler removed from both ends."""
    if " but " in text:
        text = _LEAD_IN.sub("", text, count=1)
    text = _FILLER_START.sub("", text)
    return _FILLER_END.sub("", text).strip()


def correct(text: str, known: Callable[[str], bool]) -> str:
    """Typos of pattern words fixed, unless the word is a name the knowledge knows."""
    words = text.split()
    for i, word in enumerate(words):
        if len(word) < 4 or word in _KEYWORD_SET or known(word):
            continue
        limit = 1 if len(word) < 8 else 2
        found = process.extract(word, KEYWORDS, scorer=OSA.distance, score_cutoff=limit, limit=None)
        close = [keyword for keyword, _, _ in found if _is_typo(word, keyword)]
        if close and not _common_word(word):
            # The nearest; among equals, one with the same first letter and length, then
            # the first in order: never whichever a hash seed put first.
            distance = {keyword: d for keyword, d, _ in found}
            words[i] = min(
                close,
                key=lambda k: (distance[k], k[0] != word[0], abs(len(k) - len(word)), k),
            )
    return " ".join(words)


#: A word at least this frequent in English (pyspellchecker's counts: "line" 221,164,
#: "dose" 10,621) is meant as typed, not a typo of a pattern word ("link", "does").
_COMMON = 20_000


@cache
def _english() -> Any:
    from spellchecker import SpellChecker  # 0.16 s: only once a word looks like a typo

    return SpellChecker(distance=1).word_frequency


def _common_word(word: str) -> bool:
    return int(_english()[word]) >= _COMMON


def _is_typo(word: str, keyword: str) -> bool:
    """Not another form of a word ("pager", "down"): an affix is not a typo.

    Four-letter words are corrected only for a swapped or wrong letter ("dose").
    """
    if word.startswith(keyword) or word.endswith(keyword) or keyword.startswith(word):
        return False
    return len(word) > 4 or len(word) == len(keyword)


def detect(text: str, *, facts: bool = True) -> IntentMatch | None:
    """The first intent pattern matching normalised `text`, or None.

    With `facts`, a question for a specific fact is recognised first. A mention made only
    of pronouns and such ("it", "their") comes back empty: the question names no subject.
    """
    found = _fact(text) if facts else None
    if found is not None:
        return found
    for intent, pattern in _PATTERNS:
        match = pattern.match(text)
        if match is None:
            continue
        mention = _BROKEN.sub("", match.group("x")).strip()
        if not mention:
            continue
        link_word = match.groupdict().get("t")
        link_type = _link_type(link_word)
        return IntentMatch(
            intent=intent,
            mention=_subject(mention),
            link_type=link_type,
            link_word=link_word,
            detail=_detail(intent, link_type),
        )
    return _any_link(text)


def _subject(mention: str) -> str:
    """The mention, or "" when it names nothing ("it", "the", "their")."""
    return "" if names_nothing(mention) else mention


def names_nothing(mention: str) -> bool:
    """Whether `mention` (normalised) is only pronouns and such: "it", "their", "the"."""
    return all(w in _NO_SUBJECT for w in mention.split())


def _detail(intent: Intent, link_type: str | None) -> Detail | None:
    if intent == "members":
        return "members"
    if intent == "links" and link_type in _LINK_DETAILS:
        return _LINK_DETAILS[link_type]
    return None


_LINK_DETAILS: dict[str | None, Detail] = {
    "runbook": "runbook",
    "dashboard": "dashboard",
    "repo": "repo",
    "docs": "docs",
}


def _fact(text: str) -> IntentMatch | None:
    """A question for one specific fact: its detail, and the words naming its subject."""
    for detail, pattern, weak in _FACTS:
        match = pattern.match(text)
        if match is None:
            continue
        mention = _BROKEN.sub("", match.group("x") or "").strip()
        intent: Intent = "owner" if detail in ("backup", "oncall") else "definition"
        subject = _subject(mention)
        return IntentMatch(
            intent=intent,
            mention=subject,
            detail=detail,
            weak=weak and bool(subject),
            phrase=text[match.start("x") :] if weak and subject else "",
        )
    return None


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
    mention = _subject(" ".join(w for w in rest if w not in _LINK_FILLER))
    word = found.group("t")
    link_type = _link_type(word)
    return IntentMatch(
        intent="links",
        mention=mention,
        link_type=link_type,
        link_word=word,
        detail=_detail("links", link_type),
    )
