"""The Teams app package: `manifest.json` and its two icons, zipped, ready to upload.

The icons are drawn here and encoded as PNG with the standard library alone (no image
library at run time), so the same arguments always give the same bytes.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import __version__
from bot.errors import ConfigError

#: The newest generally available manifest schema (August 2026); the manifest below uses
#: nothing newer than 1.17, so an older `manifestVersion` only needs these two lines changed.
MANIFEST_VERSION = "1.30"
SCHEMA_URL = (
    f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}"
    "/MicrosoftTeams.schema.json"
)
PACKAGE_FILE = "opsbot-teams.zip"
MANIFEST_FILE, COLOR_ICON, OUTLINE_ICON = "manifest.json", "color.png", "outline.png"
COLOR_SIZE, OUTLINE_SIZE = 192, 32
BOT_SCOPES = ("personal", "team", "groupChat")
DEFAULT_ACCENT = "#2E5AAC"

# The manifest's limits (the strictest of schema 1.17 and later).
NAME_SHORT_MAX, NAME_FULL_MAX = 30, 100
DESCRIPTION_SHORT_MAX, DESCRIPTION_FULL_MAX = 80, 4000
DEVELOPER_NAME_MAX = 32
COMMAND_TITLE_MAX, COMMAND_DESCRIPTION_MAX, COMMANDS_MAX = 32, 128, 10

#: What Teams offers when someone types to the bot or @mentions it: the handlers' commands
#: (`bot/handlers.py`, `HELP`), typed with or without a leading `/ops `.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("help", "What I answer and how to ask"),
    ("who-owns", "Who owns an area, service or practice, e.g. who-owns model monitoring"),
    ("what-is", "What a term, role, team or area is, e.g. what-is data drift"),
    ("team", "Who is on a team, e.g. team ml platform"),
    ("owns", "What a team or person owns, e.g. owns ml platform"),
    ("links", "Runbooks, dashboards, docs and repos of something, e.g. links feature store"),
    ("checkin", "Practice check-ins: checkin list (also run, pause, resume, report, export)"),
    ("attest", "Ownership checks: attest status (admins: attest run)"),
    ("digest", "Admins: post the weekly knowledge gaps digest now"),
)

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_SEMVER = re.compile(r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)")
_RELEASE = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, kw_only=True)
class Developer:
    """Who publishes the app, as Teams shows it; the defaults are placeholders."""

    name: str = "opsbot"
    website_url: str = "https://opsbot.example.com"
    privacy_url: str = "https://opsbot.example.com/privacy"
    terms_url: str = "https://opsbot.example.com/terms"


def app_version(package_version: str = __version__) -> str:
    """The package's version as the MAJOR.MINOR.PATCH Teams accepts ("1.2rc1" -> "1.2.0")."""
    found = _RELEASE.match(package_version.strip())
    if found is None:
        raise ConfigError(f"cannot make a Teams app version out of {package_version!r}")
    return ".".join(str(int(part or 0)) for part in found.groups())


def build_manifest(
    *,
    app_id: str,
    version: str,
    name: str = "opsbot",
    developer: Developer = Developer(),
    accent_color: str = DEFAULT_ACCENT,
    valid_domains: Sequence[str] = (),
) -> dict[str, Any]:
    """`manifest.json` for a bot-only app whose app ID and bot ID are both `app_id`."""
    app_id = _check_app_id(app_id)
    _check(
        bool(_SEMVER.fullmatch(version)),
        f"the app version must be MAJOR.MINOR.PATCH, not {version!r}",
    )
    _check(
        0 < len(name) <= NAME_SHORT_MAX, f"the app name must have 1 to {NAME_SHORT_MAX} characters"
    )
    _check(
        0 < len(developer.name) <= DEVELOPER_NAME_MAX,
        f"the developer name must have 1 to {DEVELOPER_NAME_MAX} characters",
    )
    for label, url in (
        ("website", developer.website_url),
        ("privacy", developer.privacy_url),
        ("terms of use", developer.terms_url),
    ):
        _check(url.startswith("https://") and len(url) <= 2048, f"the {label} URL must be https://")
    _check(bool(_HEX_COLOR.fullmatch(accent_color)), "the accent colour must look like #2E5AAC")
    full_name = f"{name}: *Ops ownership answers and practice check-ins"
    commands = [{"title": title, "description": text} for title, text in COMMANDS]
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app_id,
        "developer": {
            "name": developer.name,
            "websiteUrl": developer.website_url,
            "privacyUrl": developer.privacy_url,
            "termsOfUseUrl": developer.terms_url,
        },
        "name": {"short": name, "full": full_name},
        "description": {
            "short": "Who owns what, from your *Ops knowledge, and practice check-ins",
            "full": _FULL_DESCRIPTION.format(name=name),
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": accent_color,
        "bots": [
            {
                "botId": app_id,
                "scopes": list(BOT_SCOPES),
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": list(BOT_SCOPES), "commands": commands}],
            }
        ],
        "validDomains": list(valid_domains),
    }


