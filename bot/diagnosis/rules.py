"""From evidence to findings: what each probe outcome means for the person's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.knowledge.providers import Auth, Status
from bot.knowledge.typos import suggest_domain
from bot.model import Endpoint, Finding, Protocol, Security, Severity
from bot.probes.dns import DnsStatus
from bot.probes.result import AuthOutcome, Failure, Note, ProbeResult

if TYPE_CHECKING:
    from bot.diagnosis.engine import Report

_FAILURE_CODES: dict[Failure, str] = {
    Failure.POLICY_INTERNAL: "policy.internal_address",
    Failure.POLICY_PORT: "policy.port_not_allowed",
    Failure.HOST_NOT_FOUND: "dns.host_not_found",
    Failure.DNS_FAILED: "dns.resolver_failed",
    Failure.REFUSED: "net.refused",
    Failure.TIMEOUT: "net.timeout",
    Failure.UNREACHABLE: "net.unreachable",
    Failure.CONNECT_ERROR: "net.unreachable",
    Failure.EXPECTS_STARTTLS: "tls.expects_starttls",
    Failure.EXPECTS_IMPLICIT: "tls.expects_implicit",
    Failure.NO_GREETING: "net.no_greeting",
    Failure.CERT_EXPIRED: "tls.cert_expired",
    Failure.CERT_NOT_YET_VALID: "tls.cert_not_yet_valid",
    Failure.CERT_HOSTNAME_MISMATCH: "tls.cert_hostname_mismatch",
    Failure.CERT_UNTRUSTED: "tls.cert_untrusted",
    Failure.LEGACY_PROTOCOL: "tls.legacy_protocol",
    Failure.HANDSHAKE_FAILED: "tls.handshake_failed",
    Failure.STARTTLS_NOT_OFFERED: "tls.starttls_not_offered",
    Failure.STARTTLS_FAILED: "tls.handshake_failed",
    Failure.DROPPED: "net.dropped",
    Failure.PROTOCOL_ERROR: "net.protocol_error",
    Failure.DEADLINE: "net.deadline",
}

_AUTH_CODES = {
    AuthOutcome.FAILED: "auth.failed",
    AuthOutcome.APP_PASSWORD_REQUIRED: "auth.app_password_required",
    AuthOutcome.OAUTH_REQUIRED: "auth.oauth_required",
}


def _where(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "security": str(endpoint.security),
        "protocol": str(endpoint.protocol),
    }


def _finding(
    code: str,
    severity: Severity,
    endpoint: Endpoint | None = None,
    suggestion: str | None = None,
    **params: Any,
) -> Finding:
    where = _where(endpoint) if endpoint else {}
    return Finding(
        code=code,
        severity=severity,
        protocol=endpoint.protocol if endpoint else None,
        endpoint=endpoint,
        params={**where, **params},
        suggestion=suggestion,
    )


def _setting_text(endpoint: Endpoint) -> str:
    return f"{endpoint.host}:{endpoint.port}/{endpoint.security}"


def domain_findings(report: Report) -> list[Finding]:
    domain = report.request.address.domain
    mx = report.mx
    if mx.status is DnsStatus.NXDOMAIN:
        return [
            _finding(
                "dns.domain_not_found",
                Severity.ERROR,
                suggestion=suggest_domain(domain),
                domain=domain,
            )
        ]
    if mx.status is DnsStatus.FAILED:
        return [_finding("dns.resolver_failed", Severity.ERROR, domain=domain, detail=mx.detail)]
    if mx.null_mx:
        return [_finding("dns.null_mx", Severity.ERROR, domain=domain)]
    if mx.status is DnsStatus.NODATA or not mx.records:
        return [_finding("dns.no_mail_exchanger", Severity.WARNING, domain=domain)]
    return []


def probe_findings(result: ProbeResult, *, is_user: bool) -> list[Finding]:
    endpoint = result.endpoint
    found: list[Finding] = []
    extra: dict[str, Any] = {"detail": result.detail}
    if result.failure is not None:
        code = _FAILURE_CODES.get(result.failure, "")
        if result.failure is Failure.REJECTED:
            code = f"{endpoint.protocol}.rejected"
            extra["reply"] = (result.greeting or result.detail)[:300]
        suggestion = None
        cert = result.tls.certificate if result.tls else None
        if cert is not None:
            extra["cert_names"] = ", ".join(cert.names[:5])
            extra["not_after"] = cert.not_after.date().isoformat()
            extra["not_before"] = cert.not_before.date().isoformat()
            if result.failure is Failure.CERT_HOSTNAME_MISMATCH and cert.names:
                suggestion = next((n for n in cert.names if not n.startswith("*")), cert.names[0])
        if result.tls and result.tls.version:
            extra["tls_version"] = result.tls.version
        if result.failure is Failure.EXPECTS_STARTTLS:
            suggestion = "starttls"
        elif result.failure is Failure.EXPECTS_IMPLICIT:
            suggestion = "ssl"
        found.append(_finding(code, Severity.ERROR, endpoint, suggestion, **extra))
    if endpoint.protocol is Protocol.SMTP and endpoint.port == 25 and is_user:
        found.append(_finding("smtp.port25_submission", Severity.WARNING, endpoint))
    if result.failure is not None:
        return found
    notes = result.notes
    if endpoint.protocol is Protocol.SMTP:
        if Note.AUTH_REQUIRES_TLS in notes and endpoint.security is Security.NONE:
            found.append(_finding("smtp.auth_requires_tls", Severity.ERROR, endpoint, "starttls"))
        elif Note.AUTH_NOT_OFFERED in notes and endpoint.port != 25:
            found.append(_finding("smtp.auth_not_offered", Severity.ERROR, endpoint))
    elif Note.LOGIN_DISABLED in notes:
        found.append(
            _finding(f"{endpoint.protocol}.login_disabled", Severity.ERROR, endpoint, "ssl")
        )
    if Note.OAUTH_ONLY in notes:
        found.append(
            _finding(
                "auth.oauth_required",
                Severity.WARNING,
                endpoint,
                mechanisms=" ".join(result.auth_mechanisms),
            )
        )
    if result.auth in _AUTH_CODES:
        found.append(
            _finding(
                _AUTH_CODES[result.auth], Severity.ERROR, endpoint, reply=result.auth_reply or ""
            )
        )
    return found


def settings_findings(
    user: ProbeResult, recommended: Endpoint | None, user_ok: bool
) -> list[Finding]:
    """Explain each difference between the person's setting and one that works."""
    if recommended is None or user_ok:
        return []
    endpoint = user.endpoint
    found: list[Finding] = []
    common = {"recommended": _setting_text(recommended)}
    if endpoint.host != recommended.host:
        found.append(
            _finding(
                "settings.host_mismatch",
                Severity.ERROR,
                endpoint,
                recommended.host,
                expected=recommended.host,
                **common,
            )
        )
    if endpoint.port != recommended.port:
        found.append(
            _finding(
                "settings.port_mismatch",
                Severity.ERROR,
                endpoint,
                str(recommended.port),
                expected=recommended.port,
                **common,
            )
        )
    if endpoint.security is not recommended.security:
        found.append(
            _finding(
                "settings.security_mismatch",
                Severity.ERROR,
                endpoint,
                str(recommended.security),
                expected=str(recommended.security),
                **common,
            )
        )
    return found


