"""What the dialogue remembers about one conversation, and how it is stored."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SCHEMA = 1  # bump when a stored state no longer fits; old states then restart politely

# The troubleshooting path, in order; each step fills one slot of the state.
STEPS = (
    "ask_symptom",
    "ask_connectivity",
    "ask_address",
    "ask_recipient",
    "ask_client",
    "ask_settings",
    "diagnosing",
    "diagnosis",
    "ask_resolved",
    "escalated",
    "closed",
)

Lang = Literal["ja", "en"]


def new_case_id() -> str:
    return "MD-" + secrets.token_hex(3).upper()


@dataclass
class State:
    lang: Lang = "ja"
    case_id: str = field(default_factory=new_case_id)
    step: str = "ask_symptom"
    symptom: str | None = None  # send | receive | both
    connectivity: bool | None = None  # can they open other web sites?
    connectivity_remedies_shown: bool = False
    address: str | None = None  # as given (an address or "@domain")
    domain: str | None = None
    app: str | None = None
    recipient_side: bool = False  # 「相手に届かない」: check the recipient's side too
    recipient: str | None = None  # their address; "" when the person does not know it
    # protocol -> SPEC ("host:port/security") as the person gave it; "" means "don't know"
    settings: dict[str, str] = field(default_factory=dict)
    settings_pending: list[str] = field(default_factory=list)  # protocols still to ask about
    diagnosis: dict[str, Any] | None = None  # the check's JSON
    check_refused: bool = False  # the probe budget refused the check; it waits for a retry
    causes_shown: int = 0  # how many of the diagnosis' causes were presented
    tried: list[str] = field(default_factory=list)  # what the person was asked to do
    history: list[str] = field(default_factory=list)  # the last user turns, redacted
    people: list[str] = field(default_factory=list)  # platform ids of who wrote (for forget)
    undelivered: int = 0  # replies the platform would not take, even after retrying
    status: str = "open"  # open | escalated | closed
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        """Raises (KeyError, TypeError, ValueError) when the data no longer fits."""
        state = cls(**data)
        if state.step not in STEPS or state.lang not in ("ja", "en"):
            raise ValueError("unknown step or language")
        return state

    def protocols(self) -> list[str]:
        """The protocols the symptom concerns, sending first."""
        if self.symptom == "send":
            return ["smtp"]
        if self.symptom == "receive":
            return [self.receive_protocol()]
        return ["smtp", self.receive_protocol()]

    def receive_protocol(self) -> str:
        return "pop3" if "pop3" in self.settings else "imap"

    def remember(self, text: str) -> None:
        self.history = [*self.history, text[:300]][-6:]
