"""`mail-doctor cases`: the helpdesk's case list and the most common causes, on a real store."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cases import cause_title
from bot.cli import main
from bot.storage import SQLiteStore
from conversations.state import SCHEMA, State

HOUR, DAY = 3600.0, 86400.0
NOW = time.time()
SECRET = "HISTORY-MARKER-4711 いつもの会話の本文"  # what people wrote: never shown
ADDRESS = "taro.yamada@example.jp"

JSON_FIELDS = {
    "case_id",
    "status",
    "platform",
    "workspace",
    "channel",
    "thread",
    "opened_at",
    "updated_at",
    "step",
    "symptom",
    "domain",
    "app",
    "likely_cause",
    "checked",
}


def finding(code: str, severity: str, protocol: str | None, host: str = "mail.example.jp"):
    return {
        "code": code,
        "severity": severity,
        "protocol": protocol,
        "endpoint": {"host": host, "port": 587, "security": "starttls"},
        "message": f"message of {code} about {host}",
        "fix": f"fix of {code}",
    }


def diagnosis(*findings: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": ADDRESS,
        "domain": "example.jp",
        "provider": None,
        "recommended": {"smtp": None, "imap": None, "pop3": None},
        "findings": list(findings),
        "endpoints": [],
        "mx": [],
        "elapsed_ms": 812,
    }


def state(opened: float, **fields: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "lang": "ja",
        "address": ADDRESS,
        "history": [SECRET, "もう一度ためしました"],
        "settings": {"smtp": "mail.example.jp:587/ssl"},
    }
    data = State(**{**defaults, **fields}).to_dict()
    data["created_at"] = opened
    return data


# (key, updated_at, state)
CASES: list[tuple[str, float, dict[str, Any]]] = [
    (
        "slack:T0ABC:C0HELP:1700000000.000100:U0TARO",
        NOW - 1 * HOUR,
        state(
            NOW - 2 * HOUR,
            case_id="MD-A1B2C3",
            step="ask_resolved",
            symptom="send",
            domain="example.jp",
            app="outlook_classic",
            diagnosis=diagnosis(
                finding("settings.ok", "info", "imap"),
                finding("settings.security_mismatch", "error", "smtp"),
                finding("settings.port_mismatch", "error", "smtp"),
                finding("auth.app_password_required", "warning", "smtp"),
            ),
            causes_shown=1,
            tried=["settings.security_mismatch"],
        ),
    ),
    (
        "telegram:7001:55501:-:55501",
        NOW - 20 * HOUR,
        state(
            NOW - 1 * DAY,
            case_id="MD-D4E5F6",
            status="escalated",
            step="escalated",
            symptom="receive",
            domain="example.co.jp",
            app="iphone_mail",
            diagnosis={"findings": [], "failed": True},
            tried=["connection", "explained:auth_failed"],
            lang="en",
        ),
    ),
    (
        "slack:T0ABC:C0HELP:1700000500.000200:U0HANA",
        NOW - 3 * DAY,
        state(
            NOW - 3 * DAY - HOUR,
            case_id="MD-0A0B0C",
            status="closed",
            step="closed",
            symptom="both",
            domain="example.ne.jp",
            app="thunderbird",
            diagnosis=diagnosis(finding("settings.security_mismatch", "error", "imap")),
            tried=["explained:auth_failed", "settings.security_mismatch", "explained:auth_failed"],
        ),
    ),
    (
        "slack:T0ABC:C0OTHER:1699000000.000300:U0JIRO",
        NOW - 10 * DAY,
        state(
            NOW - 10 * DAY - HOUR,
            case_id="MD-999999",
            status="closed",
            step="closed",
            symptom="send",
            domain="gmail.com",
            app="gmail_app",
            diagnosis=diagnosis(finding("auth.app_password_required", "error", "smtp")),
            tried=["auth.app_password_required", "explained:app_password_required"],
        ),
    ),
    (
        "console:local:default:-:me",
        NOW - 60,
        state(NOW - 120, case_id="MD-FFFFFF", step="ask_symptom", history=[SECRET]),
    ),
]
NEWEST_FIRST = ["MD-FFFFFF", "MD-A1B2C3", "MD-D4E5F6", "MD-0A0B0C", "MD-999999"]


def write_store(path: Path, cases: list[tuple[str, float, dict[str, Any]]]) -> None:
    async def write() -> None:
        when = [0.0]
        store = SQLiteStore(path, idle_ttl=1000 * DAY, clock=lambda: when[0])
        async with store:
            for key, updated, data in cases:
                when[0] = updated
                await store.save(key, data, SCHEMA, 0)
            # The store holds more than conversations; none of it is a case.
            when[0] = NOW
            await store.save("meta:replica-sweep", {"note": SECRET}, SCHEMA, 0)

    asyncio.run(write())


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state.db"
    write_store(path, CASES)
    monkeypatch.setenv("MAIL_DOCTOR_STORE", f"sqlite:///{path}")
    monkeypatch.setenv("MAIL_DOCTOR_IDLE_HOURS", str(1000 * 24))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["cases", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def case_ids(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines()[1:]]


def test_the_list_is_newest_first_with_english_headers(store, capsys) -> None:
    code, out, err = run(capsys, "--lang", "en")
    assert (code, err) == (0, "")
    header = out.splitlines()[0].split("  ")
    assert [h.strip() for h in header if h.strip()] == [
        "CASE",
        "STATUS",
        "PLATFORM",
        "WHERE",
        "OPENED",
        "UPDATED",
        "STEP",
        "SYMPTOM",
        "DOMAIN",
        "APP",
        "LIKELY CAUSE",
        "CHECKED",
    ]
    assert case_ids(out) == NEWEST_FIRST  # the bookkeeping record is not a case


def test_columns_are_aligned_and_times_are_local_dates(store, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    _, out, _ = run(capsys, "--lang", "en")
    lines = out.splitlines()
    for column in ("STATUS", "WHERE", "OPENED", "UPDATED", "STEP", "LIKELY CAUSE", "CHECKED"):
        start = lines[0].index(column)
        for line in lines[1:]:
            assert line[start - 2 : start] == "  " and line[start] != " ", (column, line)
    taro = next(line for line in lines if line.startswith("MD-A1B2C3"))
    opened = datetime.fromtimestamp(NOW - 2 * HOUR, ZoneInfo("Asia/Tokyo"))
    assert opened.strftime("%Y-%m-%d %H:%M") in taro
    assert "T0ABC/C0HELP/1700000000.000100" in taro
    assert "settings.security_mismatch" in taro and "outlook_classic" in taro


def test_japanese_headers(store, capsys) -> None:
    code, out, _ = run(capsys, "--lang", "ja")
    assert code == 0
    header = out.splitlines()[0]
    for word in ("ケース", "状態", "場所", "開始", "更新", "考えられる原因", "診断"):
        assert word in header
    assert case_ids(out) == NEWEST_FIRST


def test_status_filter(store, capsys) -> None:
    _, out, _ = run(capsys, "--status", "escalated", "--lang", "en")
    assert case_ids(out) == ["MD-D4E5F6"]
    _, out, _ = run(capsys, "--status", "closed", "--lang", "en")
    assert case_ids(out) == ["MD-0A0B0C", "MD-999999"]
    _, out, _ = run(capsys, "--status", "open", "--json")
    assert [c["case_id"] for c in json.loads(out)] == ["MD-FFFFFF", "MD-A1B2C3"]


def test_since_keeps_the_cases_updated_in_the_period(store, capsys) -> None:
    _, out, _ = run(capsys, "--since", "2", "--json")
    assert [c["case_id"] for c in json.loads(out)] == ["MD-FFFFFF", "MD-A1B2C3", "MD-D4E5F6"]


def test_json_has_the_documented_fields_and_values(store, capsys) -> None:
    code, out, err = run(capsys, "--json")
    assert (code, err) == (0, "")
    rows = json.loads(out)  # stdout holds only the list
    assert [r["case_id"] for r in rows] == NEWEST_FIRST
    for row in rows:
        assert set(row) == JSON_FIELDS
    by_id = {r["case_id"]: r for r in rows}
    assert by_id["MD-A1B2C3"] == {
        "case_id": "MD-A1B2C3",
        "status": "open",
        "platform": "slack",
        "workspace": "T0ABC",
        "channel": "C0HELP",
        "thread": "1700000000.000100",
        "opened_at": datetime.fromtimestamp(NOW - 2 * HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": datetime.fromtimestamp(NOW - HOUR, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "step": "ask_resolved",
        "symptom": "send",
        "domain": "example.jp",
        "app": "outlook_classic",
        # the first error, as the person was told (settings.ok is info, not a cause)
        "likely_cause": "settings.security_mismatch",
        "checked": "yes",
    }
    telegram = by_id["MD-D4E5F6"]
    assert (telegram["platform"], telegram["workspace"], telegram["channel"]) == (
        "telegram",
        "7001",
        "55501",
    )
    assert (telegram["thread"], telegram["likely_cause"], telegram["checked"]) == (
        "-",
        None,
        "failed",
    )
    console = by_id["MD-FFFFFF"]
    assert (console["symptom"], console["likely_cause"], console["checked"]) == (None, None, "no")


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize(
    "args", [[], ["--json"], ["--summary"], ["--summary", "--json"], ["--status", "open"]]
)
def test_nothing_people_wrote_is_printed(store, capsys, lang, args) -> None:
    code, out, err = run(capsys, *args, "--lang", lang, "--since", "30")
    assert code == 0
    for private in ("HISTORY-MARKER", "いつもの会話", "もう一度", ADDRESS, "mail.example.jp"):
        assert private not in out + err


def test_summary_counts_the_causes_of_the_period(store, capsys) -> None:
    code, out, err = run(capsys, "--summary", "--json", "--lang", "en")
    assert (code, err) == (0, "")
    summary = json.loads(out)
    assert set(summary) == {"since", "until", "causes", "cases"}
    assert summary["cases"] == 4  # the 10-day-old case is outside the default 7 days
    assert summary["causes"] == [
        # once per case, even when the same error was pasted twice
        {
            "code": "explained:auth_failed",
            "title": "Pasted error: Sign-in (authentication) failed",
            "count": 2,
        },
        {
            "code": "settings.security_mismatch",
            "title": cause_title("settings.security_mismatch", "en"),
            "count": 2,
        },
    ]
    since = datetime.fromisoformat(summary["since"])
    until = datetime.fromisoformat(summary["until"])
    assert abs((until - since).total_seconds() - 7 * DAY) < 1
    assert abs(until.timestamp() - time.time()) < 60

    _, out, _ = run(capsys, "--summary", "--json", "--since", "30")
    summary = json.loads(out)
    assert summary["cases"] == 5
    counts = {c["code"]: c["count"] for c in summary["causes"]}
    assert counts == {
        "explained:auth_failed": 2,
        "settings.security_mismatch": 2,
        "auth.app_password_required": 1,
        "explained:app_password_required": 1,
    }

    _, out, _ = run(capsys, "--summary", "--json", "--since", "2", "--status", "escalated")
    summary = json.loads(out)
    assert (summary["cases"], summary["causes"]) == (
        1,
        [{"code": "explained:auth_failed", "title": summary["causes"][0]["title"], "count": 1}],
    )


def test_summary_as_text_in_both_languages(store, capsys) -> None:
    _, out, _ = run(capsys, "--summary", "--lang", "en")
    lines = out.splitlines()
    assert lines[0].startswith("Most common causes, ") and lines[0].endswith("(4 cases)")
    assert lines[1].split() == ["COUNT", "CAUSE", "TITLE"]
    assert lines[2].split()[:3] == ["2", "explained:auth_failed", "Pasted"]
    assert lines[3].split()[:2] == ["2", "settings.security_mismatch"]
    assert lines[3].index("The mail encryption") == lines[1].index("TITLE")
    _, out, _ = run(capsys, "--summary", "--lang", "ja")
    lines = out.splitlines()
    assert lines[0].startswith("よくある原因") and "ケース 4 件" in lines[0]
    assert lines[1].split() == ["件数", "原因", "内容"]
    assert "貼り付けられたエラー: サインイン(認証)の失敗" in out
    assert "メールの暗号化" in out


def test_a_summary_longer_than_the_store_keeps_cases_says_so(store, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MAIL_DOCTOR_RETENTION_DAYS", "1")
    monkeypatch.setenv("MAIL_DOCTOR_CASE_RETENTION_DAYS", "1")
    code, out, err = run(capsys, "--summary", "--json", "--lang", "en")
    assert code == 0
    assert json.loads(out)["cases"] == 3  # the store keeps cases for a day
    assert err.count("\n") == 1 and "MAIL_DOCTOR_CASE_RETENTION_DAYS" in err


def test_an_empty_store_says_there_are_no_cases(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MAIL_DOCTOR_STORE", f"sqlite:///{tmp_path / 'empty.db'}")
    assert run(capsys, "--lang", "en") == (0, "No cases.\n", "")
    assert run(capsys, "--lang", "ja") == (0, "ケースはありません。\n", "")
    assert run(capsys, "--json") == (0, "[]\n", "")
    code, out, _ = run(capsys, "--summary", "--lang", "en")
    assert code == 0 and out.startswith("No cases were updated between ")


def test_no_case_matching_the_filter(tmp_path, monkeypatch, capsys) -> None:
    write_store(tmp_path / "closed.db", CASES[2:4])  # two closed cases
    monkeypatch.setenv("MAIL_DOCTOR_STORE", f"sqlite:///{tmp_path / 'closed.db'}")
    monkeypatch.setenv("MAIL_DOCTOR_IDLE_HOURS", str(1000 * 24))
    assert run(capsys, "--status", "escalated", "--lang", "en")[:2] == (0, "No cases match.\n")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("sqlite:///{tmp}/no/such/dir/state.db", "cannot be created"),
        ("sqlite:///{tmp}/garbage.db", "is not a SQLite database"),
        ("postgres://db.example.jp/cases", "unsupported conversation store"),
    ],
)
def test_a_store_that_cannot_be_used_is_one_clear_line(
    tmp_path, monkeypatch, capsys, url, words
) -> None:
    (tmp_path / "garbage.db").write_bytes(b"this is not a database, " * 100)
    monkeypatch.setenv("MAIL_DOCTOR_STORE", url.format(tmp=tmp_path))
    code, out, err = run(capsys, "--lang", "en")
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_from_the_shell_a_broken_store_gives_no_traceback(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "cases", "--lang", "en"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"MAIL_DOCTOR_STORE": f"sqlite:///{tmp_path}/missing/state.db", "PATH": "/usr/bin"},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Cannot list the cases: conversation store ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("days", ["0", "-3", "nan", "inf"])
def test_since_must_be_a_positive_number_of_days(store, capsys, days) -> None:
    code, out, err = run(capsys, "--since", days, "--lang", "en")
    assert code == 2 and out == ""
    assert err.startswith("--since takes a number of days") and err.count("\n") == 1
