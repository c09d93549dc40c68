"""The `opsbot` command line.

Each command imports what it needs inside its own function: `opsbot ask` must not pay
for Slack, SQL, HTTP and charts it never uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import logs
from bot.config import Settings, load_settings
from bot.errors import BotError, ConfigError, KnowledgeError

if TYPE_CHECKING:
    from bot.answers import AnswerEngine
    from bot.attestation.freshness import Freshness
    from bot.kb.patch import Change

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsbot", description="Answers *Ops ownership questions and runs practice check-ins."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer a question from the knowledge")
    ask.add_argument("question", nargs="*", help="the question (several words are joined)")
    ask.add_argument("--knowledge", type=Path, help="knowledge directory (OPSBOT_KNOWLEDGE_DIR)")
    ask.add_argument("--json", action="store_true", help="one JSON object per answer")
    ask.add_argument("--batch", metavar="FILE", help="one question a line; - for stdin")
    ask.add_argument("--threshold", type=float, help="abstain below this confidence")

    kb = commands.add_parser("kb", help="knowledge base tools")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    validate = kb_commands.add_parser("validate", help="check a knowledge folder or one file")
    validate.add_argument(
        "path", nargs="?", type=Path, metavar="DIR|FILE", help="default: OPSBOT_KNOWLEDGE_DIR"
    )
    validate.add_argument(
        "--knowledge",
        type=Path,
        help="the folder a FILE's references resolve in (default: OPSBOT_KNOWLEDGE_DIR)",
    )

    db = commands.add_parser("db", help="database tools")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser("upgrade", help="apply database migrations")

    gaps = commands.add_parser(
        "gaps",
        help="the most-asked questions the bot could not answer, or (--format yaml) what "
        "people suggested from the weekly digest, as knowledge YAML",
    )
    gaps.add_argument("--limit", type=int, default=20)
    gaps.add_argument("--days", type=int, help="only questions (suggestions) of the last N days")
    gaps.add_argument(
        "--format",
        choices=("text", "json", "yaml", "patch"),
        default="text",
        help=(
            "text or json: the gaps; yaml: the suggestions as FAQ entities (aliases as"
            " comments); patch: the suggested aliases as a diff of the knowledge files"
        ),
    )
    gaps.add_argument(
        "--json", dest="format", action="store_const", const="json", help="--format json"
    )

    commands.add_parser("chat", help="chat with the bot in this terminal (or pipe lines in)")

    attest = commands.add_parser("attest", help="ownership attestation: status, and a patch")
    attest_commands = attest.add_subparsers(
        dest="attest_command", required=True, metavar="ATTEST_COMMAND"
    )
    status = attest_commands.add_parser(
        "status", help="entities by freshness: disputed, overdue, pending, confirmed"
    )
    status.add_argument("--json", action="store_true", help="one JSON object per line")
    attest_commands.add_parser(
        "patch", help="a unified diff of the knowledge files from the answers (git apply)"
    )

    report = commands.add_parser("report", help="a check-in's latest round, or all its answers")
    report.add_argument("name", help="the check-in's name")
    report.add_argument("--format", choices=("text", "csv", "png"), default="text")
    report.add_argument("--output", "-o", help="file to write (default: standard output)")
    teams = commands.add_parser("teams", help="Microsoft Teams tools")
    teams_commands = teams.add_subparsers(
        dest="teams_command", required=True, metavar="TEAMS_COMMAND"
    )
    manifest = teams_commands.add_parser(
        "manifest", help="write the Teams app package (manifest.json and icons, zipped)"
    )
    manifest.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write")
    manifest.add_argument("--app-id", help="the bot's Microsoft app ID (default: TEAMS_APP_ID)")
    manifest.add_argument("--app-version", help="MAJOR.MINOR.PATCH (default: opsbot's version)")
    manifest.add_argument("--name", default="opsbot", help="the app's name in Teams")
    manifest.add_argument("--developer", help="publisher name shown in Teams")
    manifest.add_argument("--website-url", help="publisher website (https://)")
    manifest.add_argument("--privacy-url", help="privacy statement (https://)")
    manifest.add_argument("--terms-url", help="terms of use (https://)")

    commands.add_parser("serve", help="run the HTTP server")
    commands.add_parser("run", help="serve when a chat platform is configured, else chat")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(fmt=settings.log_format, level=settings.log_level)
    try:
        return _COMMANDS[args.command](args, settings)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"opsbot: the knowledge has {len(exc.problems)} error(s)", file=sys.stderr)
        return EXIT_PROBLEMS
    except BotError as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130


ASK_HELP = """\
opsbot ask answers one question from the knowledge, as the bot would in chat:
  opsbot ask "who owns model monitoring?"
  opsbot ask "what does an ML engineer do?"
  opsbot ask "runbook for the feature store"
  opsbot ask --json "who is on the ML Platform team?"     # the answer as JSON
  opsbot ask --batch questions.txt                        # one question a line
