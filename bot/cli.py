"""The `mail-doctor` command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.addresses import InputError, UserSetting, parse_address, parse_spec
from bot.config import ConfigError, Settings
from bot.diagnosis.engine import Check, CheckRequest
from bot.diagnosis.render import render_text, to_json
from bot.i18n import Lang, default_lang, t
from bot.model import Protocol
from bot.probes.result import ProbeResult

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mail-doctor",
        description="メールドクター: diagnose 'mail won't send / won't arrive' with live probes.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check",
        help="probe the mail servers of an address and tell what to fix",
        description="Find the settings that work for ADDRESS, probe them live, and compare them "
        "with what the mail app is set to (--smtp/--imap/--pop3 HOST[:PORT][/ssl|starttls|none]).",
    )
    check.add_argument("address", metavar="ADDRESS")
    check.add_argument("--send", action="store_true", help="check sending (SMTP)")
    check.add_argument("--receive", action="store_true", help="check receiving (IMAP and POP3)")
    check.add_argument("--smtp", metavar="SPEC", help="the app's sending setting")
    check.add_argument("--imap", metavar="SPEC", help="the app's IMAP setting")
    check.add_argument("--pop3", metavar="SPEC", help="the app's POP3 setting")
    check.add_argument(
        "--recipient",
        metavar="ADDRESS",
        help="mail to this address does not arrive: check its domain and what it asks of senders",
    )
    check.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    check.add_argument("--lang", choices=["ja", "en"], help="report language (default: locale)")
    check.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="deadline for the whole check (default 10)",
    )
    check.add_argument(
        "--password-stdin",
        action="store_true",
        help="read a password from standard input and try to log in (admins at a terminal only)",
    )
    chat = commands.add_parser(
        "chat",
        help="talk to mail-doctor in the terminal",
        description="The troubleshooting dialogue in the terminal, on the embedded store "
        "(MAIL_DOCTOR_STORE, default sqlite in $XDG_STATE_HOME/mail-doctor/).",
    )
    chat.add_argument("--jsonl", action="store_true", help="one JSON object per bot message")
    chat.add_argument("--lang", choices=["ja", "en"], help="conversation language")
    chat.add_argument("--session", default="default", help="name of a saved conversation")
    parse = commands.add_parser(
        "parse",
        help="show what the bot understands of a message",
        description="Print the intent, symptom, topic and entities the bot reads in TEXT; "
        "with --accuracy, the accuracy per intent on the labelled utterance sets.",
    )
    parse.add_argument("text", metavar="TEXT", nargs="?", help="a message ('-' for stdin)")
    parse.add_argument("--json", action="store_true", help="print JSON")
    parse.add_argument("--step", help="the question the bot had asked (e.g. ask_resolved)")
    parse.add_argument(
        "--accuracy",
        nargs="*",
        metavar="FILE",
        help="measure on labelled JSONL files (default: the sets shipped in conversations/data)",
    )
    commands.add_parser(
        "serve",
        help="run the chat bot for every configured platform (Slack today)",
        description="Serve the configured platforms on MAIL_DOCTOR_HTTP_HOST:MAIL_DOCTOR_HTTP_PORT "
        "(default 0.0.0.0:3000): Slack's Events API at /slack/events, health at /healthz.",
    )
    explain = commands.add_parser(
        "explain",
        help="explain a pasted error message, code, bounce or header block",
        description="What a pasted error means, its likely cause and what to do; whole bounces "
        "(which recipient, why) and message headers (delay per hop, SPF/DKIM/DMARC).",
    )
    explain.add_argument("text", metavar="TEXT", nargs="?", help="the text ('-' for stdin)")
    explain.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    explain.add_argument("--lang", choices=["ja", "en"], help="language (default: locale)")
    explain.add_argument(
        "--accuracy",
        nargs="?",
        const="",
        metavar="FILE",
        help="measure on a labelled JSONL case set (default: the one shipped)",
    )
    cases = commands.add_parser(
        "cases",
        help="list the helpdesk's cases, or the most common causes (--summary)",
        description="The cases in the conversation store (MAIL_DOCTOR_STORE), newest first, "
        "without anything the people wrote; with --summary, the most common likely causes of "
        "the cases updated in the last --since days (default 7).",
    )
    cases.add_argument(
        "--status", choices=["open", "escalated", "closed"], help="only cases with this status"
    )
    cases.add_argument("--json", action="store_true", help="print JSON on stdout")
    cases.add_argument(
        "--since",
        type=float,
        metavar="DAYS",
        help="only cases updated in the last DAYS days (default: all; 7 with --summary)",
    )
    cases.add_argument(
        "--summary", action="store_true", help="count the likely causes instead of listing"
    )
    cases.add_argument("--lang", choices=["ja", "en"], help="language (default: locale)")
    forget = commands.add_parser(
        "forget",
        help="delete everything stored about one person",
        description="Delete every conversation and case summary of a person from the "
        "conversation store (MAIL_DOCTOR_STORE), e.g. --user slack:U0123ABCD or "
        "--user telegram:123456789. A channel thread they wrote in is deleted as a whole.",
    )
    forget.add_argument(
        "--user", required=True, metavar="PLATFORM:ID", help="the person: slack:U… or telegram:…"
    )
    forget.add_argument("--json", action="store_true", help="print the counts as JSON")
    forget.add_argument("--lang", choices=["ja", "en"], help="language (default: locale)")
    return parser


class _Progress:
    """Live lines on a terminal while the probes run; silent when stderr is not a terminal."""

    def __init__(self, stream: TextIO, lang: Lang, enabled: bool) -> None:
        self.stream = stream
        self.lang = lang
        self.enabled = enabled

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if event == "discovery_started":
            line = t("progress.discovery", self.lang, domain=data["domain"])
        elif event == "probe_done":
            result: ProbeResult = data["result"]  # type: ignore[assignment]
            label = result.endpoint.label()
            line = (
                t("progress.done_ok", self.lang, label=label)
                if result.ok
                else t("progress.done_fail", self.lang, label=label, failure=result.failure)
            )
        else:
            return
        print(line, file=self.stream, flush=True)


def _request(args: argparse.Namespace, lang: Lang, stdin: TextIO) -> CheckRequest:
    address = parse_address(args.address)
    protocols: set[Protocol] = set()
    if args.send or not args.receive:
        protocols.add(Protocol.SMTP)
    if args.receive or not args.send:
        protocols |= {Protocol.IMAP, Protocol.POP3}
    user: dict[Protocol, UserSetting] = {}
    for protocol in Protocol:
        spec = getattr(args, protocol.value)
        if spec is not None:
            user[protocol] = parse_spec(spec, protocol)
            protocols.add(protocol)
    if not 1 <= args.timeout <= 120:
        raise InputError("input.timeout_invalid", str(args.timeout))
    password = None
    if args.password_stdin:
        # At a terminal, read without echo; from a pipe, the first line.
        password = (
            getpass.getpass("Password: ", stream=sys.stderr)
            if stdin.isatty()
            else stdin.readline().rstrip("\r\n")
        )
        if not password:
            raise InputError("input.password_empty", "")
    recipient = parse_address(args.recipient) if args.recipient else None
    return CheckRequest(address, frozenset(protocols), user, args.timeout, password, recipient)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "chat":
        return _chat(args)
    if args.command == "parse":
        return _parse(args)
    if args.command == "explain":
        return _explain(args)
    if args.command == "serve":
        return _serve()
    if args.command == "cases":
        return _cases(args)
    if args.command == "forget":
        return _forget(args)
    return _check(args)


def _serve() -> int:
    from bot.serve import ServeError, serve
    from bot.storage import StoreUnavailable

    try:
        asyncio.run(serve())
    except (ServeError, ValueError, StoreUnavailable) as exc:
        print(f"mail-doctor serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from bot.explain import evaluate_cases, explain, render_text

    lang: Lang = args.lang or default_lang()
    if args.accuracy is not None:
        try:
            figures = evaluate_cases(args.accuracy or None)
        except (OSError, ValueError) as exc:
            print(f"mail-doctor explain: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.json:
            print(json.dumps(figures, ensure_ascii=False, indent=2))
        else:
            for key in (
                "top1_cause_accuracy",
                "code_recall",
                "recipient_accuracy",
                "slowest_hop_accuracy",
            ):
                value = figures[key]
                shown = "n/a" if value is None else f"{value:.1%}"
                print(f"{key:22} {shown}")
            print(f"{'cases':22} {figures['cases']}")
        return EXIT_OK
    if args.text is None:
        print("mail-doctor explain: give TEXT, '-' for stdin, or --accuracy", file=sys.stderr)
        return EXIT_USAGE
    text = sys.stdin.read() if args.text == "-" else args.text
    explanation = explain(text, lang)
    if args.json:
        json.dump(explanation.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(render_text(explanation, lang))
    return EXIT_OK


def _chat(args: argparse.Namespace) -> int:
    from adapters.console import ConsoleChat
    from bot.storage import StoreUnavailable, open_store
    from conversations.dialogue import Dialogue

    lang: Lang = args.lang or default_lang()

    async def run() -> None:
        store = open_store(os.environ.get("MAIL_DOCTOR_STORE"), idle_ttl=_idle_ttl())
        try:
            chat = ConsoleChat(
                Dialogue(store), session=args.session, lang=args.lang, jsonl=args.jsonl
            )
            await chat.run()
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except (ValueError, StoreUnavailable) as exc:
        print(t("input.config", lang, detail=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def _idle_ttl() -> float:
    """How long a console conversation is kept idle: the same setting as the bot's."""
    from conversations.retention import Retention

    return Retention.from_env(os.environ).idle


