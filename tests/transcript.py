"""Readable conversation transcripts, run against the real dialogue, store and test mail network.

A transcript is a text file, one line per action:

    # comment                 ignored
    lang: en                  the conversation's locale (before the first turn)
    > text                    the person says text
    * value                   the person clicks the choice with this value
    < words                   one of the bot's replies to the last turn contains words
    !< words                  none of the bot's replies to the last turn contains words
    = step                    the conversation is now at this step
    ~ restart                 the process dies and a new one takes over the same store file
    ~ replay                  the platform delivers the last event again (it must be ignored)
    ~ silent                  the bot said nothing to the last turn
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from bot.storage import SQLiteStore
from conversations.dialogue import Dialogue
from conversations.events import ConversationKey, Inbound, Outbound
from conversations.state import State

_ids = itertools.count(1)


@dataclass
class Conversation:
    db: Path
    lang: str = "ja"
    key: ConversationKey = field(
        default_factory=lambda: ConversationKey("test", "ws", "chan", "thread-1", "user-1")
    )
    replies: list[Outbound] = field(default_factory=list)
    last_event: Inbound | None = None

    def __post_init__(self) -> None:
        self.store = SQLiteStore(str(self.db))
        self.dialogue = Dialogue(self.store)

    async def _send(self, out: Outbound) -> None:
        self.replies.append(out)

    async def deliver(self, event: Inbound) -> list[Outbound]:
        self.replies = []
        self.last_event = event
        await self.dialogue.handle(event, self._send)
        return self.replies

    async def say(self, text: str) -> list[Outbound]:
        return await self.deliver(
            Inbound(self.key, text=text, event_id=f"e{next(_ids)}", locale=self.lang)
        )

    async def click(self, value: str) -> list[Outbound]:
        return await self.deliver(
            Inbound(self.key, value=value, event_id=f"e{next(_ids)}", locale=self.lang)
        )

    async def state(self) -> State:
        record = await self.store.load(str(self.key))
        assert record is not None, "no conversation stored"
        return State.from_dict(record.state)

    async def restart_process(self) -> None:
        await self.store.close()
        self.store = SQLiteStore(str(self.db))
        self.dialogue = Dialogue(self.store)

    async def close(self) -> None:
        await self.store.close()


def reply_text(replies: list[Outbound]) -> str:
    parts = []
    for out in replies:
        parts.append(out.text)
        parts += [c.label for c in out.choices]
    return "\n".join(parts)


async def run_transcript(path: Path, db: Path) -> None:
    convo = Conversation(db)
    try:
        for number, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{path.name}:{number}: {line}"
            if line.startswith("lang:"):
                convo.lang = line.split(":", 1)[1].strip()
            elif line.startswith("> "):
                await convo.say(line[2:])
            elif line.startswith("* "):
                await convo.click(line[2:].strip())
            elif line.startswith("!< "):
                assert line[3:] not in reply_text(convo.replies), (
                    f"{where}\n{reply_text(convo.replies)}"
                )
            elif line.startswith("< "):
                assert line[2:] in reply_text(convo.replies), (
                    f"{where}\ngot:\n{reply_text(convo.replies)}"
                )
            elif line.startswith("= "):
                step = (await convo.state()).step
                assert step == line[2:].strip(), f"{where}: step is {step}"
            elif line == "~ restart":
                await convo.restart_process()
            elif line == "~ replay":
                assert convo.last_event is not None
                replies = await convo.deliver(convo.last_event)
                assert replies == [], f"{where}: a replayed event was answered"
            elif line == "~ silent":
                assert convo.replies == [], f"{where}: the bot replied"
            else:
                raise AssertionError(f"{where}: unknown transcript line")
    finally:
        await convo.close()
