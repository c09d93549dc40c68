"""Text normalisation shared by the index and the questions it answers."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

from snowballstemmer import stemmer  # type: ignore[import-untyped]

# Slack markup: <@U123>, <@U123|name>, <#C123|chan>, <!here>, <url|label>, <url>.
# Slack escapes a literal "<" or ">" in text, so none occurs inside markup: stopping at
# the next "<" keeps an unclosed "<#C1|" from scanning the rest of the text (linear, not
# quadratic, in the length of a message full of them).
_SLACK_USER = re.compile(r"<@[A-Z0-9]+(?:\|[^<>]*)?>")
_SLACK_CHANNEL = re.compile(r"<#[A-Z0-9]+(?:\|([^<>]*))?>")
_SLACK_SPECIAL = re.compile(r"<![^<>]*>")
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^<>|]*)(?:\|([^<>]*))?>")
_TEAMS_AT = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)
_EMOJI = re.compile(r":[a-z0-9][a-z0-9_+'-]*:", re.IGNORECASE)
#: A code block (a pasted log or config) and struck-out text are not what is asked.
_CODE_BLOCK = re.compile(r"```[^`]*```")
#: "cc @alice", "fyi @bob": who is told, not what is asked.
_CC_USER = re.compile(r"\b(?:cc|fyi|ping|\+)\s*:?\s*(?=<@)", re.IGNORECASE)
#: HTML as Teams (and pasted rich text) sends it: block tags end a clause, inline ones go.
_HTML_BLOCK = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6]|blockquote|pre|tr|td)\b[^<>]*>", re.I)
_HTML_INLINE = re.compile(r"</?(?:span|b|i|em|strong|u|s|code|a|font|small)\b[^<>]*>", re.I)
#: A command word typed before the question ("/ops who owns X" in a message).
_COMMAND = re.compile(r"^\s*/[a-z][\w-]*\s+", re.IGNORECASE)
_STRUCK = re.compile(r"(?<![\w~])~[^~\s](?:[^~\n]*[^~\s])?~(?![\w~])")

_CONTRACTIONS = (
    (re.compile(r"\b(who|what|where|how|that|it|there|here|when|which)'s\b"), r"\1 is"),
    (re.compile(r"\b(who|what|where|how|which)'re\b"), r"\1 are"),
    (re.compile(r"\bwho'd\b"), "who would"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"\b(do|does|is|are|can|should|would|did)n't\b"), r"\1 not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\b(\w+)'s\b"), r"\1"),  # possessive: "the team's" -> "the team"
)
_NON_WORD = re.compile(r"[^a-z0-9]+")
#: Contractions typed without their apostrophe.
_BARE_CONTRACTIONS = {
    "whos": "who is",
    "whats": "what is",
    "wheres": "where is",
    "hows": "how is",
    "whose": "whose",
    "dont": "do not",
    "doesnt": "does not",
    "cant": "can not",
    "isnt": "is not",
    "arent": "are not",
    "im": "i am",
    "wat": "what",
    "wht": "what",
    "u": "you",
    "r": "are",
    "pls": "please",
    "plz": "please",
}


def _link_label(link: re.Match[str]) -> str:
    """A link's label, as words of the sentence it is in, or as a clause of its own when
    it ends the message ("who owns X? <url|see the wiki>")."""
    label = link.group(2)
    if not label:
        return " "
    return f"; {label}" if not link.string[link.end() :].strip() else f" {label} "


def strip_markup(text: str) -> str:
    """Chat markup removed: mentions (with a "cc" before them), emoji, code blocks,
    struck-out text, HTML tags and a command word typed first go; channel names and link
    labels stay."""
    if text.lstrip().startswith("/"):
        text = _COMMAND.sub("", text, count=1)
    if "```" in text:
        text = _CODE_BLOCK.sub("\n", text)
    if "<" in text:
        text = _HTML_BLOCK.sub("\n", text)
        text = _HTML_INLINE.sub(" ", text)
        text = _CC_USER.sub(" ", text)
    if "~" in text:
        text = _STRUCK.sub(" ", text)
    text = _SLACK_USER.sub(" ", text)
    text = _SLACK_CHANNEL.sub(lambda m: f" {m.group(1) or ''} ", text)
    text = _SLACK_SPECIAL.sub(" ", text)
    text = _SLACK_LINK.sub(_link_label, text)
    text = _TEAMS_AT.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    # Slack escapes &, < and >; Teams and pasted HTML bring any entity (&#39;, &nbsp;).
    return html.unescape(text) if "&" in text else text


_CLAUSE_BREAK = re.compile(r"[?!;\n()\[\]]+|\.(?:\s+|$)|:\s+|\s[-\u2013\u2014]+\s|,\s*")


def clauses(text: str) -> list[str]:
    """The whole text, then each clause of it that has words, in order, without repeats."""
    parts = [text, *(p for p in _CLAUSE_BREAK.split(text) if p.strip())]
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces; contractions expanded."""
    if not text.isascii():  # ASCII is its own NFKD form, with no combining marks
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower().replace("_", " ")  # "_what's up_": italics, or snake_case
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    if "'" in text:  # every contraction has one
        for pattern, replacement in _CONTRACTIONS:
            text = pattern.sub(replacement, text)
    words = _NON_WORD.sub(" ", text).split()
    return " ".join(map(_BARE_CONTRACTIONS.get, words, words))  # each word, or its expansion


