"""Read a bounce (a returned-mail notice): which recipients failed, with what status and why.

Two sources, merged per recipient: RFC 3464 delivery-status fields (Final-Recipient, Action,
Status, Remote-MTA, Diagnostic-Code), and the human-readable text the common servers write
(Postfix, qmail, Sendmail, Exim, Exchange / Microsoft 365, Gmail, Japanese providers). A pasted
whole MIME message is taken apart first, so that encoded Japanese text parts can be read.
"""

from __future__ import annotations

import email
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from functools import cache
from typing import Any

from bot.explain.catalog import Catalog, load_catalog
from bot.explain.matcher import Match, find_codes
from bot.i18n import Lang

__all__ = ["Bounce", "Recipient", "parse_bounce", "report_end"]

_ADDRESS = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])"
    r"([\w.!#$%&'*+/=?^`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){1,8})",
    re.ASCII,
)
# Addresses that are the bounce's own machinery, not a recipient.
_NOT_RECIPIENT = re.compile(
    r"^(?:mailer-daemon|postmaster|no-?reply|bounces?|double-bounce)(?:[+@]|$)", re.IGNORECASE
)
_HEADER_LINE = re.compile(
    r"^(?:from|to|cc|bcc|reply-to|return-path|sender|delivered-to|envelope-to|message-id|"
    r"in-reply-to|references|received|dkim-signature|authentication-results|subject|date|"
    r"resent-[\w-]{1,30}|arc-[\w-]{1,30}|x-[\w-]{1,60}|list-[\w-]{1,30})\s{0,2}:",
    re.IGNORECASE,
)
_BOUNCE_MARKERS = re.compile(
    r"delivery has failed|(?:could ?n[o'’]?t|could not|was ?n[o'’]?t|was not) be(?:en)? delivered"
    r"|wasn[’']?t delivered|could not be delivered|undeliver(?:able|ed)"
    r"|delivery status notification"
    r"|mail delivery (?:failed|subsystem|system)|returned mail|this is the mail system at host"
    r"|address not found|message not delivered|delivery incomplete|failure notice"
    r"|message blocked|message rejected|recipient inbox full"
    r"|your message to \S{1,320} (?:has been blocked|was rejected)"
    r"|this is a permanent error|permanent fatal errors?|following address(?:\(es\)|es)? failed"
    r"|qmail-send"
    r"|delivery to the following recipient|remote server returned|diagnostic information for"
    r"|i'm sorry to have to inform you|message could not be delivered|final-recipient\s{0,2}:"
    r"|配送できませんでした|配信できませんでした|配信に失敗|宛先不明|届けることが(?:でき|出来)ません"
    r"|送信されませんでした|配信されませんでした|アドレスが見つかりませんでした"
    r"|管理者(?:用|向け)の診断情報|エラーメール|配送に失敗|配信が完了していません"
    r"|メッセージがブロックされました|宛てのメールはブロックされました|配信できません",
    re.IGNORECASE,
)
# Where the copy of the original message starts: nothing after it describes the failure.
_ORIGINAL = re.compile(
    r"^\s{0,4}(?:-{2,}\s{0,4}(?:original message|forwarded message|this is a copy of the message"
    r"|below this line is a copy of the message)|original message headers\s{0,2}:?\s*$"
    r"|元のメッセージ(?:のヘッダー)?\s{0,2}:?\s*$"
    r"|content-type:\s{0,4}(?:message/rfc822|text/rfc822-headers))",
    re.IGNORECASE | re.MULTILINE,
)
_DSN_FIELD = re.compile(
    r"^(reporting-mta|received-from-mta|arrival-date|original-envelope-id|original-recipient"
    r"|final-recipient|action|status|remote-mta|diagnostic-code|last-attempt-date"
    r"|will-retry-until|final-log-id|x-actual-recipient)[ \t]{0,4}:[ \t]*(.*)$",
    re.IGNORECASE,
)
_DSN_TYPE = re.compile(r"^\s*[\w-]{1,20}\s*;\s*")
_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d]|\.\d)")
_ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
_MAX_LINES = 25  # lines read after a recipient's address line
_MAX_RECIPIENTS = 50
_AROUND_BEFORE = 500  # characters of a line kept before and after an address in a generic bounce
_AROUND_AFTER = 2000  # (a recipient's diagnostic is cut to 2000 characters anyway)
_BODY_MAX = 4000  # characters of the reason read after a recipient's address line


