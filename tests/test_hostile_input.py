"""Hostile input: everything that reads what people type, fed what nobody should type.

Property-based tests (Hypothesis) over the parser (`understand`, `normalize`, entity extraction,
redaction), the settings extractor, `explain` and its report, and the Slack and Telegram event
translation driven through the real adapters and the fake platform servers. The texts mix
messages of up to 100,000 characters, C0/C1 control characters and NUL, lone surrogates,
right-to-left and left-to-right marks, embeddings, overrides and isolates, ZWJ emoji sequences,
skin tones, flags, full-width/half-width ASCII and katakana, Slack markup (`<!channel>`,
`<@U123>`, `<https://evil|click>`, `*bold*`, code fences), Telegram HTML and Markdown, e-mail
addresses, host names and ports, and things that look like error codes, bounces and headers.

What must hold:

* Nothing raises, and every call finishes within its bound (measured with time.perf_counter, the
  garbage collector held off during the call; the worst case over all examples is printed with
  `-s` and asserted). The bounds, per message of up to 100,000 characters:

  - `understand()` (which normalises, extracts entities and redacts), `normalize()`,
    `extract()`, `redact()` and the settings extractor (`extract` + `merge_setting`):
    UNDERSTAND_BOUND = 100 ms per call;
  - `explain()` and `render_text()` together: EXPLAIN_BOUND = 1.5 s.

  Measured on the development machine: understanding at most about 40 ms, explaining at most
  about 0.46 s (the adversarial texts of `test_the_worst_known_texts_stay_within_the_bounds`;
  before this file existed, two of them took 4.5 s and 16 s).
* Redaction never leaves a password-looking token typed after "password:", 「パスワード」 and
  the like, whatever surrounds it (full-width labels, invisible marks between label and value).
* The bot never echoes anyone's text in a way that pings people or formats it: every text Slack
  reads as mrkdwn has `&`, `<` and `>` escaped (no `<!channel>`, `<!here>`, `<!everyone>`,
  `<@U…>`, `<#C…>` or `<http…|…>` can appear) and no word-initial "@" Slack could auto-parse;
  Telegram messages are sent without parse_mode (no HTML or Markdown is interpreted) and carry
  no mention. Every endpoint answers 200 (401 for a bad Slack signature, 403 for a wrong Telegram
  webhook secret) within Slack's 3 s, and nothing is logged as an error.

More examples: MAIL_DOCTOR_HOSTILE_EXAMPLES=2000 (the unit properties) and
MAIL_DOCTOR_HOSTILE_PLATFORM_EXAMPLES=200 (the adapters). In CI (CI set) the examples are
derandomised, so a run is repeatable; locally each run explores new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fakeslack import FakeSlack
from fakeslack.events import (
    app_mention_event,
    block_action,
    message_event,
    post_to_app,
    slash_command,
)
from faketelegram import FakeTelegram
from faults import Record, record_fault
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from served import serve_app, slack_env, telegram_webhook_env

from bot.addresses import InputError, parse_spec
from bot.explain import explain, render_text
from bot.storage import SQLiteStore
from conversations.settings_text import merge_setting
from conversations.state import State
from conversations.understanding import understand
from conversations.understanding.entities import extract
from conversations.understanding.faq_match import best_topic
from conversations.understanding.normalize import compact, normalize
from conversations.understanding.redact import REDACTED, redact

UNDERSTAND_BOUND = 0.100  # seconds per call, for a message of up to 100,000 characters
EXPLAIN_BOUND = 1.5  # seconds for explain() and render_text() of such a message
SLACK_ACK_BOUND = 3.0  # Slack retries an event that is not acknowledged within 3 s
MAX_CHARS = 100_000

EXAMPLES = int(os.environ.get("MAIL_DOCTOR_HOSTILE_EXAMPLES", "120"))
PLATFORM_EXAMPLES = int(os.environ.get("MAIL_DOCTOR_HOSTILE_PLATFORM_EXAMPLES", "25"))
_CI = bool(os.environ.get("CI"))
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    # Hypothesis caches what it learns in .hypothesis/ under the working directory: not in the
    # work tree, please.
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "mail-doctor-hypothesis")


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,  # the bounds are asserted on the measured calls, not on a whole example
        database=None,  # no .hypothesis/ directory in the work tree
        derandomize=_CI,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture,
        ],
    )


# ------------------------------------------------------------------------------- strategies

CONTROLS = st.one_of(
    st.characters(min_codepoint=0x00, max_codepoint=0x1F),  # C0, NUL included
    st.characters(min_codepoint=0x7F, max_codepoint=0x9F),  # DEL and C1
)
BIDI = st.sampled_from(
    [
        "\u200e", "\u200f", "\u061c",  # LRM, RLM, ALM
        "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings, pop, overrides
        "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
        "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",  # zero-width, soft hyphen
    ]
)  # fmt: skip
EMOJI = st.sampled_from(
    [
        "👨\u200d👩\u200d👧\u200d👦", "🧑🏽\u200d🤝\u200d🧑🏿", "👩🏿\u200d💻", "👍🏻", "👍🏽",
        "🏻", "🇯🇵", "🇺🇸", "🇯", "🏳️\u200d🌈", "🏴\U000e0067\U000e0062\U000e0073\U000e0063"
        "\U000e0074\U000e007f", "1️⃣", "❤️", "📧", "\ufe0f", "\u20e3",
    ]
)  # fmt: skip
WIDTHS = st.sampled_from(
    [
        "ＳＭＴＰ", "５８７", "ｍａｉｌ．ｅｘａｍｐｌｅ．ｊｐ", "：９９３",
        "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "ＳＳＬ／ＴＬＳ", "ﾒｰﾙが送れません", "ｶﾞ",
        "ﾊﾟｽﾜｰﾄﾞ", "ｐａｓｓｗｏｒｄ：", "ｱｲﾌｫﾝ", "ｸﾞｰｸﾞﾙ", "ﾞ", "ﾟ", "\u3000",
        "＜！ｃｈａｎｎｅｌ＞", "＠ｈｅｒｅ",
    ]
)  # fmt: skip
SLACK_MARKUP = [
    "<!channel>", "<!here>", "<!everyone>", "<!here|@here>", "<@U123>", "<@U123|taro>",
    "<@W0ABC>", "<#C123|general>", "<#C123>", "<https://evil.example|click>",
    "<http://evil.example>", "<mailto:taro@example.jp|taro@example.jp>", "<!subteam^S1|@team>",
    "<!date^1392734382^{date}|Feb 18>", "*bold*", "_italic_", "~strike~", "`code`",
    "```\ncode block\n```", "> quote\n", "&lt;", "&gt;", "&amp;", "&lt;!channel&gt;", ":smile:",
    "<", ">", "&", "@here", "@channel", "@everyone",
]  # fmt: skip
TELEGRAM_MARKUP = [
    "<b>bold</b>", "<i>", "</i>", '<a href="tg://user?id=1">x</a>', '<a href="https://evil">',
    "<code>", "<pre>", "<tg-spoiler>", "<blockquote>", "&lt;b&gt;", "[x](tg://user?id=1)",
    "[click](https://evil.example)", "*bold*", "_it_", "__u__", "~s~", "||spoiler||", "`",
    "```python\nx\n```", "\\", "\\*", "@admin", "@everyone_here", "/start", "/check@bot",
]  # fmt: skip
MAIL = [
    "taro@example.jp", "taro@good.test", "@example.jp", "a@b", "@", "..", "smtp.example.jp",
    "mail.good.test:587", "imap.example.jp/ssl", "pop.example.jp:995/ssl", "port 465",
    "ポート587", "99999", ":0", "65536", "SSL", "STARTTLS", "暗号化なし", "none", "pop3", "IMAP",
    "[127.0.0.1]", "[::1]", "xn--e1afmkfd.xn--p1ai", "smtp." + "a" * 70 + ".jp",
    "Outlook", "Thunderbird", "iPhone", "Gmail",
]  # fmt: skip
CODES = [
    "550 5.1.1", "0x800CCC0E", "0x8004210B", "5.7.26", "421-4.7.0 ", "554", "451 4.7.1 ",
    "Final-Recipient: rfc822; a@b.jp\n", "Action: failed\n", "Status: 5.1.1\n",
    "Diagnostic-Code: smtp; 550 5.1.1 ",
    "Received: from a.b by c.d; Mon, 1 Jan 2024 00:00:00 +0000\n",
    "Authentication-Results: mx; spf=fail dkim=pass dmarc=fail\n",
    "--b\nContent-Type: message/delivery-status\n\n", "Content-Type: message/rfc822\n",
    "Delivery has failed to these recipients or groups:\n", "This is the mail system at host x.\n",
    "<a@b.jp>: host mx[1.2.3.4] said: 550 5.1.1 user unknown\n", "Remote Server returned '",
    "ユーザー不明", "宛先不明", "認証に失敗しました", "Undeliverable: ",
]  # fmt: skip
WORDS = [
    "メールが送れない", "受信できません", "届かない", "はい", "いいえ", "わからない", "最初から",
    "戻る", "担当者", "終了", "English", "help", "STARTTLSって何?", "password: hunter2",
    "パスワードは abc123", "ありがとう", "\n", "\r\n", "\t", " ", "?", "。",
]  # fmt: skip
FRAGMENT = st.one_of(
    CONTROLS,
    BIDI,
    EMOJI,
    WIDTHS,
    st.sampled_from(SLACK_MARKUP),
    st.sampled_from(TELEGRAM_MARKUP),
    st.sampled_from(MAIL),
    st.sampled_from(CODES),
    st.sampled_from(WORDS),
    st.text(max_size=20),
)
LONE_SURROGATES = st.sampled_from(["\ud800", "\udbff\udbff", "\udc00", "\ud83d"])


@st.composite
def hostile_texts(draw: st.DrawFn, max_size: int = MAX_CHARS, surrogates: bool = True) -> str:
    """A mix of the fragments above; half the time repeated into a paste of up to `max_size`."""
    parts = draw(st.lists(FRAGMENT, max_size=16))
    if surrogates and parts and draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), draw(LONE_SURROGATES))
    text = "".join(parts)
    if text and draw(st.booleans()):
        size = draw(st.integers(len(text), max(len(text), max_size)))
        text = (text * (size // len(text) + 1))[:size]
    return text[:max_size]


STEPS = st.sampled_from(
    [None, "ask_symptom", "ask_connectivity", "ask_address", "ask_client", "ask_settings",
     "diagnosis", "ask_resolved"]
)  # fmt: skip


# ---------------------------------------------------------------------------------- timing


@dataclass
class Worst:
    """The slowest call of each kind over a test's examples, with the length of its input."""

    bound: float
    seen: dict[str, tuple[float, int]] = field(default_factory=dict)

    @contextlib.contextmanager
    def timing(self, name: str, text: str) -> Iterator[None]:
        gc.disable()  # a collection of the test's own garbage is not the parser's time
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            gc.enable()
            if elapsed > self.seen.get(name, (0.0, 0))[0]:
                self.seen[name] = (elapsed, len(text))
        assert elapsed <= self.bound, f"{name} took {elapsed * 1000:.0f} ms on {len(text)} chars"

    def report(self) -> str:
        return ", ".join(
            f"{name} {seconds * 1000:.1f} ms ({chars} chars)"
            for name, (seconds, chars) in sorted(self.seen.items())
        )


