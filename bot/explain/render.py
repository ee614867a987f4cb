"""A readable report of an explanation, for a person rather than a program."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.explain.catalog import load_catalog
from bot.i18n import Lang

if TYPE_CHECKING:  # the package imports this module; only the type is needed here
    from bot.explain import Explanation
    from bot.explain.bounce import Bounce
    from bot.explain.headers import HeaderReport
    from bot.explain.matcher import Match

__all__ = ["render_text"]

_MAX_DETAILED = 4  # matches shown with meaning, cause and fix; the rest get one line
_SLOW_HOP = 60.0  # seconds; a hop faster than this is not worth pointing at
_MAX_QUOTE = 80  # characters of a matched message quoted in a heading
_INDENT = "  "

Label = Callable[..., str]


def _labeller(lang: Lang) -> Label:
    catalog = load_catalog()

    def label(key: str, **params: Any) -> str:
        return catalog.label(key, lang, **params)

    return label


def _duration(seconds: float, label: Label) -> str:
    if seconds < 0:
        return f"-{_duration(-seconds, label)} {label('clock_skew')}"
    if seconds < 120:
        return label("seconds", n=f"{seconds:.0f}")
    if seconds < 7200:
        return label("minutes", n=f"{seconds / 60:.0f}")
    return label("hours", n=f"{seconds / 3600:.1f}")


def _colon(lang: Lang) -> str:
    return ":" if lang == "ja" else ": "


def _first_sentence(text: str, lang: Lang) -> str:
    end = text.find("。") + 1 if lang == "ja" else text.find(". ") + 1
    return text[:end] if end > 0 else text


def _details(match: Match, lang: Lang, label: Label) -> list[str]:
    c = _colon(lang)
    return [
        f"{_INDENT}{label('meaning')}{c}{match.meaning(lang)}",
        f"{_INDENT}{label('cause')}{c}{match.cause(lang)}",
        f"{_INDENT}{label('fix')}{c}{match.fix(lang)}",
    ]


def _quote(source: str, span: tuple[int, int]) -> str:
    found = " ".join(source[span[0] : span[1]].split())
    return found if len(found) <= _MAX_QUOTE else found[: _MAX_QUOTE - 1] + "…"


def _heading(match: Match, source: str, lang: Lang, label: Label) -> str:
    kind = label(f"kind_{match.kind}")
    if match.kind in ("client_message", "provider_message"):
        quoted = _quote(source, match.span)
        if not quoted:
            return f"● {kind}"
        return f"● {kind}「{quoted}」" if lang == "ja" else f"● {kind}: “{quoted}”"
    return f"● {match.code}({kind})" if lang == "ja" else f"● {match.code} ({kind})"


def _matches(
    matches: tuple[Match, ...], source: str, explained: set[str], lang: Lang, label: Label
) -> list[str]:
    lines: list[str] = []
    detailed = 0
    brief: list[str] = []
    catalog = load_catalog()
    # "The reason is further down" says nothing once a reason has been found.
    if any(m.cause_id != "delivery_failed" for m in matches) or explained:
        matches = tuple(m for m in matches if m.cause_id != "delivery_failed")
    for match in matches:
        # A bare reply class, a family or a headline adds nothing once a specific clue is shown.
        generic = match.kind == "smtp" or match.entry.is_family or match.entry.headline
        if match.cause_id in explained or detailed >= _MAX_DETAILED or (generic and detailed):
            name = (
                match.code
                if match.kind not in ("client_message", "provider_message")
                else (label(f"kind_{match.kind}"))
            )
            # A generic code's cause label would overstate it ("550: recipient unknown" next to
            # a relay refusal); its plain meaning does not.
            gist = (
                _first_sentence(match.meaning(lang), lang)
                if generic
                else catalog.cause_label(match.cause_id, lang)
            )
            line = f"{_INDENT}- {name}: {gist}"
            if line not in brief:
                brief.append(line)
            continue
        lines.append(_heading(match, source, lang, label))
        lines.extend(_details(match, lang, label))
        explained.add(match.cause_id)
        detailed += 1
    if brief:
        lines.append(f"{label('also_found')}{_colon(lang)}".rstrip())
        lines.extend(brief)
    return lines


_ACTION_LABELS = {"failed", "delayed", "delivered", "relayed", "expanded"}


def _bounce(bounce: Bounce, explained: set[str], lang: Lang, label: Label) -> list[str]:
    c = _colon(lang)
    lines = [f"■ {label('bounce_title')}"]
    if not bounce.recipients:
        lines.append(f"{_INDENT}{label('no_recipient')}")
    for recipient in bounce.recipients:
        lines.append(f"● {label('recipient')}{c}{recipient.address}")
        if recipient.action in _ACTION_LABELS:
            lines.append(f"{_INDENT}{label('action')}{c}{label(f'action_{recipient.action}')}")
        if recipient.status:
            lines.append(f"{_INDENT}{label('status')}{c}{recipient.status}")
        if recipient.remote_mta:
            lines.append(f"{_INDENT}{label('remote_mta')}{c}{recipient.remote_mta}")
        if recipient.diagnostic:
            shown = recipient.diagnostic
            shown = shown if len(shown) <= 300 else shown[:297] + "…"
            lines.append(f"{_INDENT}{label('diagnostic')}{c}{shown}")
        if recipient.match is not None:
            lines.extend(_details(recipient.match, lang, label))
            explained.add(recipient.match.cause_id)
    return lines


def _auth_word(result: str | None, label: Label) -> str:
    if result is None:
        return label("auth_missing")
    key = f"auth_{result}"
    return label(key) if key in load_catalog().labels else result


def _headers(report: HeaderReport, lang: Lang, label: Label) -> list[str]:
    c = _colon(lang)
    lines = [f"■ {label('headers_title')}"]
    if report.hops:
        lines.append(f"{label('hops')}{c}".rstrip())
        timed = [h.delay_seconds for h in report.hops if h.delay_seconds is not None]
        slowest = max(timed) if len(timed) > 1 else None
        for number, hop in enumerate(report.hops, start=1):
            route = f"{hop.from_host or '?'} → {hop.by_host or '?'}"
            if hop.protocol:
                route += f" ({hop.protocol})"
            if hop.delay_seconds is not None:
                route += f"  {label('hop_delay')} {_duration(hop.delay_seconds, label)}"
                if hop.delay_seconds == slowest and slowest >= _SLOW_HOP:
                    route += f"  {label('slowest')}"
            lines.append(f"{_INDENT}{number}. {route}")
    if report.total_delay_seconds is not None:
        total = _duration(report.total_delay_seconds, label)
        lines.append(f"{label('total_delay')}{c}{total}")
    auth = report.auth
    if any(auth.get(m) for m in ("spf", "dkim", "dmarc")):
        words = " / ".join(
            f"{m.upper()} {_auth_word(auth.get(m), label)}" for m in ("spf", "dkim", "dmarc")
        )
        lines.append(f"{label('auth_title')}{c}{words}")
        if any(auth.get(m) in ("fail", "softfail", "permerror") for m in ("spf", "dkim", "dmarc")):
            lines.append(f"{_INDENT}{label('auth_fail_hint')}")
    return lines


def render_text(explanation: Explanation, lang: str) -> str:
    """The explanation as plain text in ``lang`` ("ja" or "en")."""
    language: Lang = "en" if lang == "en" else "ja"
    label = _labeller(language)
    explained: set[str] = set()
    sections: list[list[str]] = []
    if explanation.bounce is not None:
        sections.append(_bounce(explanation.bounce, explained, language, label))
    if explanation.matches:
        body = _matches(explanation.matches, explanation.text, explained, language, label)
        detailed = bool(body) and body[0].startswith("●")
        if body:
            sections.append([f"■ {label('title')}", *body] if detailed else body)
    if explanation.headers is not None:
        sections.append(_headers(explanation.headers, language, label))
    if not sections:
        sections.append([label("nothing_found")])
    if explanation.truncated:
        sections.append([label("truncated")])
    return "\n\n".join("\n".join(section) for section in sections)