@dataclass(frozen=True)
class Recipient:
    address: str
    action: str | None
    status: str | None
    diagnostic: str | None
    remote_mta: str | None
    match: Match | None

    def to_json(self, lang: Lang) -> dict[str, Any]:
        explained = self.match.to_json(lang) if self.match is not None else None
        return {
            "address": self.address,
            "action": self.action,
            "status": self.status,
            "diagnostic": self.diagnostic,
            "remote_mta": self.remote_mta,
            "code": explained["code"] if explained else None,
            "cause_id": explained["cause_id"] if explained else None,
            "meaning": explained["meaning"] if explained else None,
            "cause": explained["cause"] if explained else None,
            "fix": explained["fix"] if explained else None,
        }


@dataclass(frozen=True)
class Bounce:
    format: str  # rfc3464 | postfix | qmail | sendmail | exim | exchange | gmail | generic
    reporting_mta: str | None
    recipients: tuple[Recipient, ...]

    def to_json(self, lang: Lang) -> dict[str, Any]:
        return {
            "format": self.format,
            "reporting_mta": self.reporting_mta,
            "recipients": [r.to_json(lang) for r in self.recipients],
        }


@dataclass
class _Draft:
    address: str
    action: str | None = None
    status: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    context: str = ""  # text around the address, a fallback for the explanation


# ------------------------------------------------------------------------------------- MIME


def _boundary(text: str) -> tuple[str, int] | None:
    """The first MIME boundary line ("--b" followed by part headers) and where it starts."""
    for found in re.finditer(r"^--([^\s\"]{1,100})[ \t]*$", text, re.MULTILINE):
        after = text[found.end() : found.end() + 300].lstrip("\r\n")
        if re.match(r"content-(?:type|transfer-encoding|description)\s*:", after, re.I):
            return found.group(1), found.start()
    return None


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _walk(part: Message, plain: list[str], rich: list[str], dsn: list[str], depth: int) -> None:
    if depth > 8:
        return
    ctype = part.get_content_type()
    if ctype in ("message/rfc822", "text/rfc822-headers", "message/global"):
        return  # the returned original: not part of the failure report
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [payload]
        for block in blocks:
            if isinstance(block, Message):
                dsn.append("\n".join(f"{k}: {v}" for k, v in block.items()))
            elif isinstance(block, str):
                dsn.append(block)
        return
    if part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                _walk(sub, plain, rich, dsn, depth + 1)
        return
    if ctype == "text/plain":
        plain.append(_decoded(part))
    elif ctype == "text/html":
        rich.append(html.unescape(re.sub(r"<[^<>]{0,2000}>", " ", _decoded(part))))


def _flatten_mime(text: str) -> str | None:
    """The readable failure report of a pasted MIME bounce, or None when it is not MIME."""
    found = _boundary(text)
    if found is None:
        return None
    boundary, start = found
    wrapped = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n{text[start:]}'
    try:
        message = email.message_from_string(wrapped)
        plain: list[str] = []
        rich: list[str] = []
        dsn: list[str] = []
        _walk(message, plain, rich, dsn, 0)
    except Exception:  # a malformed paste: read it as plain text instead
        return None
    readable = plain or rich
    if not readable and not dsn:
        return None
    return "\n\n".join([*readable, *dsn])


# -------------------------------------------------------------------------------------- DSN


def _dsn_value(value: str) -> str:
    return _DSN_TYPE.sub("", value).strip().strip("<>").strip()


