"""Passwords pasted by mistake: found, removed from what is stored and logged, never echoed."""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# "パスワードは abc123", "password: hunter2", "pw=…", "PASS hunter2", an app password (4×4 letters),
# an SMTP "AUTH PLAIN <base64>" line.
_PATTERNS = (
    re.compile(
        r"(?P<label>(?<![a-z])(?:パスワード|ﾊﾟｽﾜｰﾄﾞ|暗証番号|password|passwd|passcode|pwd|pw|pass)"
        r"\s*(?:は|わ|:|：|=|is|->|→)\s*(?:「|\"|')?)"
        r"(?P<secret>[^\s「」\"'、。,?？!！]{3,64})",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<label>)(?P<secret>\b[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}\b)"),
    re.compile(r"(?P<label>auth (?:plain|login) )(?P<secret>[A-Za-z0-9+/=]{8,})", re.IGNORECASE),
)
# Words that follow "password is" without being one ("パスワードは何ですか", "password is wrong").
_NOT_SECRETS = re.compile(
    r"^(?:何|なに|なん|どこ|いつ|どう|どれ|必要|不要|大丈夫|わか|分か|正し|合って|あって|間違|まちが|同じ|別|違|ちが|"
    r"変|忘|わす|要ら|いら|聞|教え|入れ|入力|リセット|変更|ない|無い|ありま|あるの|知らな|"
    r"wrong|incorrect|correct|right|required|needed|not|the|my|your|same|different|fine|ok|"
    r"expired|invalid|rejected|forgotten|changed|reset|too|empty|missing|asked|needed)",
    re.IGNORECASE,
)


def redact(text: str) -> tuple[str, bool]:
    """(text with secrets replaced, whether anything was replaced)."""
    found = False

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        secret = match.group("secret")
        if _NOT_SECRETS.match(secret):
            return match.group(0)
        found = True
        return match.group("label") + REDACTED

    for pattern in _PATTERNS:
        text = pattern.sub(replace, text)
    return text, found
