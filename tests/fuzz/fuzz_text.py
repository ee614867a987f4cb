"""Coverage-guided fuzzing (atheris, libFuzzer) of everything that reads what people type.

Not collected by pytest (the file name does not start with test_): run it by hand, from the
repository root, for as long as you like:

    .venv/bin/pip install atheris            # in the test extra's spirit, but not required by CI
    .venv/bin/python tests/fuzz/fuzz_text.py -max_total_time=300
    .venv/bin/python tests/fuzz/fuzz_text.py -runs=20000 -max_len=4096
    .venv/bin/python tests/fuzz/fuzz_text.py crash-<sha1>   # replay one input libFuzzer saved

Any libFuzzer flag works (-jobs=4, -max_len=…, a corpus directory as the first argument). Each
input is turned into a text — fragments of Slack and Telegram markup, bidi marks, emoji, full- and
half-width forms, mail words and codes, raw Unicode (lone surrogates included), optionally
repeated into a paste of up to 100,000 characters — and fed to one target:

* `understand()` at some step, and the settings extractor (`extract` + `merge_setting`);
* redaction of a password typed after a label (the password must not survive);
* `explain()` and `render_text()`;
* the Slack adapter's text helpers (`_from_slack`, `_plain`, `_blocks`) and the Telegram
  adapter's `_text`: the output must be inert (no unescaped `<`, `>`, `&`; no word-initial "@";
  within the platforms' limits).

A target that raises, breaks a property, or takes longer than the bounds of
tests/test_hostile_input.py times FUZZ_SLOW_FACTOR (default 5: atheris' instrumentation slows
Python code down) is a crash: libFuzzer stops and saves the input.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["conversations", "bot.explain", "adapters"]):
    from adapters.slack import _blocks, _from_slack, _plain
    from adapters.telegram import MAX_TEXT, _text
    from bot.explain import explain, render_text
    from conversations.settings_text import merge_setting
    from conversations.state import State
    from conversations.understanding import understand
    from conversations.understanding.entities import extract
    from conversations.understanding.redact import redact

SLOW = float(os.environ.get("FUZZ_SLOW_FACTOR", "5"))
UNDERSTAND_BOUND = 0.100 * SLOW  # seconds, as in tests/test_hostile_input.py
EXPLAIN_BOUND = 1.5 * SLOW
MAX_CHARS = 100_000

FRAGMENTS = [
    # Slack markup and escapes
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@U1|taro>", "<#C123|x>",
    "<https://evil.example|click>", "<mailto:a@b.jp|a@b.jp>", "<!subteam^S1|@team>", "*b*", "_i_",
    "~s~", "`", "```", "> ", "&lt;", "&gt;", "&amp;", "<", ">", "&", "@here", "@channel",
    # Telegram HTML and Markdown
    "<b>", "</b>", '<a href="tg://user?id=1">', "[x](tg://user?id=1)", "||", "\\", "@admin",
    "/start", "/check@bot",
    # invisible and bidi characters, emoji, widths
    "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
    "\u2068", "\u2069", "\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\x00", "\x1b", "\x85",
    "👨\u200d👩\u200d👧\u200d👦", "👍🏽", "🇯🇵", "🏳️\u200d🌈", "1️⃣", "ＳＭＴＰ", "５８７", "ﾒｰﾙ",
    "ﾊﾟｽﾜｰﾄﾞ", "ｐａｓｓｗｏｒｄ：", "＠", "\u3000", "\ud800",
    # mail words, settings, codes, bounces, headers
    "taro@example.jp", "@example.jp", "smtp.example.jp", ":587", "/ssl", "port 465", "ポート",
    "STARTTLS", "SSL", "pop3", "imap", "password: ", "パスワードは", "pw=", "送れない", "受信",
    "届かない", "はい", "いいえ", "担当者", "最初から", "?", "。", "\n", " ", "550 5.1.1",
    "0x800CCC0E", "5.7.26", "421-4.7.0", "Final-Recipient: rfc822; a@b.jp\n", "Status: 5.1.1\n",
    "Action: failed\n", "Diagnostic-Code: smtp; ", "Received: from a by b; Mon, 1 Jan 2024 "
    "00:00:00 +0000\n", "Authentication-Results: x; spf=fail\n", "--b\nContent-Type: "
    "message/delivery-status\n\n", "This is the mail system at host x.\n",
    "Delivery has failed to these recipients or groups:\n", "Remote Server returned '",
    "<a@b.jp>: host mx[1.2.3.4] said: ", "undeliverable", "ユーザー不明",
]  # fmt: skip
STEPS = [None, "ask_symptom", "ask_connectivity", "ask_address", "ask_client", "ask_settings",
         "diagnosis", "ask_resolved"]  # fmt: skip
SECRET = re.compile(r"[A-Za-z0-9!#$%^&*_+=-]{8,24}")
_BARE_AT = re.compile(r"(?<![\w.%+\-@])@\w")
_LOOSE_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")


def _text_from(fdp: atheris.FuzzedDataProvider) -> str:
    parts: list[str] = []
    for _ in range(fdp.ConsumeIntInRange(0, 24)):
        if fdp.ConsumeBool():
            parts.append(FRAGMENTS[fdp.ConsumeIntInRange(0, len(FRAGMENTS) - 1)])
        else:
            parts.append(fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40)))
    text = "".join(parts)
    repeat = fdp.ConsumeIntInRange(1, MAX_CHARS)
    if text and repeat > 1:
        text = (text * (repeat // len(text) + 1))[:repeat]
    return text[:MAX_CHARS]


def _within(bound: float, started: float, what: str, text: str) -> None:
    elapsed = time.perf_counter() - started
    if elapsed > bound:
        raise AssertionError(f"{what} took {elapsed:.3f} s on {len(text)} characters")


def _understanding(fdp: atheris.FuzzedDataProvider, text: str) -> None:
    step = STEPS[fdp.ConsumeIntInRange(0, len(STEPS) - 1)]
    started = time.perf_counter()
    understood = understand(text, step)
    _within(UNDERSTAND_BOUND, started, "understand", text)
    understood.to_json()
    state = State(symptom=["send", "receive", "both", None][fdp.ConsumeIntInRange(0, 3)])
    started = time.perf_counter()
    merge_setting(state, extract(text))
    _within(UNDERSTAND_BOUND, started, "the settings extractor", text)


def _redaction(fdp: atheris.FuzzedDataProvider, text: str) -> None:
    label = ["password", "PW", "pass", "パスワード", "ﾊﾟｽﾜｰﾄﾞ", "ｐａｓｓｗｏｒｄ"][
        fdp.ConsumeIntInRange(0, 5)
    ]
    separators = [":", ": ", "=", " is ", "は", "：", "\u200f:", ":\u2066 "]
    separator = separators[fdp.ConsumeIntInRange(0, len(separators) - 1)]
    secret = "Zx9" + "".join(SECRET.findall(fdp.ConsumeUnicodeNoSurrogates(24)))[:16]
    if secret in text:
        return
    typed = f"{text[:2000]}\n{label}{separator}{secret} {text[2000:4000]}"
    redacted, _ = redact(typed)
    if secret in redacted:
        raise AssertionError(f"the password survived: {typed!r}")
    if secret in understand(typed).redacted_text:
        raise AssertionError(f"the password survived understanding: {typed!r}")


def _explaining(fdp: atheris.FuzzedDataProvider, text: str) -> None:
    lang = "en" if fdp.ConsumeBool() else "ja"
    started = time.perf_counter()
    report = render_text(explain(text, lang), lang)
    _within(EXPLAIN_BOUND, started, "explain", text)
    report.encode("utf-8")


def _platforms(fdp: atheris.FuzzedDataProvider, text: str) -> None:
    shown = _plain(_from_slack(text))
    if "<" in shown or ">" in shown or _LOOSE_AMP.search(shown) or _BARE_AT.search(shown):
        raise AssertionError(f"not inert for Slack: {shown[:300]!r}")
    if len(shown) > 40_000:
        raise AssertionError("longer than a Slack message")
    for block in _blocks(shown, []):
        if not 0 < len(block["text"]["text"]) <= 3000:
            raise AssertionError("a section Slack would refuse")
    sent = _text(text)
    if _BARE_AT.search(sent) or len(sent.encode("utf-16-le")) > 2 * MAX_TEXT or not sent.strip():
        raise AssertionError(f"not sendable to Telegram: {sent[:300]!r}")


TARGETS = (_understanding, _redaction, _explaining, _platforms)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = TARGETS[fdp.ConsumeIntInRange(0, len(TARGETS) - 1)]
    target(fdp, _text_from(fdp))


def main() -> None:
    understand("STARTTLSって何?")  # load the FAQ index and the catalogue before timing anything
    render_text(explain("550 5.1.1"), "ja")
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