T = TypeVar("T")


def _timed(worst: Worst, name: str, text: str, call: Callable[[], T]) -> T:
    with worst.timing(name, text):
        return call()


def _warm_up() -> None:
    # Catalogues and the FAQ index load on first use; that is start-up, not a message's time.
    understand("STARTTLSって何ですか?")
    best_topic("メールが届く仕組みを教えて")
    render_text(explain("550 5.1.1 user unknown"), "ja")


# ----------------------------------------------------------------------- the parser itself


def test_understanding_never_raises_and_stays_within_its_bound(record_property: Record) -> None:
    _warm_up()
    worst = Worst(UNDERSTAND_BOUND)

    @_settings(EXAMPLES)
    @given(text=hostile_texts(), step=STEPS)
    def check(text: str, step: str | None) -> None:
        understood = _timed(worst, "understand", text, lambda: understand(text, step))
        json.dumps(understood.to_json())
        assert understood.intent in {
            "report_problem", "ask_question", "affirm", "deny", "dont_know", "provide_info",
            "restart", "back", "escalate", "stop", "greet", "thanks", "switch_language", "help",
        }  # fmt: skip
        normal = _timed(worst, "normalize", text, lambda: normalize(text))
        assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in normal)
        assert " " not in compact(text)
        entities = _timed(worst, "extract", text, lambda: extract(text))
        assert entities.port is None or 0 < entities.port < 65536
        assert len(entities.error_codes) <= 5
        for name in (entities.address, entities.domain, entities.host):
            assert name is None or name.isascii()
        redacted, _ = _timed(worst, "redact", text, lambda: redact(text))
        assert isinstance(redacted, str)

    check()
    print(f"\nworst understanding times: {worst.report()}")
    slowest, chars = max(worst.seen.values())
    name = f"hostile messages to the parser (up to 100 kB; worst {chars} chars)"
    record_fault(record_property, name, "input", slowest, note=f"bound {UNDERSTAND_BOUND:g} s")


