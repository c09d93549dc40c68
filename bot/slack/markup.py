"""Slack markup, made in one place: every text Slack shows is built here.

Plain text (whatever a person typed or the knowledge holds) is escaped by Slack's rules,
`&`, `<` and `>` as entities (https://api.slack.com/reference/surfaces/formatting#escaping),
so `<!channel>` is shown, never broadcast. Markup (bold, code, mentions, channels, links)
is made from data the bot holds (a Slack ID from the knowledge, a URL, a `Styled` span),
never taken from text. `Mrkdwn` marks a string made here: the block builders and the
adapter take only `Mrkdwn`, so a plain `str` cannot reach Slack unescaped (mypy checks it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import LiteralString, NewType

from bot.styled import Style, Styled

Mrkdwn = NewType("Mrkdwn", str)

NOTHING = Mrkdwn("")
_USER_ID = re.compile(r"[UW][A-Z0-9]{6,}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")
_WEB_URL = re.compile(r"https?://\S+", re.IGNORECASE)
#: Inside a link only the separator and the brackets need more than Slack's escaping.
_URL_ESCAPES = str.maketrans({"&": "&amp;", "<": "%3C", ">": "%3E", "|": "%7C"})
#: What a styled span is wrapped in, and what stands for that character inside it, so
#: that text in a bold span (say) cannot end the bold early or start another.
_MARKS: dict[Style, tuple[str, str]] = {
    "bold": ("*", "\N{ASTERISK OPERATOR}"),
    "italic": ("_", "\N{FULLWIDTH LOW LINE}"),
    "code": ("`", "\N{MODIFIER LETTER GRAVE ACCENT}"),
}
#: The knowledge's Markdown: `[label](url)` and `<url>` links, `**bold**`.
_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)|<(https?://[^>|\s]+)>")
_MD_BOLD = re.compile(r"\*\*(.+?)\*\*")


#: Words Slack may turn into a broadcast in mrkdwn blocks even without <!...> markup.
_BROADCAST_WORD = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)


def escape(text: str) -> Mrkdwn:
    """Text shown as written: Slack's three control characters as entities, and a word
    joiner after the @ of @channel, @here and @everyone, which then stay plain words."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Mrkdwn(_BROADCAST_WORD.sub("@\N{WORD JOINER}", escaped))


def ours(text: LiteralString) -> Mrkdwn:
    """Markup written in this code (a literal such as "*Try*"), never text from data."""
    return Mrkdwn(text)


def fmt(pattern: LiteralString, *parts: Mrkdwn) -> Mrkdwn:
    """`pattern` (a literal of this code) with `{}` filled by markup made here."""
    return Mrkdwn(pattern.format(*parts))


def join(parts: Iterable[Mrkdwn], sep: LiteralString = "") -> Mrkdwn:
    return Mrkdwn(sep.join(parts))


def span(text: str, style: Style = "plain") -> Mrkdwn:
    """`text` in one style; each line is styled on its own, as Slack styles only within one."""
    if style == "plain":
        return escape(text)
    mark, stand_in = _MARKS[style]
    return join((_styled_line(line, mark, stand_in) for line in text.split("\n")), "\n")


def _styled_line(line: str, mark: str, stand_in: str) -> Mrkdwn:
    core = line.strip()
    if not core:
        return escape(line)
    start = line.index(core)
    inner = escape(core.replace(mark, stand_in))
    return Mrkdwn(f"{escape(line[:start])}{mark}{inner}{mark}{escape(line[start + len(core) :])}")


def bold(text: str) -> Mrkdwn:
    return span(text, "bold")


def italic(text: str) -> Mrkdwn:
    return span(text, "italic")


def code(text: str) -> Mrkdwn:
    return span(text, "code")


def styled(text: Styled) -> Mrkdwn:
    """Text with styles as mrkdwn: every span escaped, its style as Slack's marks."""
    lines = (join(span(s.text, s.style) for s in line) for line in text.lines)
    return join(lines, "\n")


def user(slack_id: str | None) -> Mrkdwn | None:
    """A real mention of a user ID from the knowledge, or None if it is not one."""
    if slack_id is None or not _USER_ID.fullmatch(slack_id):
        return None
    return Mrkdwn(f"<@{slack_id}>")


def channel(name: str) -> Mrkdwn:
    """A channel: a real link for a channel ID, the name as text otherwise."""
    if _CHANNEL_ID.fullmatch(name):
        return Mrkdwn(f"<#{name}>")
    return escape(name)


def link(url: str, label: str | None = None) -> Mrkdwn:
    """A web link showing `label` (else the URL); anything but http(s) is only text."""
    if not _WEB_URL.fullmatch(url):
        return escape(label or url)
    target = url.translate(_URL_ESCAPES)
    return Mrkdwn(f"<{target}|{escape(label)}>" if label else f"<{target}>")


def markdown(text: str) -> Mrkdwn:
    """The knowledge's Markdown as mrkdwn: its links and bold kept, everything else text."""
    out, last = [], 0
    for match in _MD_LINK.finditer(text):
        out.append(_markdown_bold(text[last : match.start()]))
        out.append(link(match.group(2) or match.group(3), match.group(1)))
        last = match.end()
    out.append(_markdown_bold(text[last:]))
    return join(out)


def _markdown_bold(text: str) -> Mrkdwn:
    return join(
        bold(part) if i % 2 else escape(part) for i, part in enumerate(_MD_BOLD.split(text))
    )


def cut(text: Mrkdwn, limit: int, more: Mrkdwn = NOTHING) -> Mrkdwn:
    """`text` within `limit` characters; a cut ends with an ellipsis and `more`.

    A cut never splits an entity (`&amp;`) or a mention or link (`<...>`): what is left
    of one is dropped whole, so a cut can neither show half an entity nor open markup.
    """
    if len(text) <= limit:
        return text
    tail = f"… {more}" if more else "…"
    kept = text[: max(0, limit - len(tail))]
    entity = kept.rfind("&")
    if entity != -1 and ";" not in kept[entity:]:
        kept = kept[:entity]
    bracket = kept.rfind("<")
    if bracket != -1 and ">" not in kept[bracket:]:
        kept = kept[:bracket]
    return Mrkdwn(kept.rstrip() + tail)