Ask about owners, backups, channels, on-call, links, teams, roles, practices, terms
and FAQs, in your own words. `opsbot chat` asks one question after another."""
_ASK_HELP_WORDS = frozenset({"help", "?", "-h", "--help", "usage"})


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        print("opsbot: --threshold must be between 0 and 1", file=sys.stderr)
        return EXIT_USAGE
    if bool(args.question) == bool(args.batch):
        print("opsbot: give a QUESTION or --batch FILE, not both or neither", file=sys.stderr)
        return EXIT_USAGE
    directory = args.knowledge or settings.knowledge_dir
    threshold = settings.answer_threshold if args.threshold is None else args.threshold
    engine = _answer_engine(directory, threshold, settings)
    show: Callable[[str], str] = _json_line(engine) if args.json else _text(engine)
    if not args.batch:
        question = " ".join(args.question)
        if not args.json and question.strip().lower() in _ASK_HELP_WORDS:
            print(ASK_HELP)
            return EXIT_OK
        print(show(question))
        return EXIT_OK
    stream: TextIO
    with sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                print(show(line.rstrip("\n")), flush=True)
    return EXIT_OK


def _answer_engine(directory: Path, threshold: float | None, settings: Settings) -> AnswerEngine:
    """The knowledge below `directory` and its index, through the knowledge cache."""
    from bot.answers import DEFAULT_THRESHOLD, AnswerEngine
    from bot.kb.cache import KnowledgeCache, default_directory

    chosen = DEFAULT_THRESHOLD if threshold is None else threshold
    cache = KnowledgeCache(directory=settings.cache_dir or default_directory(os.environ))
    result, engine = cache.get(
        directory,
        today=_today(),
        build=lambda loaded: AnswerEngine(loaded.knowledge, threshold=chosen),
        kind=AnswerEngine,
        variant=f"threshold={chosen!r}",
    )
    if result.errors:
        raise KnowledgeError([str(p) for p in result.errors])
    return engine


def _today() -> date:
    return datetime.now(UTC).date()


def _json_line(engine: AnswerEngine) -> Callable[[str], str]:
    return lambda q: json.dumps(engine.answer(q).to_json(), ensure_ascii=False)


def _text(engine: AnswerEngine) -> Callable[[str], str]:
    return lambda q: engine.answer(q).text


def _kb(args: argparse.Namespace, settings: Settings) -> int:
    from bot.kb import load_file, load_knowledge

    path = args.path or settings.knowledge_dir
    if path.exists() and not path.is_dir():
        root = args.knowledge or settings.knowledge_dir
        result = load_file(path, today=_today(), root=root)
    else:
        result = load_knowledge(path, today=_today())
    for problem in result.problems:
        print(problem)
    errors, warnings = len(result.errors), len(result.warnings)
    print(
        f"{path}: {result.files} files, {len(result.knowledge)} entities, "
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    )
    return EXIT_PROBLEMS if errors else EXIT_OK


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage import open_engine, upgrade

    async def run() -> None:
        async with open_engine(settings.database_url) as engine:
            await upgrade(engine)

    asyncio.run(run())
    print("database is up to date")
    return EXIT_OK


def _gaps(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_bot, shown_in
    from bot.gaps.export import alias_changes, suggestions_yaml
    from bot.storage.suggestions import SqlDigestStore

    if args.limit < 1 or (args.days is not None and args.days < 1):
        print("opsbot: --limit and --days must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    since = None if args.days is None else datetime.now(UTC) - timedelta(days=args.days)

    async def run() -> int:
        async with open_bot(settings) as bot:
            if args.format == "patch":
                suggestions = await SqlDigestStore(bot.engine).suggestions(since)
                edits, notes = alias_changes(suggestions, bot.answers.knowledge)
                _print_patch(edits, notes, settings.knowledge_dir)
                return EXIT_OK
            if args.format == "yaml":
                suggestions = await SqlDigestStore(bot.engine).suggestions(since)
                root = settings.knowledge_dir
                sys.stdout.write(
                    suggestions_yaml(
                        suggestions,
                        bot.answers.knowledge,
                        where=lambda entity: shown_in(root, str(entity.source)),
                    )
                )
                return EXIT_OK
            found = await bot.store.gaps(limit=args.limit, since=since)
        if not found and args.format == "text":
            print("No unanswered questions recorded.")
        for gap in found:
            if args.format == "json":
                row = {"question": gap.example, "count": gap.count}
                print(json.dumps(row | {"last_asked": gap.last_asked.isoformat()}))
            else:
                print(f"{gap.count:5d}  {gap.last_asked:%Y-%m-%d}  {gap.example}")
        return EXIT_OK

    return asyncio.run(run())


def _attest(args: argparse.Namespace, settings: Settings) -> int:
    from bot import console
    from bot.app import open_bot
    from bot.attestation.service import changes

    async def run() -> int:
        async with open_bot(settings) as bot:
            bot.enable_checkins(console.ConsoleMessenger(sys.stderr, None))
            if bot.attestation is None:
                print("Ownership attestation is off (OPSBOT_ATTEST_AFTER_DAYS=0).", file=sys.stderr)
                return EXIT_USAGE
            if args.attest_command == "status":
                for item in await bot.attestation.status():
                    _print_freshness(item, as_json=args.json)
                return EXIT_OK
            knowledge = bot.answers.knowledge
            found, notes = changes(
                knowledge, await bot.attestation.records(), datetime.now(UTC).date()
            )
        _print_patch(found, notes, settings.knowledge_dir)
        return EXIT_OK

    return asyncio.run(run())


def _print_patch(found: list[Change], notes: list[str], root: Path) -> None:
    """A unified diff of the knowledge files under `root` on standard output (to `git apply`
    where this runs), and what a human must decide on standard error."""
    from bot.kb.patch import make_patch

    names = {c.entity.source.file for c in found}
    files = {n: (root / n).read_text(encoding="utf-8") for n in names if (root / n).is_file()}
    patch = make_patch(found, files, {n: _diff_path(root / n, n) for n in files})
    sys.stdout.write(patch.diff)
    for note in (*notes, *patch.notes):
        print(f"note: {note}", file=sys.stderr)


def _print_freshness(item: Freshness, *, as_json: bool) -> None:
    confirmed = item.confirmed
    row = {
        "entity": str(item.entity.ref),
        "title": item.entity.title,
        "state": item.state,
        "owner": None if item.entity.owner is None else str(item.entity.owner),
        "confirmed_on": None if confirmed is None else confirmed.on.isoformat(),
        "confirmed_by": None if confirmed is None else confirmed.by,
        "proposed_owner": item.proposed_owner,
        "source": str(item.entity.source),
    }
    if as_json:
        print(json.dumps(row))
        return
    when = "never" if confirmed is None else f"{confirmed.on} by {confirmed.by or 'the file'}"
    extra = f"; proposed owner: {item.proposed_owner}" if item.proposed_owner else ""
    print(f"{item.state:9}  {item.entity.ref}  confirmed {when}{extra}")


def _diff_path(full: Path, name: str) -> str:
    """How the diff names a knowledge file: relative to here, where `git apply` runs."""
    shown = os.path.relpath(full.resolve(), Path.cwd())
    return name if shown.startswith("..") else shown


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot import console
    from bot.app import open_bot
    from bot.scheduler import ticking

    async def run() -> int:
        async with open_bot(settings) as bot:

            def people() -> list[str]:
                return [p.ref.name for p in bot.answers.knowledge.of_kind("person")]

            if settings.chat_as is not None and settings.chat_as.lower() not in people():
                known = ", ".join(sorted(people())[:10]) or "none"
                print(
                    f"opsbot: OPSBOT_CHAT_AS={settings.chat_as!r} is no person in the "
                    f"knowledge (people: {known})",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            person = (settings.chat_as or console.local_user()).lower()
            messenger = console.ConsoleMessenger(sys.stdout, person)
            service = bot.enable_checkins(messenger)
            async with ticking(bot.tick_with(service), seconds=settings.tick_seconds):
                await console.run(
                    bot.handlers.handle,
                    sys.stdin,
                    sys.stdout,
                    interactive=sys.stdin.isatty(),
                    messenger=messenger,
                    people=people,
                    notices=sys.stderr,
                )
        return EXIT_OK

    return asyncio.run(run())


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot import console
    from bot.app import open_bot
    from bot.checkins.commands import export
    from bot.model import Ref

    async def run() -> int:
        async with open_bot(settings) as bot:
            service = bot.enable_checkins(console.ConsoleMessenger(sys.stdout, None))
            checkin = service.knowledge().get(Ref(kind="checkin", name=args.name.lower()))
            if checkin is None:
                known = ", ".join(c.ref.name for c in service.checkins()) or "none"
                print(f"opsbot: no check-in {args.name!r} (known: {known})", file=sys.stderr)
                return EXIT_PROBLEMS
            if args.format == "csv":
                reply = await export(service, checkin)
                assert reply.attachment is not None
                return _write(args.output, reply.attachment.content)
            rounds = await service.store.rounds(checkin.ref.name, 1)
            if not rounds:
                print(f"{checkin.title} has had no rounds yet.")
                return EXIT_OK
            text, chart = await service.report(checkin, rounds[0])
            return _write(args.output, chart if args.format == "png" else text.plain.encode())

    return asyncio.run(run())


def _write(path: str | None, content: bytes) -> int:
    if path is None or path == "-":
        sys.stdout.buffer.write(content + (b"" if content.endswith(b"\n") else b"\n"))
        sys.stdout.flush()
    else:
        Path(path).write_bytes(content)
        print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def _teams(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from bot.teams.manifest import Developer, app_version, write_package

    app_id = args.app_id or settings.teams_app_id
    if not app_id or not app_id.strip():
        print("opsbot: give --app-id or set TEAMS_APP_ID (the bot's app ID)", file=sys.stderr)
        return EXIT_USAGE
    given = {
        "name": args.developer,
        "website_url": args.website_url,
        "privacy_url": args.privacy_url,
        "terms_url": args.terms_url,
    }
    developer = replace(Developer(), **{k: v for k, v in given.items() if v is not None})
    try:
        path = write_package(
            args.out,
            app_id=app_id,
            version=args.app_version or app_version(),
            name=args.name,
            developer=developer,
        )
    except ConfigError as exc:
        print(f"opsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"opsbot: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(path)
    return EXIT_OK


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from bot.app import serving
    from bot.web import create_app

    app = create_app(lambda: serving(settings))
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return EXIT_OK


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.slack_enabled or settings.teams_enabled:
        return _serve(args, settings)
    print("No Slack or Teams credentials set: starting the local chat.", file=sys.stderr)
    return _chat(args, settings)


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "ask": _ask,
    "kb": _kb,
    "db": _db,
    "gaps": _gaps,
    "attest": _attest,
    "chat": _chat,
    "report": _report,
    "teams": _teams,
    "serve": _serve,
    "run": _run,
}
