"""`mail-doctor explain` as people and scripts use it."""

from __future__ import annotations

import json
import subprocess
import sys


def explain(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "explain", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_has_the_documented_shape() -> None:
    done = explain(
        "550 5.1.1 <hanako@example.jp>: Recipient address rejected: User unknown",
        "--json",
        "--lang",
        "en",
    )
    result = json.loads(done.stdout)  # stdout holds only the object
    assert set(result) == {"matches", "bounce", "headers"}
    top = result["matches"][0]
    assert set(top) >= {"code", "kind", "cause_id", "meaning", "cause", "fix", "span"}
    assert top["cause_id"] == "recipient_unknown"


def test_a_whole_bounce_from_stdin_names_the_recipient() -> None:
    bounce = (
        "This is the mail system at host mail.example.jp.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        "<hanako@example.com>: host mx.example.com[203.0.113.5] said: 552 5.2.2\n"
        "    <hanako@example.com>: Mailbox full (in reply to RCPT TO command)\n"
    )
    result = json.loads(explain("-", "--json", "--lang", "ja", stdin=bounce).stdout)
    recipients = result["bounce"]["recipients"]
    assert recipients[0]["address"] == "hanako@example.com"
    assert "満" in json.dumps(result, ensure_ascii=False) or "容量" in json.dumps(
        result, ensure_ascii=False
    )


def test_the_report_for_a_person_is_in_their_language() -> None:
    ja = explain("0x800CCC0E", "--lang", "ja").stdout
    en = explain("0x800CCC0E", "--lang", "en").stdout
    assert "サーバー" in ja and "server" in en.lower()


def test_accuracy_on_the_labelled_set() -> None:
    figures = json.loads(explain("--accuracy", "--json").stdout)
    assert figures["cases"] >= 150
    assert figures["top1_cause_accuracy"] >= 0.9
    assert figures["recipient_accuracy"] >= 0.9


def test_no_text_is_a_usage_error() -> None:
    done = explain()
    assert done.returncode == 2 and "TEXT" in done.stderr