_SPEC_FORM = re.compile(r"^[a-z0-9.\-]+(?::\d{1,5})?(?:/(?:ssl|starttls|none))?$")


def test_the_settings_extractor_never_raises_and_gives_specs_the_engine_reads() -> None:
    _warm_up()
    worst = Worst(UNDERSTAND_BOUND)

    @_settings(EXAMPLES)
    @given(
        texts=st.lists(hostile_texts(max_size=20_000), min_size=1, max_size=3),
        symptom=st.sampled_from([None, "send", "receive", "both"]),
    )
    def check(texts: list[str], symptom: str | None) -> None:
        state = State(symptom=symptom)
        for text in texts:  # a later message may complete an earlier one
            _timed(worst, "settings", text, lambda t=text: merge_setting(state, extract(t)))
        for protocol, spec in state.settings.items():
            assert protocol in ("smtp", "imap", "pop3")
            assert _SPEC_FORM.match(spec), spec
            with contextlib.suppress(InputError):  # e.g. a host name too long: refused politely
                parse_spec(spec, protocol)  # type: ignore[arg-type]

    check()
    print(f"\nworst settings extraction times: {worst.report()}")


def test_explain_never_raises_and_stays_within_its_bound(record_property: Record) -> None:
    _warm_up()
    worst = Worst(EXPLAIN_BOUND)

    @_settings(max(EXAMPLES // 2, 10))
    @given(text=hostile_texts(), lang=st.sampled_from(["ja", "en"]))
    def check(text: str, lang: str) -> None:
        def explain_and_render() -> str:
            return render_text(explain(text, lang), lang)

        report = _timed(worst, "explain+render", text, explain_and_render)
        report.encode("utf-8")  # printable: no lone surrogate survives
        json.dumps(explain(text, lang).to_json(), ensure_ascii=False).encode("utf-8")

    check()
    slowest, chars = max(worst.seen.values())
    name = f"hostile texts to explain (up to 100 kB; worst {chars} chars)"
    record_fault(record_property, name, "input", slowest, note=f"bound {EXPLAIN_BOUND:g} s")
    print(f"\nworst explain times: {worst.report()}")


# Texts that once took seconds, or were built to hit each reader's slowest path.
WORST_KNOWN = {
    "no-spaces": "a" * MAX_CHARS,
    "address-run": ("pw " + "x" * 50_000 + " ") * 2,
    "dots": "a." * (MAX_CHARS // 2),
    "label-and-word-repeated": "パスワード書い" * (MAX_CHARS // 7),
    "label-without-value": "ﾊﾟｽﾜｰﾄﾞ👍🏽\u200dﾊﾟｽﾜｰﾄﾞ\u200d受信できません" * (MAX_CHARS // 25),
    "not-but": "not a but " * (MAX_CHARS // 10),
    "password-repeated": "password " * (MAX_CHARS // 9),
    "full-width-label": "ｐａｓｓｗｏｒｄ：" * (MAX_CHARS // 9),
    "addresses-on-one-line": "undeliverable "
    + " ".join(f"u{i}@b.jp" for i in range(MAX_CHARS // 11)),
    "one-recipient-long-reason": "This is the mail system at host x.\n<a@b.jp>: "
    + "said " * (MAX_CHARS // 5),
    "bounce-markers": "undeliverable " * (MAX_CHARS // 14) + " a@b.jp",
    "exchange-recipients": "Delivery has failed to these recipients or groups:\n"
    + "\n".join(
        f"u{i}@b.jp\nRemote Server returned '" + "550 5.1.1 " * 150 + "'" for i in range(60)
    ),
    "received-chain": "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\n" * 1800,
    "parentheses": "(" * 45_000 + "Received: from " + ")" * 45_000,
    "controls": "".join(chr(i) for i in range(32)) * 3000,
    "emoji": "👨\u200d👩\u200d👧\u200d👦🏽🇯🇵" * 10_000,
}


@pytest.mark.parametrize("name", list(WORST_KNOWN))
def test_the_worst_known_texts_stay_within_the_bounds(name: str) -> None:
    _warm_up()
    text = WORST_KNOWN[name][:MAX_CHARS]
    understanding, explaining = Worst(UNDERSTAND_BOUND), Worst(EXPLAIN_BOUND)
    _timed(understanding, "understand", text, lambda: understand(text, "ask_address"))
    _timed(understanding, "settings", text, lambda: merge_setting(State(), extract(text)))
    _timed(explaining, "explain+render", text, lambda: render_text(explain(text, "en"), "en"))
    print(f"\n{name}: {understanding.report()}, {explaining.report()}")


# -------------------------------------------------------------------------------- redaction

LABELS = st.sampled_from(
    [
        "password", "Password", "PASSWORD", "passwd", "passcode", "pwd", "PW", "pass",
        "パスワード", "ﾊﾟｽﾜｰﾄﾞ", "暗証番号", "ｐａｓｓｗｏｒｄ", "ＰＡＳＳＷＯＲＤ", "ＰＷ",
    ]
)  # fmt: skip
SEPARATORS = st.sampled_from(
    [
        ":", ": ", " : ", "：", "： ", "=", " = ", "＝", " is ", "は", "は ", "わ", " -> ", "→",
        ":\u200f", "\u200e: ", "\u2067:\u2069 ", "\u202e:\u202c", "\u200b=\u200b", "　：　",
    ]
)  # fmt: skip
QUOTES = st.sampled_from(["", "「", '"', "'"])
SECRETS = st.text(
    alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!@#$%^&*_+=-",
    min_size=8,
    max_size=24,
).filter(lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s))


def test_a_password_typed_after_a_label_never_reaches_the_output() -> None:
    @_settings(EXAMPLES * 2)
    @given(
        before=hostile_texts(max_size=2_000, surrogates=False),
        label=LABELS,
        separator=SEPARATORS,
        quote=QUOTES,
        secret=SECRETS,
        after=hostile_texts(max_size=2_000, surrogates=False),
        end=st.sampled_from([" ", "\n", "。", "、", "」", '"', "'", ""]),
    )
    def check(
        before: str, label: str, separator: str, quote: str, secret: str, after: str, end: str
    ) -> None:
        tail = end + after if end else ""
        assume(secret not in before and secret not in tail)
        text = f"{before}\n{label}{separator}{quote}{secret}{tail}"
        redacted, found = redact(text)
        assert found and secret not in redacted, (text, redacted)
        understood = understand(text, "ask_settings")
        assert understood.password_pasted and secret not in understood.redacted_text
        assert secret not in render_text(explain(understood.redacted_text), "ja")

    check()


def test_redaction_replaces_only_the_secret() -> None:
    text = "ｐａｓｓｗｏｒｄ：Ｈｕｎｔｅｒ２ のままです\npassword\u200f: s3cret!"
    redacted, found = redact(text)
    assert found
    assert redacted == f"ｐａｓｓｗｏｒｄ：{REDACTED} のままです\npassword\u200f: {REDACTED}"


# ------------------------------------------------------------------- the platforms: Slack

SECRET_PASSWORD = "Zq7!hostile-Pw"
SIGNING_SECRET = "hostile-signing-secret"
_FORBIDDEN = ("<!channel>", "<!here>", "<!everyone>", "<!subteam", "<@U", "<@W", "<#C", "<http")
_BARE_AT = re.compile(r"(?<![\w.%+\-@])@\w")
_ENTITY_OR_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")


@dataclass
class SlackRun:
    url: str
    fake: FakeSlack
    adapter: Any
    statuses: list[int] = field(default_factory=list)
    ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def post(self, payload: dict[str, Any] | bytes, **kw: Any) -> int:
        started = time.perf_counter()
        status, _, _ = await post_to_app(self.url, payload, None, SIGNING_SECRET, **kw)
        assert time.perf_counter() - started < SLACK_ACK_BOUND  # acknowledged in time
        self.statuses.append(status)
        await self.adapter.drain()
        return status

    async def say(self, text: str, channel: str, thread_ts: str | None = None) -> str:
        ts = f"1700100000.{next(self.ts):06d}"
        event = message_event(text, channel, "U1", ts, thread_ts=thread_ts)
        # ASCII JSON: a lone surrogate travels as "\\ud800", as a JSON sender may write it.
        await self.post(json.dumps(event, ensure_ascii=True).encode())
        return ts


@contextlib.asynccontextmanager
async def _slack(tmp: Path) -> AsyncIterator[SlackRun]:
    async with FakeSlack() as fake:
        store = SQLiteStore(tmp / "slack.db")
        try:
            env = slack_env(fake, SIGNING_SECRET, SLACK_ESCALATION_CHANNEL="CHELP")
            async with serve_app(store, env) as served:
                yield SlackRun(f"{served.url}/slack/events", fake, served.adapters[0])
        finally:
            await store.close()


async def _slack_scenario(tmp: Path, hostile: str) -> SlackRun:
    """Every way a text reaches the Slack adapter, and every path that can echo it."""
    async with _slack(tmp) as run:
        # A DM: the address question ("… is not an e-mail address" echoes what was typed), a
        # pasted password, a pasted error (explain quotes it), then the hand-off with history.
        for text in (
            "メールが送れない",
            "はい",
            hostile,
            f"{hostile}\npassword: {SECRET_PASSWORD}",
        ):
            await run.say(text, "D1")
        await run.say(f"0x800CCC0E {hostile}\n550 5.1.1 <{hostile}@example.jp>: {hostile}", "D1")
        await run.say(f"host {hostile}[192.0.2.1] said: 550 5.1.1 {hostile}", "D1")
        await run.say("担当者と話したい", "D1")
        # A channel: a mention opens a case in a thread, where the next message needs none.
        root = f"1700200000.{next(run.ts):06d}"
        mention = app_mention_event(f"メールが送れない {hostile}", "C1", "U2", root)
        await run.post(json.dumps(mention, ensure_ascii=True).encode())
        await run.say(hostile, "C1", thread_ts=root)
        # The slash command, with the text as its argument.
        await run.post(slash_command("/mail-doctor", _utf8(hostile), channel="C2", user="U3"))
        # A click whose label comes back as the hostile text (the payload is Slack's to write).
        await run.say("メールが送れない", "D2")
        question = run.fake.posted(channel="D2")[-1]
        button = next(b for b in question["blocks"] if b["type"] == "actions")["elements"][0]
        await run.post(
            block_action(
                button["action_id"], button["value"], "D2", question["ts"], "U1",
                message=question, button_text=_utf8(hostile) or "x",
            )
        )  # fmt: skip
        # A forged request: refused, and nothing happens.
        before = len(run.fake.calls_to("chat.postMessage"))
        event = message_event(hostile or "x", "D3", "U1", f"1700300000.{next(run.ts):06d}")
        assert await run.post(json.dumps(event).encode(), bad_signature=True) == 401
        assert len(run.fake.calls_to("chat.postMessage")) == before
        run.statuses.pop()
        return run


def _utf8(text: str) -> str:
    """Form bodies are UTF-8: a lone surrogate cannot be sent in one (Slack never sends it)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _mrkdwn_texts(params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) of every field Slack reads as mrkdwn or shows as text in a call."""
    if isinstance(params.get("text"), str):
        yield "text", params["text"]
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for number, block in enumerate(blocks or []):
        objects = [block.get("text")] if isinstance(block.get("text"), dict) else []
        objects += [e for e in block.get("elements", []) if isinstance(e, dict)]
        objects += [e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), dict)]
        for obj in objects:
            if obj.get("type") in ("mrkdwn", "plain_text") and isinstance(obj.get("text"), str):
                yield f"blocks/{number}/{obj['type']}", obj["text"]


def _bot_made(where: str, text: str, params: dict[str, Any]) -> str:
    """The text without what the bot itself adds on purpose: the link to the case in the
    hand-off, and the invoking person's mention in a slash command's opening post."""
    if params.get("channel") == "CHELP" and where == "text":
        text = re.sub(r"\n<(?:#[A-Z0-9]+|https?://[^|<>]+\|thread)>$", "", text)
    return re.sub(r" \(<@U3>\)$", "", text)


def _assert_inert_for_slack(run: SlackRun) -> None:
    calls = run.fake.calls_to("chat.postMessage") + run.fake.calls_to("chat.update")
    assert calls
    for call in calls:
        response = call.response if isinstance(call.response, dict) else {}
        assert response.get("ok"), (call.method, response.get("error"), response.get("errors"))
        for where, raw in _mrkdwn_texts(call.params):
            text = _bot_made(where, raw, call.params)
            assert SECRET_PASSWORD not in text
            for sequence in _FORBIDDEN:
                assert sequence not in text, (where, sequence, text[:300])
            assert "<" not in text and ">" not in text, (where, text[:300])  # all escaped
            assert not _ENTITY_OR_AMP.search(text), (where, text[:300])  # "&" only as escapes
            assert not _BARE_AT.search(text), (where, text[:300])  # no "@here" to auto-parse


def _assert_quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    loud = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR
        or r.exc_info
        or (
            r.levelno >= logging.WARNING
            and r.name.split(".")[0] in ("adapters", "bot", "conversations")
        )
    ]
    assert not loud, [f"{r.name}: {r.getMessage()[:300]}" for r in loud]


def _play(
    scenario: Callable[[Path, str], Coroutine[Any, Any, SlackRun | TelegramRun]],
    assert_inert: Callable[[Any], None],
    where: Path,
    hostile: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A platform's scenario with `hostile` typed everywhere: every request accepted, nothing
    sent that the platform would act on, and nothing logged as wrong."""
    run = asyncio.run(scenario(where, hostile))
    assert set(run.statuses) == {200}
    assert_inert(run)
    _assert_quiet_logs(caplog)


def _play_examples(
    texts: st.SearchStrategy[str],
    scenario: Callable[[Path, str], Coroutine[Any, Any, SlackRun | TelegramRun]],
    assert_inert: Callable[[Any], None],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """_play with each text Hypothesis draws from `texts`, each in a folder of its own."""
    counter = itertools.count()

    @_settings(PLATFORM_EXAMPLES)
    @given(hostile=texts)
    def check(hostile: str) -> None:
        caplog.clear()
        where = tmp_path / f"run-{next(counter)}"
        where.mkdir()
        _play(scenario, assert_inert, where, hostile, caplog)

    check()


NASTY = [
    "<!channel> <!here> <!everyone> <@U123> <#C123|x> <https://evil.example|click> *bold* ```x```",
    "&lt;!channel&gt; a &amp; b < c > d &",
    "taro@<!channel>.jp @here @channel",
    "<b>bold</b> [x](tg://user?id=1) @admin `code` _it_",
    "\u202eevil.example\u202c \u2066<!here>\u2069 " + "👨\u200d👩\u200d👧\u200d👦🏽🇯🇵",
    "\x00\x01\x7f\x85\x9f\ud800 <@U1>",
    "ｐａｓｓｗｏｒｄ：Ｓ３ｃｒｅｔ９９ ＜！ｃｈａｎｎｅｌ＞ ﾒｰﾙ",
    "<" * 20_000,
    "Delivery has failed to these recipients or groups:\n"
    + "\n".join(f"u{i}@b.jp\nRemote Server returned '550 5.1.1 {'<>&' * 90}'" for i in range(40)),
    "x" * MAX_CHARS,
]


@pytest.mark.parametrize("hostile", NASTY, ids=[f"nasty-{i}" for i in range(len(NASTY))])
def test_slack_never_echoes_a_ping_a_link_or_a_password(
    hostile: str, mail_env: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _play(_slack_scenario, _assert_inert_for_slack, tmp_path, hostile, caplog)


def test_slack_event_translation_under_hypothesis(
    mail_env: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = hostile_texts(max_size=40_000)
    _play_examples(texts, _slack_scenario, _assert_inert_for_slack, tmp_path, caplog)


# ----------------------------------------------------------------- the platforms: Telegram

WEBHOOK_SECRET = "hostile-webhook-secret"
PRIVATE, GROUP = 5101, -1005101
_NOTIFYING = {"mention", "text_mention", "text_link"}


@dataclass
class TelegramRun:
    url: str
    fake: FakeTelegram
    statuses: list[int] = field(default_factory=list)

    async def deliver(self, update: dict[str, Any], chat: int, *, reply: bool = True) -> None:
        before = len(self.fake.sent(chat_id=chat))
        status, _ = await self.fake.post_webhook(self.url, update, WEBHOOK_SECRET)
        self.statuses.append(status)
        if reply:  # every message in a private chat, mention or command gets an answer
            await self.fake.wait_for(lambda f: len(f.sent(chat_id=chat)) > before, timeout=20)

    async def say(self, text: str, chat: int = PRIVATE) -> None:
        # A text that starts as a command the bot does not know is, rightly, not answered.
        command = re.match(r"/\w", text) is not None
        await self.deliver(self.fake.push_message(text, chat, chat), chat, reply=not command)


@contextlib.asynccontextmanager
async def _telegram(tmp: Path) -> AsyncIterator[TelegramRun]:
    async with FakeTelegram() as fake:
        store = SQLiteStore(tmp / "telegram.db")
        try:
            async with serve_app(store, telegram_webhook_env(fake, WEBHOOK_SECRET)) as served:
                yield TelegramRun(f"{served.url}/telegram/webhook", fake)
        finally:
            await store.close()


async def _telegram_scenario(tmp: Path, hostile: str) -> TelegramRun:
    async with _telegram(tmp) as run:
        fake = run.fake
        for text in (
            "メールが送れない",
            "はい",
            hostile,
            f"{hostile}\npassword: {SECRET_PASSWORD}",
        ):
            await run.say(text)
        await run.say(f"0x800CCC0E {hostile}\n550 5.1.1 <{hostile}@example.jp>: {hostile}")
        await run.say("担当者と話したい")
        # A group: a mention and a command, each a conversation of its own person.
        fake.add_chat(GROUP, chat_type="supergroup", title="helpdesk")
        await run.deliver(fake.push_mention(hostile, GROUP, 7001, chat_type="supergroup"), GROUP)
        command = fake.push_command(f"/check {hostile}", GROUP, 7002, chat_type="supergroup")
        await run.deliver(command, GROUP)
        # A button press edits the question to show the choice.
        await run.say("メールが送れない", chat=PRIVATE + 1)
        question = fake.sent(chat_id=PRIVATE + 1)[-1]
        press = fake.push_callback("v:yes", PRIVATE + 1, PRIVATE + 1, question["message_id"])
        await run.deliver(press, PRIVATE + 1)
        # A webhook call without the secret is refused.
        status, _ = await fake.post_webhook(run.url, fake.push_message("x", PRIVATE, PRIVATE), "no")
        assert status == 403
        return run


def _assert_inert_for_telegram(run: TelegramRun) -> None:
    calls = run.fake.calls_to("sendMessage") + run.fake.calls_to("editMessageText")
    assert calls
    for call in calls:
        assert not call.params.get("parse_mode"), call.params  # plain text: nothing interpreted
        assert not call.params.get("entities"), call.params
        text = call.params.get("text", "")
        assert SECRET_PASSWORD not in text
        assert len(text.encode("utf-16-le", "surrogatepass")) <= 2 * 4096
    for chat in (PRIVATE, PRIVATE + 1, GROUP):
        for message in run.fake.sent(chat_id=chat):
            kinds = {e["type"] for e in message.get("entities", [])}
            assert not kinds & _NOTIFYING, (kinds, message["text"][:300])
            assert kinds <= {"url", "email", "bot_command"}, kinds  # no formatting at all


@pytest.mark.parametrize("hostile", NASTY[:-1], ids=[f"nasty-{i}" for i in range(len(NASTY) - 1)])
def test_telegram_sends_plain_text_without_mentions_or_passwords(
    hostile: str, mail_env: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Telegram delivers valid UTF-8 only: no lone surrogates (the fake cannot even hold one).
    _play(_telegram_scenario, _assert_inert_for_telegram, tmp_path, _utf8(hostile[:4096]), caplog)


def test_telegram_event_translation_under_hypothesis(
    mail_env: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = hostile_texts(max_size=4096, surrogates=False).filter(lambda t: t.strip())
    _play_examples(texts, _telegram_scenario, _assert_inert_for_telegram, tmp_path, caplog)
