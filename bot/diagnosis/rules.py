"""From evidence to findings: what each probe outcome means for the person's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.addresses import UserSetting, is_ip_literal
from bot.knowledge.providers import Auth, Status
from bot.knowledge.typos import suggest_domain
from bot.model import Endpoint, Finding, Protocol, Security, Severity
from bot.probes.dns import CNAME_LOOP, DnsStatus
from bot.probes.result import AuthOutcome, Failure, Note, ProbeResult

if TYPE_CHECKING:
    from bot.diagnosis.engine import Report

_FAILURE_CODES: dict[Failure, str] = {
    Failure.POLICY_INTERNAL: "policy.internal_address",
    Failure.POLICY_PORT: "policy.port_not_allowed",
    Failure.POLICY_LIMIT: "policy.connection_limit",
    Failure.HOST_NOT_FOUND: "dns.host_not_found",
    Failure.DNS_FAILED: "dns.resolver_failed",
    Failure.DNS_LOOP: "dns.cname_loop",
    Failure.REFUSED: "net.refused",
    Failure.TIMEOUT: "net.timeout",
    Failure.UNREACHABLE: "net.unreachable",
    Failure.IPV6_ONLY: "net.ipv6_only",
    Failure.CONNECT_ERROR: "net.unreachable",
    Failure.EXPECTS_STARTTLS: "tls.expects_starttls",
    Failure.EXPECTS_IMPLICIT: "tls.expects_implicit",
    Failure.NO_GREETING: "net.no_greeting",
    Failure.TOO_SLOW: "net.too_slow",
    Failure.TOO_LONG: "net.reply_too_long",
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
    *,
    protocol: Protocol | None = None,
    **params: Any,
) -> Finding:
    where = _where(endpoint) if endpoint else {}
    if protocol is not None:
        where["protocol"] = str(protocol)
    return Finding(
        code=code,
        severity=severity,
        protocol=endpoint.protocol if endpoint else protocol,
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
    if mx.status is DnsStatus.FAILED and mx.detail == CNAME_LOOP:
        return [_finding("dns.cname_loop", Severity.ERROR, domain=domain, host=domain)]
    if mx.status is DnsStatus.FAILED:
        return [_finding("dns.resolver_failed", Severity.ERROR, domain=domain, detail=mx.detail)]
    if mx.null_mx:
        return [_finding("dns.null_mx", Severity.ERROR, domain=domain)]
    if mx.status is DnsStatus.NODATA or not mx.records:
        return [_finding("dns.no_mail_exchanger", Severity.WARNING, domain=domain)]
    literal = [r.host for r in mx.records if is_ip_literal(r.host.strip("[]"))]
    if literal:
        # RFC 5321 5.1: an MX names a host; Postfix and Exim refuse to deliver to an address
        # there, so mail to the domain does not arrive when every MX is one.
        receiving = bool({Protocol.IMAP, Protocol.POP3} & report.request.protocols)
        every = len(literal) == len([r for r in mx.records if r.host])
        severity = Severity.ERROR if receiving and every else Severity.WARNING
        return [_finding("dns.mx_is_address", severity, domain=domain, host=literal[0])]
    return []


def probe_findings(
    result: ProbeResult, *, is_user: bool, alternative: Endpoint | None = None
) -> list[Finding]:
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
            if result.failure is Failure.CERT_HOSTNAME_MISMATCH:
                # Only a full server name: never a wildcard, never a bare domain.
                full = [n for n in cert.names if "*" not in n and n.count(".") >= 2]
                suggestion = full[0] if full else None
        if result.tls and result.tls.version:
            extra["tls_version"] = result.tls.version
        if result.failure is Failure.EXPECTS_STARTTLS:
            suggestion = "starttls"
        elif result.failure is Failure.EXPECTS_IMPLICIT:
            suggestion = "ssl"
        found.append(_finding(code, Severity.ERROR, endpoint, suggestion, **extra))
    if endpoint.protocol is Protocol.SMTP and endpoint.port == 25 and is_user:
        # An error when a submission port is known to work: then the fix is certain.
        severity = Severity.ERROR if alternative else Severity.WARNING
        found.append(_finding("smtp.port25_submission", severity, endpoint))
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
    user: ProbeResult, said: UserSetting, recommended: Endpoint | None
) -> list[Finding]:
    """Explain each difference between what the person set and a setting that works.

    Only what they said is compared (a port they did not give is not "their port"); every
    finding carries the whole working setting, so the advice is one coherent target.
    """
    if recommended is None:
        return []
    endpoint = user.endpoint
    found: list[Finding] = []
    common: dict[str, Any] = {
        "recommended": _setting_text(recommended),
        "recommended_host": recommended.host,
        "recommended_port": recommended.port,
        "recommended_security": str(recommended.security),
    }
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
    if said.port is not None and endpoint.port != recommended.port:
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
    if said.security is not None and endpoint.security is not recommended.security:
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


def _needs_other_settings(protocol: Protocol, own: list[Finding], endpoint: Endpoint) -> bool:
    """The setting itself is wrong: a connection, TLS or protocol problem (not the password),
    or sending through port 25."""
    if protocol is Protocol.SMTP and endpoint.port == 25:
        return True
    return any(f.severity is Severity.ERROR and not f.code.startswith("auth.") for f in own)


def derive_findings(report: Report, subjects: dict[Protocol, list[ProbeResult]]) -> list[Finding]:
    findings = domain_findings(report)
    for protocol, results in subjects.items():
        user = report.user_results.get(protocol)
        recommendation = report.recommended.get(protocol)
        for result in results:
            is_user = result is user
            target = recommendation.result.endpoint if recommendation else None
            own = probe_findings(result, is_user=is_user, alternative=target)
            if is_user and recommendation is not None:
                # The working setting is named in full below; a half-target ("use STARTTLS")
                # next to it would contradict it (STARTTLS on 465 does not work either).
                own = [_without_mode_hint(f) for f in own]
            findings.extend(own)
            if not is_user:
                continue
            if _needs_other_settings(protocol, own, result.endpoint):
                said = report.request.user[protocol]
                findings.extend(settings_findings(result, said, target))
            elif not any(f.severity is Severity.ERROR for f in own):
                findings.append(_finding("settings.ok", Severity.INFO, result.endpoint))
        if (
            recommendation is None
            and protocol in _looked_for(report)
            and not any(
                f.severity is Severity.ERROR for f in findings if f.protocol in (protocol, None)
            )
        ):
            findings.append(_finding("settings.not_found", Severity.ERROR, protocol=protocol))
    for result in report.login_results.values():
        findings.extend(
            f for f in probe_findings(result, is_user=False) if f.code.startswith("auth.")
        )
    live_auth = {f.code for f in findings if f.code.startswith("auth.")}
    findings.extend(f for f in provider_findings(report) if f.code not in live_auth)
    return _dedupe(findings)


def _looked_for(report: Report) -> set[Protocol]:
    """The protocols the person needs: sending if asked; for receiving, the one they use, or
    IMAP standing for both when they named none and neither works."""
    wanted = set(report.request.protocols)
    receiving = {Protocol.IMAP, Protocol.POP3}
    named = receiving & set(report.request.user)
    if named:
        return (wanted - receiving) | named
    if any(report.recommended.get(p) for p in receiving):
        return wanted - receiving
    return (wanted - receiving) | ({Protocol.IMAP} & wanted)


def _without_mode_hint(finding: Finding) -> Finding:
    if finding.code in ("tls.expects_starttls", "tls.expects_implicit") and finding.suggestion:
        return Finding(
            finding.code, finding.severity, finding.protocol, finding.endpoint, finding.params
        )
    return finding


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per code, protocol and host; a certificate is one per host (the same
    expired certificate on 465 and 993 is one problem)."""
    seen: set[tuple[str, str | None, str | None]] = set()
    unique: list[Finding] = []
    for finding in findings:
        host = finding.endpoint.host if finding.endpoint else None
        protocol = None if finding.code.startswith("tls.cert_") else finding.protocol
        key = (finding.code, str(protocol) if protocol else None, host)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return sort_findings(unique)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then notes; within each, the order they were found."""
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(findings, key=lambda f: order[f.severity])
