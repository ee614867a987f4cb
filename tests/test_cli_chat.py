"""`mail-doctor chat` and `mail-doctor parse` as people and scripts use them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("mailnet")


def _env(mailnet, store: Path) -> dict[str, str]:
    return {**os.environ, **mailnet.env, "MAIL_DOCTOR_STORE": f"sqlite:///{store}"}


def chat(mailnet, store: Path, lines: list[str], *args: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", *args],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=_env(mailnet, store),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]  # only JSON on stdout


def test_jsonl_conversation_to_a_diagnosis(mailnet, tmp_path: Path) -> None:
    out = chat(
        mailnet,
        tmp_path / "s.db",
        ["メールが送れない", "はい", "taro@good.test", "Thunderbird", "mail.good.test 587 SSL"],
        "--lang",
        "ja",
    )
    assert out[0]["type"] == "message" and out[-1]["step"] == "ask_resolved"
    assert {"label": "開ける", "value": "yes"} in next(
        o for o in out if o["step"] == "ask_connectivity"
    )["choices"]
    diagnosis = next(o for o in out if o["type"] == "diagnosis")
    assert diagnosis["step"] == "diagnosis"
    assert diagnosis["result"]["recommended"]["smtp"]["port"] == 465
    assert "tls.expects_starttls" in {f["code"] for f in diagnosis["result"]["findings"]}


def test_english_and_choices_by_value(mailnet, tmp_path: Path) -> None:
    out = chat(mailnet, tmp_path / "s.db", ["help", "I can't receive mail"], "--lang", "en")
    assert any("Words you can use" in o["text"] for o in out)
    assert out[-1]["step"] == "ask_connectivity"


def test_a_killed_session_resumes_where_it_stopped(mailnet, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", "--session", "kill", "--lang", "en"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(mailnet, store),
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("can't send\n")
    proc.stdin.flush()
    for line in proc.stdout:
        if json.loads(line)["step"] == "ask_connectivity":
            break
    proc.send_signal(signal.SIGKILL)  # no chance to save anything more
    proc.wait(timeout=10)
    out = chat(mailnet, store, ["yes"], "--session", "kill", "--lang", "en")
    assert out[0]["step"] == "ask_connectivity"  # the question it was on, asked again
    assert out[-1]["step"] == "ask_address"
    other = chat(mailnet, store, [], "--session", "another", "--lang", "en")
    assert other[-1]["step"] == "ask_symptom"  # sessions are separate conversations


def test_a_bad_store_setting_is_named(mailnet, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--lang", "en"],
        input="",
        capture_output=True,
        text=True,
        env={**_env(mailnet, tmp_path / "x.db"), "MAIL_DOCTOR_STORE": "postgres://x"},
        timeout=30,
    )
    assert done.returncode == 2
    assert "sqlite" in done.stderr and "Traceback" not in done.stderr


def test_parse_json() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "parse",
            "ＳＭＴＰは smtp.example.jp、ポート５８７、SSL",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    parsed = json.loads(done.stdout)
    assert parsed["intent"] == "provide_info"
    assert parsed["entities"] == {
        "host": "smtp.example.jp",
        "port": 587,
        "security": "ssl",
        "protocol": "smtp",
    }
    assert set(parsed) >= {"intent", "symptom", "topic", "entities"}


def test_parse_accuracy_prints_every_intent() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "parse", "--accuracy"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "utterances-test" in done.stdout
    for intent in ("report_problem", "ask_question", "switch_language", "escalate"):
        assert intent in done.stdout


def test_a_terminal_gets_numbered_choices_and_a_number_picks_one(mailnet, tmp_path: Path) -> None:
    import pty
    import select
    import time

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--lang", "en"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=_env(mailnet, tmp_path / "s.db"),
        close_fds=True,
    )
    os.close(child)

    def read_until(words: str, seconds: float = 20) -> str:
        seen, end = "", time.monotonic() + seconds
        while words not in seen and time.monotonic() < end:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                seen += os.read(main, 4096).decode("utf-8", "replace")
        return seen

    screen = read_until("3) Both")
    assert "1) I can't send" in screen
    os.write(main, b"1\n")
    assert "web sites" in read_until("web sites")  # choice 1 was "I can't send"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    os.close(main)


def test_idle_conversations_are_forgotten(mailnet, tmp_path: Path) -> None:
    import time

    env = {**_env(mailnet, tmp_path / "s.db"), "MAIL_DOCTOR_IDLE_HOURS": "0.0003"}  # about 1 s
    first = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", "--lang", "en"],
        input="can't send\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert json.loads(first.stdout.splitlines()[-1])["step"] == "ask_connectivity"
    time.sleep(1.5)
    again = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", "--lang", "en"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert json.loads(again.stdout.splitlines()[-1])["step"] == "ask_symptom"
