"""Entities in a message: address, domain, server host, port, security, mail app, error codes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from conversations.understanding.normalize import normalize

# The lookbehind starts a match only where a run of address characters starts: without it a long
# run with no "@" in it is scanned again from every position (quadratic time).
_ADDRESS = re.compile(r"(?<![a-z0-9._%+\-])[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+")
# ASCII boundaries: 「ドメインはexample.orgだよ」 has no space around the name.
_HOST = re.compile(
    r"(?<![a-z0-9.\-])((?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?![a-z0-9\-@])"
)
_HOST_PREFIXES = (
    "smtp",
    "imap",
    "pop",
    "pop3",
    "mail",
    "mx",
    "outlook",
    "mx1",
    "mx2",
    "sv",
    "smtp-mail",
)
_MAIL_PORTS = (25, 465, 587, 143, 993, 110, 995, 2525)
_PORT_CONTEXT = re.compile(
    r"(?:ポート|port|ﾎﾟｰﾄ|番号|:)\s*(?:番号)?\s*(?:は|を|が|=|:)?\s*(\d{1,5})"
)
_BARE_PORT = re.compile(r"(?<![\d.x])(\d{2,4})(?![\d.])")
_ERROR_CODES = re.compile(
    r"0x[0-9a-f]{8}|\b[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b|\b[245]\.\d{1,3}\.\d{1,3}\b|"
    r"\b(?:421|450|451|452|454|50[0-4]|53[045]|55[0-4])\b"
)

# (app id, patterns) — most specific first.
APPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("new_outlook", ("新しいoutlook", "newoutlook", "new outlook", "新outlook", "outlook(new)")),
    ("outlook_classic", ("outlook", "アウトルック", "アウトルツク")),
    ("gmail_app", ("gmailアプリ", "gmail app", "gmailのアプリ", "gmail")),
    ("iphone_mail", ("iphone", "ipad", "ios", "アイフォン")),
    ("apple_mail", ("apple mail", "macのメール", "mac mail", "mac", "applemail")),
    ("windows_mail", ("windowsのメール", "windowsメール", "windows mail", "メールアプリ(windows)")),
    ("thunderbird", ("thunderbird", "サンダーバード", "サンダーバ-ド")),
    ("android", ("android", "アンドロイド", "xperia", "galaxy", "pixel")),
    ("webmail", ("webmail", "ウェブメール", "webメール", "ブラウザ", "browser")),
)


@dataclass
class Entities:
    address: str | None = None
    domain: str | None = None
    host: str | None = None
    port: int | None = None
    security: str | None = None
    protocol: str | None = None
    app: str | None = None
    error_codes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("address", "domain", "host", "port", "security", "protocol", "app"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.error_codes:
            out["error_codes"] = self.error_codes
        return out

    def has_settings(self) -> bool:
        return any(v is not None for v in (self.host, self.port, self.security))

    def any(self) -> bool:
        return bool(self.to_json())


def _security(text: str, port: int | None) -> str | None:
    squeezed = text.replace(" ", "")
    if "starttls" in squeezed or "start tls" in text:
        return "starttls"
    if re.search(r"ssl/tls|ssl|tls/ssl", squeezed):
        return "ssl"
    if re.search(r"(?<![a-z])tls(?![a-z])", text):
        # Outlook's "TLS" is STARTTLS on 587/143/110; on a TLS-first port it can only mean TLS.
        return "ssl" if port in (465, 993, 995) else "starttls"
    if any(word in squeezed for word in ("暗号化なし", "暗号化しない", "暗号化無し")) or re.search(
        r"(?<![a-z])(none|no encryption|unencrypted)(?![a-z])", text
    ):
        return "none"
    return None


def _protocol(text: str) -> str | None:
    if re.search(r"smtp|送信|outgoing|sending|send", text):
        return "smtp"
    if "imap" in text:
        return "imap"
    if re.search(r"pop", text):
        return "pop3"
    if re.search(r"受信|incoming|receiving", text):
        return "imap"
    return None


def extract(text: str) -> Entities:
    norm = normalize(text)
    found = Entities()
    address = _ADDRESS.search(norm)
    if address:
        found.address = address.group(0)
        found.domain = found.address.rsplit("@", 1)[1]
    for match in _HOST.finditer(norm):
        name = match.group(1)
        if found.address and name == found.domain:
            continue
        labels = name.split(".")
        # smtp.example.jp is a server; outlook.com or mail.jp alone is a domain.
        if (labels[0] in _HOST_PREFIXES and len(labels) >= 3) or re.match(r"sv\d+\.", name):
            found.host = found.host or name
        elif found.domain is None:
            found.domain = name
    port = _PORT_CONTEXT.search(norm)
    if port and 0 < int(port.group(1)) < 65536:
        found.port = int(port.group(1))
    else:
        for bare in _BARE_PORT.finditer(norm):
            if int(bare.group(1)) in _MAIL_PORTS:
                found.port = int(bare.group(1))
                break
    found.security = _security(norm, found.port)
    if found.has_settings():
        found.protocol = _protocol(norm)
    # Names and addresses are not apps: "taro@gmail.com" says nothing about the Gmail app.
    squeezed = _HOST.sub(" ", _ADDRESS.sub(" ", norm)).replace(" ", "")
    for app, patterns in APPS:
        if any(p.replace(" ", "") in squeezed for p in patterns):
            found.app = app
            break
    codes = (m.group(0).upper().replace("0X", "0x") for m in _ERROR_CODES.finditer(norm))
    found.error_codes = list(dict.fromkeys(codes))[:5]
    return found