def _parse(args: argparse.Namespace) -> int:
    from conversations.understanding import understand
    from conversations.understanding.accuracy import default_sets, evaluate, format_table

    if args.accuracy is not None:
        paths = [Path(p) for p in args.accuracy] or default_sets()
        results = [evaluate(path) for path in paths]
        if args.json:
            print(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
        else:
            print("\n\n".join(format_table(r) for r in results))
        return EXIT_OK
    if args.text is None:
        print("mail-doctor parse: give TEXT, '-' for stdin, or --accuracy", file=sys.stderr)
        return EXIT_USAGE
    text = sys.stdin.read() if args.text == "-" else args.text
    understood = understand(text, args.step)
    if args.json:
        print(json.dumps(understood.to_json(), ensure_ascii=False))
    else:
        for key, value in understood.to_json().items():
            print(f"{key}: {value}")
    return EXIT_OK


_PLATFORMS = ("slack", "telegram", "console")


def _forget(args: argparse.Namespace) -> int:
    from bot.storage import StoreUnavailable, open_store
    from conversations.retention import Retention, forget

    lang: Lang = args.lang or default_lang()
    platform, _, user = str(args.user).strip().partition(":")
    if platform.lower() not in _PLATFORMS or not user or ":" in user:
        print(t("forget.bad_user", lang), file=sys.stderr)
        return EXIT_USAGE

    async def run(kept: float) -> tuple[int, int]:
        store = open_store(os.environ.get("MAIL_DOCTOR_STORE"), idle_ttl=kept)
        try:
            return await forget(store, platform.lower(), user)
        finally:
            await store.close()

    try:
        conversations, summaries = asyncio.run(run(Retention.from_env(os.environ).case))
    except ValueError as exc:
        print(t("input.config", lang, detail=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as exc:
        print(t("forget.unavailable", lang, detail=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    who = f"{platform.lower()}:{user}"
    if args.json:
        print(json.dumps({"user": who, "conversations": conversations, "summaries": summaries}))
    else:
        print(t("forget.done", lang, user=who, conversations=conversations, summaries=summaries))
    return EXIT_OK


def _cases(args: argparse.Namespace) -> int:
    import math
    import time

    from bot import cases
    from bot.storage import Record, StoreUnavailable, open_store

    lang: Lang = args.lang or default_lang()
    days = args.since
    if days is not None and not (math.isfinite(days) and days > 0):
        print(cases.message("since_invalid", lang, value=days), file=sys.stderr)
        return EXIT_USAGE
    if days is None and args.summary:
        days = cases.SUMMARY_DAYS

    async def load(idle_ttl: float) -> list[Record]:
        store = open_store(os.environ.get("MAIL_DOCTOR_STORE"), idle_ttl=idle_ttl)
        try:
            return await store.list_records()
        finally:
            await store.close()

    from conversations.retention import Retention

    try:
        kept = Retention.from_env(os.environ).case  # conversations end; their cases stay
        records = asyncio.run(load(kept))
    except ValueError as exc:
        print(t("input.config", lang, detail=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as exc:
        print(cases.message("store_unavailable", lang, detail=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    note = cases.retention_note(days, kept, lang)
    if note:
        print(note, file=sys.stderr)
    print(
        cases.output(
            records,
            lang=lang,
            now=time.time(),
            status=args.status,
            days=days,
            summary=args.summary,
            as_json=args.json,
        )
    )
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    lang: Lang = args.lang or default_lang()
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(t("input.config", lang, detail=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    try:
        request = _request(args, lang, sys.stdin)
    except InputError as exc:
        print(t(exc.key, lang, value=exc.value, **exc.params), file=sys.stderr)
        return EXIT_USAGE
    progress = _Progress(sys.stderr, lang, enabled=not args.json and sys.stderr.isatty())
    report = asyncio.run(Check(request, settings, progress).run())
    if args.json:
        json.dump(to_json(report, lang), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(render_text(report, lang))
    return EXIT_FINDINGS if report.has_error else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