def _parse_dsn(text: str) -> tuple[str | None, list[_Draft]]:
    reporting: str | None = None
    drafts: list[_Draft] = []
    current: dict[str, str] = {}
    last: str | None = None

    def flush() -> None:
        nonlocal current
        address = _dsn_value(
            current.get("final-recipient") or current.get("original-recipient", "")
        )
        if address:
            drafts.append(_draft_from_fields(address, current))
        current = {}

    for line in text.splitlines():
        if last and line[:1] in (" ", "\t") and line.strip():
            if last == "reporting-mta" and reporting is not None:
                continue
            current[last] = f"{current.get(last, '')} {line.strip()}".strip()
            continue
        found = _DSN_FIELD.match(line)
        if found is None:
            last = None
            if not line.strip() and current:
                flush()
            continue
        name, value = found.group(1).lower(), found.group(2).strip()
        last = name
        if name == "reporting-mta":
            reporting = reporting or _dsn_value(value)
            continue
        if name in ("arrival-date", "received-from-mta", "original-envelope-id"):
            last = None
            continue
        # A repeated field, or a recipient field after the previous group's body, starts the
        # next recipient's group even when the blank line between them was lost in pasting.
        repeated = name in current and name in ("final-recipient", "original-recipient", "action")
        after_body = name == "original-recipient" and ("action" in current or "status" in current)
        if repeated or after_body:
            flush()
        current[name] = value
    if current:
        flush()
    return reporting, drafts


def _draft_from_fields(address: str, fields: dict[str, str]) -> _Draft:
    action = fields.get("action", "").strip().lower().split(" ")[0] or None
    status = _STATUS.search(fields.get("status", ""))
    return _Draft(
        address=address,
        action=action if action in _ACTIONS else None,
        status=status.group(1) if status else None,
        diagnostic=_dsn_value(fields["diagnostic-code"]) if fields.get("diagnostic-code") else None,
        remote_mta=_dsn_value(fields["remote-mta"]) if fields.get("remote-mta") else None,
    )


# -------------------------------------------------------------------------------- free text


def _is_recipient(address: str) -> bool:
    local = address.split("@", 1)[0]
    # "header.i=@example.jp" and the like are parameters, not addresses.
    return bool(local) and not local.endswith(("=", ".")) and not _NOT_RECIPIENT.match(address)


def _recipient_address(text: str) -> str | None:
    for found in _ADDRESS.finditer(text):
        address = found.group(1).strip(".")
        if _is_recipient(address):
            return address
    return None


