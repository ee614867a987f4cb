"""The neutral events between a chat platform and the dialogue. No platform library here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ConversationKey:
    """Who the conversation is with and where: one conversation per thread and person."""

    platform: str  # "console", "slack", "telegram"
    workspace: str  # Slack team, Telegram bot id, "local"
    channel: str
    thread: str = "-"  # Slack thread ts, Telegram topic id; "-" when there is none
    user: str = "-"

    def __str__(self) -> str:
        return ":".join((self.platform, self.workspace, self.channel, self.thread, self.user))

    @classmethod
    def parse(cls, text: str) -> ConversationKey | None:
        """The key `str(key)` gave, or None for text that is not one."""
        parts = text.split(":")
        return cls(*parts) if len(parts) == 5 and all(parts) else None


@dataclass(frozen=True)
class Inbound:
    key: ConversationKey
    text: str | None = None  # what the person typed
    value: str | None = None  # the value of a choice they clicked
    event_id: str | None = None  # the platform's id, for dropping redeliveries
    locale: str | None = None  # "ja", "en-US", … as the platform reports it
    sender: str | None = None  # who wrote, where the key does not say (a channel thread)


@dataclass(frozen=True)
class Choice:
    label: str
    value: str


@dataclass
class Outbound:
    """One thing to show. `thread` is required: a reply always knows where it belongs."""

    thread: str  # str(ConversationKey)
    # "retract": delete the person's last message where the platform allows (a pasted password)
    kind: Literal["message", "progress", "diagnosis", "summary", "retract"] = "message"
    step: str = ""
    text: str = ""
    choices: list[Choice] = field(default_factory=list)
    ref: str | None = None  # a name for this message, so a later one can replace it
    replaces: str | None = None  # edit the message sent earlier under this ref
    result: dict[str, Any] | None = None  # the diagnosis, as `mail-doctor check --json` prints it
    case_id: str = ""  # the case this message belongs to (for metadata and helpdesk tools)


class Undelivered(Exception):
    """An adapter could not get a message through to its platform, retries included."""
