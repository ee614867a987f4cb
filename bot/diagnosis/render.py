"""A check's report in words (Japanese or English) and as the documented JSON object."""

from __future__ import annotations

from typing import Any

from bot.diagnosis.engine import Report
from bot.i18n import Lang, catalog, format_text, t
from bot.model import Finding, Protocol, Security


def _labels(params: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """Human words for the values a finding carries (ssl → SSL/TLS, smtp → 送信(SMTP))."""
    out = dict(params)
    for key in ("security", "expected", "suggestion", "recommended_security"):
        value = params.get(key)
        if value in {s.value for s in Security}:
            out[f"{key}_label"] = t(f"security.{value}", lang)
        elif value is not None:
            out[f"{key}_label"] = value
    protocol = params.get("protocol")
    if protocol:
        out["protocol_label"] = t(f"protocol.{protocol}", lang)
    if "provider_ja" in params:
        out["provider"] = params[f"provider_{lang}"]
    if "receiver_ja" in params:
        out["receiver_label"] = params["receiver_ja"] if lang == "ja" else params["receiver"]
    return out


def finding_texts(finding: Finding, lang: Lang) -> tuple[str, str]:
    """(message, fix) of a finding in `lang`."""
    entry = catalog("findings")[finding.code]
    params = _labels({**finding.params, "suggestion": finding.suggestion}, lang)
    message = format_text(entry[lang], params)
    fix_key = (
        f"fix_suggestion_{lang}"
        if finding.suggestion and f"fix_suggestion_{lang}" in entry
        else f"fix_{lang}"
    )
    return message, format_text(entry[fix_key], params)


def _source_label(source: str, lang: Lang) -> str:
    return t(f"source.{source}", lang)


def to_json(report: Report, lang: Lang) -> dict[str, Any]:
    request = report.request
    recommended: dict[str, Any] = {}
    for protocol in Protocol:
        rec = report.recommended.get(protocol)
        recommended[protocol.value] = (
            {
                "host": rec.result.endpoint.host,
                "port": rec.result.endpoint.port,
                "security": rec.result.endpoint.security.value,
                "source": rec.source.word,
            }
            if rec
            else None
        )
    findings = []
    for finding in report.findings:
        message, fix = finding_texts(finding, lang)
        item: dict[str, Any] = {
            "code": finding.code,
            "severity": finding.severity.value,
            "protocol": finding.protocol.value if finding.protocol else None,
            "endpoint": finding.endpoint.to_json() if finding.endpoint else None,
            "message": message,
            "fix": fix,
        }
        if finding.suggestion:
            item["suggestion"] = finding.suggestion
        findings.append(item)
    provider = report.provider
    return {
        "address": request.address.address,
        "domain": request.address.domain,
        "provider": {
            "id": provider.id,
            "name": provider.name_ja if lang == "ja" else provider.name_en,
        }
        if provider
        else None,
        "recommended": recommended,
        "findings": findings,
        "endpoints": [r.to_json() for r in report.results],
        "mx": [{"preference": r.preference, "host": r.host} for r in report.mx.records],
        "elapsed_ms": report.elapsed_ms,
    }


def render_text(report: Report, lang: Lang) -> str:
    request = report.request
    lines = [t("report.title", lang, address=request.address.address), ""]
    if report.provider:
        name = report.provider.name_ja if lang == "ja" else report.provider.name_en
        lines += [t("report.provider", lang, name=name), ""]
    lines.append("■ " + t("report.recommended", lang))
    for protocol in request.ordered_protocols():
        rec = report.recommended.get(protocol)
        label = t(f"protocol.{protocol}", lang)
        if rec is None:
            lines.append("  " + t("report.recommended_none", lang, protocol_label=label))
            continue
        endpoint = rec.result.endpoint
        lines.append(
            "  "
            + t(
                "report.recommended_row",
                lang,
                protocol_label=label,
                host=endpoint.host,
                port=endpoint.port,
                security_label=t(f"security.{endpoint.security}", lang),
                source_label=_source_label(rec.source.word, lang),
            )
        )
    lines += ["", "■ " + t("report.findings", lang)]
    if not report.findings:
        lines.append("  " + t("report.no_findings", lang))
    for finding in report.findings:
        message, fix = finding_texts(finding, lang)
        lines.append(f"  [{t(f'severity.{finding.severity}', lang)}] {message}")
        lines.append(f"      → {fix}  ({finding.code})")
    lines.append("")
    if request.password is None:
        lines.append(t("report.no_password_note", lang))
    lines.append(t("report.elapsed", lang, seconds=f"{report.elapsed_ms / 1000:.1f}"))
    return "\n".join(lines)