def provider_findings(report: Report) -> list[Finding]:
    provider = report.provider
    if provider is None:
        return []
    found: list[Finding] = []
    params: dict[str, Any] = {"provider_ja": provider.name_ja, "provider_en": provider.name_en}
    if provider.status is Status.BROKEN or provider.oauth_only:
        found.append(_finding("auth.oauth_required", Severity.WARNING, source="provider", **params))
    elif Auth.APP_PASSWORD in provider.auth or Auth.PROVIDER_PASSWORD in provider.auth:
        found.append(
            _finding("auth.app_password_required", Severity.INFO, source="provider", **params)
        )
    return found


def derive_findings(report: Report, subjects: dict[Protocol, list[ProbeResult]]) -> list[Finding]:
    findings = domain_findings(report)
    for protocol, results in subjects.items():
        user = report.user_results.get(protocol)
        for result in results:
            is_user = result is user
            own = probe_findings(result, is_user=is_user)
            findings.extend(own)
            if is_user:
                recommendation = report.recommended.get(protocol)
                broken = any(f.severity is Severity.ERROR for f in own)
                findings.extend(
                    settings_findings(
                        result,
                        recommendation.result.endpoint if recommendation else None,
                        not broken,
                    )
                )
                if not broken:
                    findings.append(_finding("settings.ok", Severity.INFO, result.endpoint))
    live_auth = {f.code for f in findings if f.code.startswith("auth.")}
    findings.extend(f for f in provider_findings(report) if f.code not in live_auth)
    return _dedupe(findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per code and host: the same expired certificate on 993 and 143 is one."""
    seen: set[tuple[str, str | None]] = set()
    unique: list[Finding] = []
    for finding in findings:
        key = (finding.code, finding.endpoint.host if finding.endpoint else None)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(unique, key=lambda f: order[f.severity])