def _report_lines(text: str) -> list[str]:
    """The lines that may describe the failure: no mail headers, no DSN fields, nor their
    continuation lines."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        if skipping and line[:1] in (" ", "\t") and line.strip():
            continue
        skipping = bool(_HEADER_LINE.match(line.lstrip()) or _DSN_FIELD.match(line))
        if not skipping:
            out.append(line)
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _paragraph_after(lines: list[str], index: int) -> list[str]:
    """The lines after ``index`` up to a blank line or the next recipient's address line.

    An address line indented deeper than the starting line continues the reason (Postfix
    wraps "said: 550 5.1.1\n    <user@example.com>: Recipient address rejected …").
    """
    out: list[str] = []
    base = _indent(lines[index])
    for line in lines[index + 1 : index + 1 + _MAX_LINES]:
        if not line.strip():
            if out:
                break
            continue
        if _LINE_ADDRESS.match(line) and _indent(line) <= base:
            break
        out.append(line.strip())
    return out


_LINE_ADDRESS = re.compile(
    r"^\s{0,8}<?([\w.!#$%&'*+/=?^`{|}~-]{1,64}@[A-Za-z0-9.-]{1,255}?)>?"
    r"(?:\s{0,4}\(expanded from[^)]{0,320}\))?\s{0,2}(?::|$)\s*(.*)$",
    re.ASCII,
)
_SAID = re.compile(
    r"host (\S{1,255}?)\s?\[[^\]]{0,64}\] said:\s*(.{1,2000}?)"
    r"(?:\s*\(in reply to [^)]{0,80}\))?\s*$",
    re.IGNORECASE,
)
_REMOTE_SAID = re.compile(r"remote host said:\s*(.{1,2000})", re.IGNORECASE)
_REASON = re.compile(r"\(reason:\s*(.{1,2000}?)\)\s*$", re.IGNORECASE)
_EXIM_ERROR = re.compile(
    r"SMTP error from remote (?:mail server|mailer) after [^:]{0,80}:(?:\s*<[^>]{0,320}>:)?"
    r"(?:\s*host (\S{1,255}) \[[^\]]{0,64}\]:)?\s*(.{1,2000})",
    re.IGNORECASE,
)
_HOST = re.compile(r"\bhost (\S{1,255}?)\s?\[|connect to (\S{1,255}?)\[", re.IGNORECASE)
_FORMATS = (
    ("postfix", re.compile(r"this is the mail system at host", re.IGNORECASE)),
    ("qmail", re.compile(r"qmail-send program|does not like recipient", re.IGNORECASE)),
    ("sendmail", re.compile(r"following addresses had permanent|transcript of session", re.I)),
    ("exim", re.compile(r"following address(?:\(es\)|es)? failed|mail delivery software", re.I)),
)


def _address_lines(lines: list[str]) -> list[_Draft]:
    """Postfix, qmail, Sendmail and Exim: the recipient starts a line, the reason follows."""
    drafts: list[_Draft] = []
    skip_to = 0
    for index, line in enumerate(lines):
        found = _LINE_ADDRESS.match(line) if index >= skip_to else None
        if found is None or not _is_recipient(found.group(1)):
            continue
        rest = [found.group(2).strip()] if found.group(2).strip() else []
        following = _paragraph_after(lines, index)
        body = " ".join(rest + following)[:_BODY_MAX]
        if not body:
            continue
        skip_to = index + 1 + len(following)
        draft = _Draft(address=found.group(1).strip("."), context=body)
        for pattern in (_SAID, _EXIM_ERROR):
            said = pattern.search(body)
            if said is not None:
                draft.remote_mta = said.group(1) or None
                draft.diagnostic = said.group(2).strip()
                break
        else:
            for pattern in (_REMOTE_SAID, _REASON):
                said = pattern.search(body)
                if said is not None:
                    draft.diagnostic = said.group(1).strip()
                    break
            else:
                draft.diagnostic = body
        if draft.remote_mta is None:
            host = _HOST.search(body)
            if host is not None:
                draft.remote_mta = host.group(1) or host.group(2)
        drafts.append(draft)
    return drafts


_EXCHANGE = re.compile(
    r"delivery has failed to these recipients or groups|次の受信者またはグループへの配信に失敗"
    r"|diagnostic information for administrators|管理者(?:用|向け)の診断情報|remote server returned"
    r"|リモート\s?サーバーから(?:返された内容)?\s{0,2}:?\s{0,2}'"
    r"|generating server\s?:|生成サーバー\s?:"
    r"|your message to \S{1,320} (?:couldn[’']?t|could not) be delivered",
    re.IGNORECASE,
)
_EXCHANGE_DIAG = re.compile(
    r"remote server returned\s{0,2}'([^'\n]{1,2000})'"
    r"|リモート\s?サーバーから(?:返された内容)?\s{0,2}:?\s{0,2}'([^'\n]{1,2000})'"
    r"|^\s{0,4}#(\d{3}[ -][245]\.\d{1,3}\.\d{1,3}[^#\n]{0,1000})#{0,2}",
    re.IGNORECASE | re.MULTILINE,
)
_GENERATING = re.compile(r"(?:generating server|生成サーバー)\s{0,2}:\s*(\S{1,255})", re.I)
_RECEIVING = re.compile(r"(?:receiving server|受信サーバー)\s{0,2}:\s*(\S{1,255})", re.I)


def _exchange(text: str) -> tuple[str | None, list[_Draft]]:
    drafts: dict[str, _Draft] = {}
    order: list[str] = []
    last: str | None = None
    for line in _report_lines(text):
        diag = _EXCHANGE_DIAG.search(line)
        if diag is not None:
            reply = next(g for g in diag.groups() if g)
            target = last or (order[0] if order else None)
            if target is not None and drafts[target].diagnostic is None:
                drafts[target].diagnostic = reply.strip()
            continue
        for found in _ADDRESS.finditer(line):
            address = found.group(1).strip(".")
            if not _is_recipient(address):
                continue
            if address.lower() not in drafts:
                drafts[address.lower()] = _Draft(address=address, context=line.strip())
                order.append(address.lower())
            last = address.lower()
            break
    receiving = _RECEIVING.search(text)
    for draft in drafts.values():
        if receiving is not None:
            draft.remote_mta = receiving.group(1).rstrip(".")
    generating = _GENERATING.search(text)
    return (generating.group(1) if generating else None), [drafts[k] for k in order]


_GMAIL = re.compile(
    r"address not found|message not delivered|delivery incomplete|message blocked"
    r"|your message wasn[’']?t delivered|there was a (?:temporary )?problem delivering"
    r"|the response from the remote server was|アドレスが見つかりませんでした"
    r"|メールは送信されませんでした|リモート\s?サーバーからの応答|メールを配信できませんでした"
    r"|recipient inbox full|message rejected"
    r"|(?:couldn[’']?t|could not) be delivered to <?[\w.+-]{1,64}@"
    r"|has been blocked|配信が完了していません|メッセージがブロックされました",
    re.IGNORECASE,
)
_GMAIL_TO = re.compile(
    r"(?:wasn[’']?t delivered to|was not delivered to|delivering your message to|"
    r"(?:couldn[’']?t|could not) be delivered to|your message to)\s{1,4}<?",
    re.IGNORECASE,
)
_GMAIL_RESPONSE = re.compile(
    r"(?:the response (?:from the remote server )?was|リモート\s?サーバーからの応答"
    r"|応答は次のとおり(?:です)?|^\s{0,4}応答)\s{0,2}:?",
    re.IGNORECASE | re.MULTILINE,
)
_DELAYED = re.compile(
    r"delivery incomplete|temporary problem|will retry|一時的な問題|再試行", re.IGNORECASE
)


def _gmail(text: str) -> list[_Draft]:
    found = _GMAIL_TO.search(text)
    address = _ADDRESS.match(text, found.end()) if found else None
    if address is not None:
        recipient: str | None = address.group(1).strip(".")
    else:
        recipient = _recipient_address("\n".join(_report_lines(text)))
    if recipient is None:
        return []
    draft = _Draft(address=recipient, context=text[:1500])
    response = _GMAIL_RESPONSE.search(text)
    if response is not None:
        lines = text[response.end() :].splitlines()
        reply = _paragraph_after(["", *lines], 0)
        if reply:
            draft.diagnostic = " ".join(reply)
    if _DELAYED.search(text):
        draft.action = "delayed"
    return [draft]


def _generic(text: str) -> list[_Draft]:
    lines = _report_lines(text)
    drafts: dict[str, _Draft] = {}
    for index, line in enumerate(lines):
        joined: str | None = None
        for found in _ADDRESS.finditer(line):
            address = found.group(1).strip(".")
            if not _is_recipient(address) or address.lower() in drafts:
                continue
            if len(drafts) >= _MAX_RECIPIENTS:
                return list(drafts.values())
            if joined is None:
                joined = " ".join(s.strip() for s in lines[index : index + 4] if s.strip())
            # The text around this address only: thousands of addresses on one long line must
            # not each carry (and each be explained from) the whole line.
            at = max(0, found.start() - (len(line) - len(line.lstrip())))
            around = joined[max(0, at - _AROUND_BEFORE) : at + _AROUND_AFTER]
            drafts[address.lower()] = _Draft(address=address, diagnostic=around, context=around)
    return list(drafts.values())


# ------------------------------------------------------------------------------------ result


def _explain(draft: _Draft, fallback: Callable[[], Match | None], catalog: Catalog) -> Match | None:
    """The recipient's own reply first, then its status, the text around it, the whole report.

    A headline ("Delivery has failed") only says that there is a reason somewhere; it is kept
    as the answer only when nothing more specific turns up.
    """
    headline: Match | None = None
    tried: set[str] = set()
    for clue in (draft.diagnostic, draft.status, draft.context):
        if clue and clue not in tried:  # the context is often the diagnostic itself
            tried.add(clue)
            for match in find_codes(clue, catalog):
                if not match.entry.headline:
                    return match
                headline = headline or match
    found = fallback()
    if found is not None and not found.entry.headline:
        return found
    return headline or found


def _expired(catalog: Catalog) -> Match | None:
    """The explanation of a failure whose last status was temporary: the retries ran out.

    Postfix and Exim report such a recipient as Action: failed with the last 4.x.x status.
    """
    variants = catalog.variants("enhanced", "4.4.7")
    if not variants:
        return None
    entry = variants[-1]
    return Match(entry.code, entry.kind, entry.cause_id, (0, 0), 0.0, entry)


def _finish(draft: _Draft, fallback: Callable[[], Match | None], catalog: Catalog) -> Recipient:
    match = _explain(draft, fallback, catalog)
    status = draft.status
    if status is None and draft.diagnostic:
        found = _STATUS.search(draft.diagnostic)
        status = found.group(1) if found else None
    action = draft.action
    if action is None and status is not None:
        action = {"5": "failed", "4": "delayed", "2": "delivered"}.get(status[0])
    if action == "failed" and status is not None and status.startswith("4."):
        match = _expired(catalog) or match
    if action is None and match is not None:
        action = "failed"
    diagnostic = re.sub(r"\s+", " ", draft.diagnostic).strip()[:2000] if draft.diagnostic else None
    return Recipient(
        address=draft.address,
        action=action,
        status=status,
        diagnostic=diagnostic or None,
        remote_mta=draft.remote_mta,
        match=match,
    )


def _free_text(report: str) -> tuple[str, str | None, list[_Draft]]:
    if _EXCHANGE.search(report):
        reporting, drafts = _exchange(report)
        if drafts:
            return "exchange", reporting, drafts
    if _GMAIL.search(report):
        drafts = _gmail(report)
        if drafts:
            return "gmail", None, drafts
    lines = _report_lines(report)
    drafts = _address_lines(lines)
    if drafts:
        name = next((n for n, p in _FORMATS if p.search(report)), "generic")
        host = re.search(
            r"this is the mail system at host (\S{1,255}?)\.?\s*$", report, re.I | re.M
        )
        return name, (host.group(1) if host else None), drafts
    return "generic", None, _generic(report)


def report_end(text: str) -> int:
    """Where the copy of the original message starts in ``text`` (its length if nowhere).

    Codes inside the returned original are the sender's words, not the failure's.
    """
    found = _ORIGINAL.search(text)
    return found.start() if found is not None else len(text)


def parse_bounce(text: str, catalog: Catalog | None = None) -> Bounce | None:
    """The bounce in ``text``, or None when the text does not look like one."""
    catalog = catalog or load_catalog()
    report = _flatten_mime(text) or text
    original = _ORIGINAL.search(report)
    if original is not None:
        report = report[: original.start()]
    reporting, dsn = _parse_dsn(report)
    if not dsn and not _BOUNCE_MARKERS.search(report):
        return None
    name, free_reporting, free = _free_text(report)
    by_address: dict[str, _Draft] = {}
    for draft in free:
        by_address.setdefault(draft.address.lower(), draft)
    drafts: list[_Draft] = []
    for draft in dsn:
        extra = by_address.pop(draft.address.lower(), None)
        if extra is not None:
            draft.diagnostic = draft.diagnostic or extra.diagnostic
            draft.remote_mta = draft.remote_mta or extra.remote_mta
            draft.action = draft.action or extra.action
            draft.context = extra.context
        drafts.append(draft)
    drafts.extend(by_address.values())
    # The whole report's best clue, for recipients whose own lines explain nothing.
    fallback = cache(lambda: next(iter(find_codes(report[:20_000], catalog)), None))
    recipients = tuple(_finish(d, fallback, catalog) for d in drafts[:_MAX_RECIPIENTS])
    return Bounce(
        format="rfc3464" if dsn else name,
        reporting_mta=reporting or free_reporting,
        recipients=recipients,
    )