def normalize(text: str) -> str:
    """What a question is matched on: markup stripped, folded."""
    return fold(strip_markup(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light plural stem, applied alike to the index and the questions."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Stemmed tokens of already normalised text."""
    return [stem(w) for w in text.split()]


#: Words that carry no identity; dropped alike from names and questions.
STOPWORDS = frozenset(
    "the a an of for to in on at and our my your is are with by about this that we i me "
    "do does please our their its it".split()
)
#: Extra words that say nothing about which FAQ a question is.
FAQ_STOPWORDS = STOPWORDS | frozenset(
    "how what where when who why which can could should would will get got need want "
    "there any way some someone somebody anyone one be have has done go".split()
)


def content(text: str, stop: frozenset[str] = STOPWORDS) -> list[str]:
    """Stemmed tokens of normalised text without stopwords (all of them if none remain).

    A one-letter word after the first is kept: it is a name ("team a"), not an article.
    """
    words = tokens(text)
    kept = [w for i, w in enumerate(words) if w not in stop or (i > 0 and len(w) == 1)]
    return kept or words


#: Words of chat and everyday English that say nothing about the topic of a question.
TOPIC_STOPWORDS = FAQ_STOPWORDS | frozenset(
    """
    am was were been being had having did doing done so if or but not no yes nor than then
    too very just also still already again ever even only really actually basically maybe
    perhaps anyway somehow accidentally apparently probably definitely suddenly now today
    tomorrow yesterday soon later asap urgent urgently quick quickly question questions
    hi hey hello thanks thank thx cheers oops ugh hmm um ok okay sorry guys folks all every
    each other another same own more most less least much many lot lots few bit little new
    old up out off over into onto from as than like unlike here these those them they
    he she him her his hers us you yours mine ours theirs it itself myself something
    anything everything nothing thing things stuff somewhere anywhere everywhere day days
    week weeks time times make makes made making use uses used using take takes took taking
    put puts putting set sets let lets keep keeps kept give gives gave going went gone come
    comes came coming know knows knew think thinks thought see sees saw seen look looks
    looked find finds found tell tells told say says said ask asks asked try tries tried
    trying seem seems seemed happen happens happened happening now fine sure able must
    might may shall won wont s t d ll ve re
    """.split()
)
_ENGLISH = stemmer("english")


@lru_cache(maxsize=65536)
def root(word: str) -> str:
    """A word's stem for topic matching: plural removed, then Snowball's English (Porter2)
    stemmer, so "annotated", "annotation" and "annotations" all give "annot"."""
    return str(_ENGLISH.stemWord(stem(word)))


def topic_words(text: str) -> list[str]:
    """The stems of the words of normalised text that say what it is about."""
    return [root(w) for w in text.split() if w not in TOPIC_STOPWORDS]
