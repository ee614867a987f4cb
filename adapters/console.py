"""The console chat: the dialogue in a terminal, or as JSON lines for scripts and tests.

Like every adapter it only translates: lines in become neutral Inbound events, neutral Outbound
messages become printed text or JSON objects. It knows nothing of mail.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
import uuid
from typing import Any, TextIO

from conversations.dialogue import Dialogue
from conversations.events import Choice, ConversationKey, Inbound, Outbound
from conversations.state import Lang


class ConsoleChat:
    def __init__(
        self,
        dialogue: Dialogue,
        *,
        session: str = "default",
        lang: Lang | None = None,
        jsonl: bool = False,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.dialogue = dialogue
        self.key = ConversationKey("console", "local", session, "-", _user())
        self.lang = lang
        self.jsonl = jsonl
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.interactive = not jsonl and self.stdout.isatty()
        self._choices: list[Choice] = []
        self._progress_shown = False

    async def run(self) -> None:
        await self.dialogue.open(self.key, self.lang, self._send)
        loop = asyncio.get_running_loop()
        while True:
            if self.interactive:
                self.stdout.write("> ")
                self.stdout.flush()
            line = await loop.run_in_executor(None, self.stdin.readline)
            if not line:
                return  # end of input: the conversation stays saved for --session
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            await self.dialogue.handle(self._inbound(text), self._send)

    def _inbound(self, text: str) -> Inbound:
        event_id = f"console-{uuid.uuid4()}"
        stripped = text.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self._choices):
            value = self._choices[int(stripped) - 1].value
            return Inbound(self.key, value=value, event_id=event_id, locale=self.lang)
        return Inbound(self.key, text=text, event_id=event_id, locale=self.lang)

    async def _send(self, out: Outbound) -> None:
        if out.kind == "retract":
            return  # nothing to delete in a terminal
        if self.jsonl:
            self._send_json(out)
        else:
            self._send_text(out)
        self.stdout.flush()

    def _send_json(self, out: Outbound) -> None:
        if out.kind == "progress":
            return  # stdout carries only messages and diagnoses
        objects: list[dict[str, Any]] = [
            {
                "type": "message",
                "step": out.step,
                "text": out.text,
                "choices": [{"label": c.label, "value": c.value} for c in out.choices],
            }
        ]
        if out.kind == "diagnosis":
            objects.append({"type": "diagnosis", "step": "diagnosis", "result": out.result})
        for obj in objects:
            self.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")

    def _send_text(self, out: Outbound) -> None:
        if out.kind == "progress":
            if self.interactive:
                self.stdout.write("\r\033[K… " + out.text)
                self._progress_shown = True
            elif out.replaces is None:
                self.stdout.write(out.text + "\n")
            return
        if self._progress_shown:
            self.stdout.write("\r\033[K")
            self._progress_shown = False
        self.stdout.write(out.text + "\n")
        if out.choices:
            self._choices = out.choices
            for number, choice in enumerate(out.choices, 1):
                self.stdout.write(f"  {number}) {choice.label}\n")
        self.stdout.write("\n")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"
