"""Passwords pasted by mistake: found, removed from what is stored and logged, never echoed."""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# Full-width ASCII (ｐａｓｓｗｏｒｄ：ｓ３ｃｒｅｔ) and the ideographic space are read as their
# plain forms. The folding is one character for one, so a match's span in the folded text is its
# span in the text as typed, and only the secret itself is replaced there.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_FULL_WIDTH = re.compile(r"[\uff01-\uff5e\u3000]")
# Invisible marks between a label and its value ("password\u200f: …"): bidi marks, embeddings,
# overrides and isolates, zero-width characters, the soft hyphen, the BOM.
_GAP = r"[\s\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
# Every label holds one of these: a text without any needs no label pattern (a 100 kB paste).
_LABEL_WORDS = ("pass", "pw", "パスワード", "ﾊﾟｽﾜｰﾄﾞ", "暗証番号")

# "パスワードは abc123", "password: hunter2", "pw=…", "PASS hunter2", an app password (4×4 letters),
# an SMTP "AUTH PLAIN <base64>" line.
_WORD = r"(?:パスワード|ﾊﾟｽﾜｰﾄﾞ|暗証番号|password|passwd|passcode|pwd|pw|pass)"
_LABEL = r"(?<![a-z])" + _WORD
_SEPARATOR = r"(?:は|わ|:|=|is|->|→)"
# A secret is never the next label with its separator: in "PW:\nPassword: hunter2" the first
# label has no value, and taking "Password:" for it would leave hunter2 unread.
_NOT_A_LABEL = rf"(?!{_WORD}{_GAP}*{_SEPARATOR})"
_PATTERNS = (
    # "パスワードは abc123", "password: hunter2", "pw=…"
    re.compile(
        _LABEL + rf"(?P<sep>{_GAP}*{_SEPARATOR}{_GAP}*(?:「|\"|')?)"
        rf"(?P<secret>{_NOT_A_LABEL}[^\s「」\"'、。,?？]{{3,64}})",
        re.IGNORECASE,
    ),
    # "password hunter2", "PASS s3cret": a bare space is a separator only before something that
    # looks like a secret (a digit or a symbol in it), not before a word ("password reset"). The
    # digit is looked for within the secret's own 64 characters: a lookahead that ran on to the
    # next space would read a long unspaced paste once per label in it.
    re.compile(
        _LABEL + rf"(?P<sep>{_GAP}+)(?P<secret>{_NOT_A_LABEL}"
        r"(?=[^\s「」\"'、。,?？]{0,63}[0-9!@#$%^&*_+=\-])[^\s「」\"'、。,?？]{3,64})",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<sep>)(?P<secret>\b[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}\b)"),
    re.compile(r"auth (?:plain|login)(?P<sep> )(?P<secret>[A-Za-z0-9+/=]{8,})", re.IGNORECASE),
)
_NEEDS = (_LABEL_WORDS, _LABEL_WORDS, None, ("auth",))  # words a pattern cannot match without
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


def _fold(text: str) -> str:
    return text.translate(_FOLD) if _FULL_WIDTH.search(text) else text


def redact(text: str) -> tuple[str, bool]:
    """(text with secrets replaced, whether anything was replaced)."""
    found = False
    folded = _fold(text)
    lowered = folded.lower()
    for pattern, needs in zip(_PATTERNS, _NEEDS, strict=True):
        if needs is not None and not any(word in lowered for word in needs):
            continue
        pieces: list[str] = []
        done = 0
        for match in pattern.finditer(folded):
            secret = match.group("secret")
            if _NOT_SECRETS.fullmatch(secret) or _NOT_SECRET_PREFIXES.match(secret):
                continue
            found = True
            pieces += [text[done : match.start("secret")], REDACTED]
            done = match.end("secret")
        if pieces:
            text = "".join([*pieces, text[done:]])
            folded = _fold(text)
    return text, found