_FULL_DESCRIPTION = (
    "{name} answers questions about who owns what (areas, services and practices), teams and"
    " people, roles and the glossary, from the knowledge your enablement team keeps in git,"
    ' and says "I don\'t know" with suggestions rather than guess. Answers show where'
    " they come from and have Helpful / Not helpful buttons."
    " It also runs recurring practice check-ins: a short card in a personal chat, answers"
    " recorded, reminders, and a report when a round closes. Message it directly, @mention it"
    " in a channel or group chat, or type a command such as who-owns model monitoring."
)


def write_package(
    out_dir: Path,
    *,
    app_id: str,
    version: str,
    name: str = "opsbot",
    developer: Developer = Developer(),
    accent_color: str = DEFAULT_ACCENT,
    valid_domains: Sequence[str] = (),
) -> Path:
    """Write `out_dir/opsbot-teams.zip` (manifest.json, color.png, outline.png at its root).

    The same arguments give the same bytes. Raises `ConfigError` naming what is wrong.
    """
    manifest = build_manifest(
        app_id=app_id,
        version=version,
        name=name,
        developer=developer,
        accent_color=accent_color,
        valid_domains=valid_domains,
    )
    files = {
        MANIFEST_FILE: (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
        COLOR_ICON: color_icon(accent_color),
        OUTLINE_ICON: outline_icon(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / PACKAGE_FILE
    partial = out_dir / f".{PACKAGE_FILE}.partial"
    with zipfile.ZipFile(partial, "w") as archive:
        for member, content in files.items():
            info = zipfile.ZipInfo(member, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever builds it
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    partial.replace(target)
    return target


def color_icon(accent_color: str = DEFAULT_ACCENT) -> bytes:
    """192x192 opaque PNG: the white mark, inside the central 96x96, on the accent colour."""
    _check(bool(_HEX_COLOR.fullmatch(accent_color)), "the accent colour must look like #2E5AAC")
    accent = tuple(int(accent_color[i : i + 2], 16) for i in (1, 3, 5))
    mark = _mark(COLOR_SIZE, outer=44.0, width=10.0, dot=14.0)

    def pixel(x: int, y: int) -> tuple[int, ...]:
        cover = mark(x, y)
        return tuple(round(c + (255 - c) * cover) for c in accent)

    return _png(COLOR_SIZE, COLOR_SIZE, pixel, alpha=False)


def outline_icon() -> bytes:
    """32x32 PNG, white on transparent: every pixel is white, only its alpha varies."""
    mark = _mark(OUTLINE_SIZE, outer=15.0, width=3.0, dot=5.0)
    return _png(OUTLINE_SIZE, OUTLINE_SIZE, lambda x, y: (255, 255, 255, round(255 * mark(x, y))))


def _mark(size: int, *, outer: float, width: float, dot: float) -> Callable[[int, int], float]:
    """How much of pixel (x, y) a ring with a dot in its middle covers, from 0 to 1."""
    centre = size / 2

    def cover(x: int, y: int) -> float:
        d = math.hypot(x + 0.5 - centre, y + 0.5 - centre)
        ring = min(outer - d, d - (outer - width))
        return max(0.0, min(1.0, 0.5 + max(ring, dot - d)))

    return cover


def _png(
    width: int,
    height: int,
    pixel: Callable[[int, int], tuple[int, ...]],
    *,
    alpha: bool = True,
) -> bytes:
    """An 8-bit RGB(A) PNG of `pixel(x, y)`, unfiltered rows, zlib level 9."""
    rows = b"".join(
        b"\x00" + bytes(channel for x in range(width) for channel in pixel(x, y))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _check_app_id(app_id: str) -> str:
    app_id = app_id.strip()
    if not _GUID.fullmatch(app_id):
        raise ConfigError(
            "TEAMS_APP_ID (or --app-id) must be the bot's Microsoft app (client) ID, a GUID"
            " such as 00000000-0000-0000-0000-000000000000"
        )
    return app_id


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
