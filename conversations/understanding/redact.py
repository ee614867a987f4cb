"""Passwords pasted by mistake: found, removed from what is stored and logged, never echoed."""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# "パスワードは abc123", "password: hunter2", "pw=…", "PASS hunter2", an app password (4×4 letters),
# an SMTP "AUTH PLAIN <base64>" line.
_LABEL = r"(?<![a-z])(?:パスワード|ﾊﾟｽﾜｰﾄﾞ|暗証番号|password|passwd|passcode|pwd|pw|pass)"
_PATTERNS = (
    # "パスワードは abc123", "password: hunter2", "pw=…"
    re.compile(
        _LABEL + r"(?P<sep>\s*(?:は|わ|:|：|=|is|->|→)\s*(?:「|\"|')?)"
        r"(?P<secret>[^\s「」\"'、。,?？]{3,64})",
        re.IGNORECASE,
    ),
    # "password hunter2", "PASS s3cret": a bare space is a separator only before something that
    # looks like a secret (a digit or a symbol in it), not before a word ("password reset").
    re.compile(
        _LABEL + r"(?P<sep>\s+)(?P<secret>(?=[^\s]*[0-9!@#$%^&*_+=\-])[^\s「」\"'、。,?？]{3,64})",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<sep>)(?P<secret>\b[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}\b)"),
    re.compile(r"auth (?:plain|login)(?P<sep> )(?P<secret>[A-Za-z0-9+/=]{8,})", re.IGNORECASE),
)
# Whole words that follow "password is" without being one ("パスワードは何ですか", "is wrong").
_NOT_SECRETS = re.compile(
    r"(?:何|なに|なん|どこ|いつ|どう|どれ|必要|不要|大丈夫|正しい|同じ|別|違う|変更|リセット|ない|無い|"
    r"wrong|incorrect|correct|right|required|needed|not|the|my|your|same|different|fine|ok|"
    r"expired|invalid|rejected|forgotten|changed|reset|too|empty|missing|asked)"
    r"(?:です|でした|ですか|か|よ|ね|。|\?|？)?",
    re.IGNORECASE,
)
_NOT_SECRET_PREFIXES = re.compile(
    r"^(?:忘れ|わす|分から|わから|知らな|合って|あって|間違|まちが|聞|教え|入れ|入力|要ら|いら|ありま|あるの)"
)


def redact(text: str) -> tuple[str, bool]:
    """(text with secrets replaced, whether anything was replaced)."""
    found = False

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        secret = match.group("secret")
        if _NOT_SECRETS.fullmatch(secret) or _NOT_SECRET_PREFIXES.match(secret):
            return match.group(0)
        found = True
        return match.group(0)[: match.start("secret") - match.start()] + REDACTED

    for pattern in _PATTERNS:
        text = pattern.sub(replace, text)
    return text, found
