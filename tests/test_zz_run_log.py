"""Runs last: everything the product logged in this test process — every conversation, check,
platform and store failure the suite drove — holds none of the secrets and none of the message
text the tests typed. (The two-replica test scans its serve processes' logs the same way.)"""

from __future__ import annotations

import re

import pytest
from runlog import RUN_LOG

# Typed by tests as passwords, tokens and signing secrets.
SECRETS = (
    "hunter2",
    "Sup3rSecret",
    "theBest!99",
    "s3cr3t-pass",
    "Okinawa2024",
    "myDog123",
    "Secret123abc",
    "correct horse battery",  # the test mailbox's password, given with --password-stdin
    "xoxb-fake-token",
    "test-signing-secret",
    "ops-signing-secret",
    "platform-failure-secret",
    "store-failure-secret",
)
# Typed by tests as what people say: a log line names conversations, never quotes them.
SAID = ("メールが送れない", "メールが届かない", "I can't send mail", "Thunderbird")
TOKEN_SHAPES = (
    re.compile(r"xox[abpr]-[A-Za-z0-9-]{6,}"),  # Slack tokens
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot tokens
)


def test_the_run_log_is_recorded(request: pytest.FixtureRequest) -> None:
    # The suite drives failures that the product logs; an empty log after the whole suite means
    # the scan saw nothing. (Run alone, or with a few files, there is little to scan.)
    if len(request.session.items) < 500:
        pytest.skip("only part of the suite ran")
    assert len(RUN_LOG.lines) > 20


def _offending(found: str) -> str:
    return next(line for line in RUN_LOG.lines if found in line)[:600]


def test_no_secret_or_message_text_in_the_logs_of_the_whole_run() -> None:
    text = "\n".join(RUN_LOG.lines)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} was logged: {_offending(secret)}"
    for said in SAID:
        assert said not in text, f"message text {said!r} was logged: {_offending(said)}"
    for shape in TOKEN_SHAPES:
        match = shape.search(text)
        assert match is None, f"a token was logged: {_offending(match.group()) if match else ''}"
