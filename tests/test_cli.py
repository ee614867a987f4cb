"""`mail-doctor check` as a person or a script runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.usefixtures("mailnet")


def run(args: list[str], mailnet, stdin: str = "", env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **mailnet.env, **(env or {})},
        timeout=60,
    )


def test_json_output_is_one_object_with_the_documented_fields(mailnet) -> None:
    done = run(
        ["check", "taro@autoconfig.test", "--json", "--smtp", "mail.good.test:587/ssl"], mailnet
    )
    report = json.loads(done.stdout)  # stdout holds nothing but the object
    assert set(report) >= {
        "address",
        "domain",
        "provider",
        "recommended",
        "findings",
        "endpoints",
        "elapsed_ms",
    }
    assert report["recommended"]["smtp"] == {
        "host": "mail.good.test",
        "port": 465,
        "security": "ssl",
        "source": "autoconfig",
    }
    codes = {f["code"] for f in report["findings"]}
    assert "tls.expects_starttls" in codes
    for f in report["findings"]:
        assert f["severity"] in ("error", "warning", "info")
        assert f["message"] and f["fix"]
    assert done.returncode == 1  # an error finding


def test_exit_zero_when_nothing_is_wrong(mailnet) -> None:
    done = run(
        [
            "check",
            "taro@good.test",
            "--send",
            "--smtp",
            "mail.good.test:587/starttls",
            "--lang",
            "en",
        ],
        mailnet,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "works" in done.stdout


def test_report_in_japanese(mailnet) -> None:
    done = run(["check", "taro@gmial.com", "--lang", "ja"], mailnet)
    assert done.returncode == 1
    assert "gmail.com" in done.stdout and "打ち間違い" in done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["check", "taro.example.jp"], "@"),
        (["check", "taro@good.test", "--smtp", "mail.good.test:0"], "65535"),
        (["check", "taro@good.test", "--smtp", "mail.good.test:70000"], "65535"),
        (["check", "taro@good.test", "--smtp", "mail.good.test:587/tls"], "starttls"),
        (["check", "taro@good.test", "--smtp", "h" * 10_000], "long"),
        (["check", "taro@good.test", "--imap", "サーバー"], "server name"),
        (["check", "taro@good.test", "--timeout", "0"], "--timeout"),
        (["check", "taro@good.test", "--password-stdin"], "password"),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_2(mailnet, args: list[str], words: str) -> None:
    done = run([*args, "--lang", "en"], mailnet)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_unicode_and_punycode_domains_are_the_same(mailnet) -> None:
    a = json.loads(run(["check", "taro@例え.test", "--json", "--send"], mailnet).stdout)
    b = json.loads(run(["check", "taro@xn--r8jz45g.test", "--json", "--send"], mailnet).stdout)
    assert a["domain"] == b["domain"] == "xn--r8jz45g.test"


def test_password_from_stdin_logs_in_and_is_never_printed(mailnet) -> None:
    secret = "correct horse battery"
    done = run(
        [
            "check",
            "alice@good.test",
            "--json",
            "--password-stdin",
            "--smtp",
            "mail.good.test:465/ssl",
            "--imap",
            "mail.good.test:993/ssl",
        ],
        mailnet,
        stdin=secret + "\n",
    )
    assert done.returncode == 0, done.stdout
    report = json.loads(done.stdout)
    auths = {e["protocol"]: e["auth"] for e in report["endpoints"] if "user" in e["sources"]}
    assert auths == {"smtp": "ok", "imap": "ok"}
    assert secret not in done.stdout + done.stderr


def test_bad_configuration_is_named(mailnet) -> None:
    done = run(
        ["check", "taro@good.test", "--lang", "en"],
        mailnet,
        env={"MAIL_DOCTOR_DNS_SERVERS": "not-an-ip"},
    )
    assert done.returncode == 2
    assert "MAIL_DOCTOR_DNS_SERVERS" in done.stderr
