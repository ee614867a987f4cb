"""Putting a diagnosis into words for the person, and a case into words for a human helper."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.i18n import t
from bot.knowledge.providers import load_providers
from conversations import texts
from conversations.state import Lang, State


def causes(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The findings that can explain the trouble, most likely first (errors, then warnings)."""
    findings = (result or {}).get("findings", [])
    likely: list[dict[str, Any]] = []
    targets: set[str | None] = set()
    for finding in findings:
        if finding["severity"] not in ("error", "warning"):
            continue
        if finding["code"].startswith("settings."):
            # Host, port and encryption differences are one fix: the working setting.
            if finding["protocol"] in targets:
                continue
            targets.add(finding["protocol"])
        likely.append(finding)
    return likely


def present_cause(finding: dict[str, Any], lang: Lang, *, first: bool) -> str:
    name = "cause" if first else "next_cause"
    return texts.message(name, lang, message=finding["message"], fix=finding["fix"])


def present_diagnosis(state: State, result: dict[str, Any]) -> str:
    lang = state.lang
    parts = [texts.message("diagnosis_intro", lang, case_id=state.case_id)]
    likely = causes(result)
    if not any(f["severity"] == "error" for f in likely):
        parts.append(texts.message("diagnosis_ok", lang))
    if likely:
        parts.append(present_cause(likely[0], lang, first=True))
    rows = []
    for protocol in state.protocols():
        rec = (result.get("recommended") or {}).get(protocol)
        if rec is None and protocol == "imap":
            protocol, rec = "pop3", (result.get("recommended") or {}).get("pop3")
        if rec:
            rows.append(
                texts.message(
                    "setting_row",
                    lang,
                    protocol_label=t(f"protocol.{protocol}", lang),
                    host=rec["host"],
                    port=rec["port"],
                    security_label=t(f"security.{rec['security']}", lang),
                )
            )
    if rows:
        heading = texts.message("settings_to_enter", lang, app=texts.app_name(state.app, lang))
        where = texts.message("where_in_app", lang, where=texts.app_text(state.app, "server", lang))
        security = texts.app_text(state.app, "security", lang)
        parts.append("\n".join([heading, *rows, where, security]))
    provider = (result.get("provider") or {}).get("id")
    known = load_providers().by_id(provider) if provider else None
    if known is not None:
        # What to do before anything else (Delta Chat's model), then what changed and when.
        notes = [known.hint(lang), known.enable(lang), known.username_note(lang)]
        notes += [
            f"{d.date.isoformat()}: {d.what(lang)}"
            for d in known.deprecations_for(date.today())[:3]
        ]
        hint = "\n".join(n for n in notes if n)
        if hint:
            parts.append(texts.message("provider_hint", lang, provider=known.name(lang), hint=hint))
    parts.append(texts.message("auth_steps", lang))
    signin = texts.app_text(state.app, "signin", lang)
    if signin:
        parts.append(signin)
    return "\n\n".join(parts)


def escalation_summary(state: State) -> str:
    """Everything a human needs to take the case over without asking again."""
    lang = state.lang
    unknown = texts.message("unknown", lang)
    none = texts.message("none", lang)
    findings = (state.diagnosis or {}).get("findings", [])
    settings = ", ".join(
        f"{p}={s or unknown}" for p, s in state.settings.items() if p in ("smtp", "imap", "pop3")
    )
    body = texts.message(
        "summary_body",
        lang,
        symptom=texts.message(f"symptom_{state.symptom}", lang) if state.symptom else unknown,
        domain=state.domain or unknown,
        app=texts.app_name(state.app, lang) if state.app else unknown,
        settings=settings or none,
        findings=", ".join(f"{f['code']} ({f['severity']})" for f in findings) or none,
        tried=", ".join(state.tried) or none,
        history=" / ".join(state.history[-3:]) or none,
    )
    if state.undelivered:  # the person may not have seen everything the bot said
        body += "\n" + texts.message("summary_undelivered", lang, count=state.undelivered)
    return texts.message("summary_title", lang, case_id=state.case_id) + "\n" + body
