"""What a message means: intent, symptom and FAQ topic, from patterns on the normalised text.

Patterns match the compact form (no spaces) for Japanese and the spaced form for English. The
order of the checks is the order of precedence: commands first (a person who types 「最初から」
means it whatever step they are on), then questions, problems, answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conversations.understanding import lexicon as L
from conversations.understanding.entities import Entities, extract
from conversations.understanding.faq_match import best_topic
from conversations.understanding.normalize import normalize, printable
from conversations.understanding.redact import redact

T = TypeVar("T")

INTENTS = (
    "report_problem", "ask_question", "affirm", "deny", "dont_know", "provide_info", "restart",
    "back", "escalate", "stop", "greet", "thanks", "switch_language", "help",
)  # fmt: skip


@dataclass
class Understanding:
    intent: str
    symptom: str | None = None
    topic: str | None = None
    entities: Entities = field(default_factory=Entities)
    password_pasted: bool = False
    redacted_text: str = ""
    recipient_side: bool = False  # 「相手に届かない」: the mail leaves but does not arrive

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "symptom": self.symptom,
            "topic": self.topic,
            "entities": self.entities.to_json(),
            "password_pasted": self.password_pasted,
        }


def symptom_of(text: str) -> str | None:
    send = bool(L.SEND_PROBLEM.search(text))
    receive = bool(L.RECEIVE_PROBLEM.search(text))
    if L.BOTH_PROBLEM.search(text) or (send and receive):
        return "both"
    if send:
        return "send"
    if receive:
        return "receive"
    # A correction that names a side without a problem word: 「受信の方です」.
    if L.SIDE_CORRECTION_SEND.search(text):
        return "send"
    if L.SIDE_CORRECTION_RECEIVE.search(text):
        return "receive"
    return None


def topic_of(text: str) -> str | None:
    for topic, pattern in L.TOPICS:
        if pattern.search(text):
            return topic
    return None


def understand(text: str, step: str | None = None) -> Understanding:
    """Understand one message; `step` is the question the bot asked last, if any.

    `redacted_text` is what may be kept and shown: without the password, and printable.
    """
    redacted, pasted = redact(printable(text))
    spaced = normalize(redacted)
    squeezed = spaced.replace(" ", "")  # compact(redacted), without normalising it twice
    entities = extract(redacted)
    result = Understanding(
        "provide_info", entities=entities, password_pasted=pasted, redacted_text=redacted
    )
    result.intent = _intent(squeezed, spaced, entities, step, result)
    recipient_side = _either(lambda form: bool(L.RECIPIENT_SIDE.search(form)), squeezed, spaced)
    result.recipient_side = bool(recipient_side) and result.symptom in ("send", "both", None)
    return result


def _either(read: Callable[[str], T], squeezed: str, spaced: str) -> T | None:
    """What `read` finds in the compact form, else in the spaced one. A text without spaces
    (most Japanese) has one form only: it is read once, not twice."""
    return read(squeezed) or (read(spaced) if spaced != squeezed else None)


def side_of(text: str) -> str | None:
    """Which side an answer to "sending or receiving?" names, without a problem word."""
    if L.SIDE_BOTH.search(text):
        return "both"
    send, receive = bool(L.SIDE_SEND.search(text)), bool(L.SIDE_RECEIVE.search(text))
    if send and receive:
        return "both"
    return "send" if send else "receive" if receive else None


def _code_side(codes: list[str]) -> str | None:
    lowered = [c.lower() for c in codes]
    if any(L.SEND_CODES.search(c) for c in lowered):
        return "send"
    if any(L.RECEIVE_CODES.search(c) for c in lowered):
        return "receive"
    return None


def _intent(
    squeezed: str, spaced: str, entities: Entities, step: str | None, out: Understanding
) -> str:
    def hit(pattern: re.Pattern[str]) -> bool:
        return bool(_either(pattern.search, squeezed, spaced))

    if not squeezed:
        return "dont_know"
    size = len(squeezed)
    symptom = _either(symptom_of, squeezed, spaced)
    out.symptom = symptom
    topic = _either(topic_of, squeezed, spaced)
    asking = hit(L.QUESTION)
    names_server = bool(entities.address or entities.host)
    commandish = not names_server and not entities.app

    # Commands: a short message that says so means it, whatever the step.
    if size <= 60 and hit(L.LANG_ASK) and not names_server:
        return "switch_language"
    if size <= 60 and hit(L.ESCALATE) and not names_server:
        return "escalate"
    strong_back = hit(L.BACK_STRONG) and not hit(L.QUESTION_TOPICAL)
    if size <= 30 and strong_back and commandish and not symptom:
        return "back"
    if size <= 40 and hit(L.RESTART) and commandish and not topic:
        return "restart"
    if size <= 40 and hit(L.BACK) and commandish and not symptom:
        return "back"
    if size <= 40 and hit(L.STOP) and not symptom and commandish:
        return "stop"
    if size <= 30 and (hit(L.LANG_EN) or hit(L.LANG_JA)) and not symptom and commandish:
        return "switch_language"
    if size <= 40 and hit(L.HELP) and not symptom and not topic:
        return "help"
    if step is not None and hit(L.DONT_KNOW) and not entities.any() and not hit(L.QUESTION_TOPICAL):
        return "dont_know"
    if asking and topic is None and not names_server and not symptom:
        topic = best_topic(squeezed)
    if asking and topic and not names_server and not hit(L.AFFIRM_ANYWHERE):
        out.topic, out.symptom = topic, None
        return "ask_question"
    if hit(L.CORRECTION) and (symptom or entities.any()):
        return "provide_info"
    if step in ("ask_resolved", "ask_connectivity", "diagnosis"):
        # The question was "did it work?" / "can you open web sites?": an answer, not a report.
        problem = symptom or hit(L.AMBIGUOUS_PROBLEM)
        if hit(L.DENY) or (problem and not hit(L.AFFIRM_ANYWHERE)):
            return "deny"
        if hit(L.AFFIRM_ANYWHERE) or hit(L.AFFIRM):
            return "affirm"
    if hit(L.THANKS) and not symptom:
        return "thanks"
    if step == "ask_symptom":
        side = symptom or _either(side_of, squeezed, spaced)
        if side and not hit(L.MAIL_WORD):
            out.symptom = side
            return "provide_info"  # 「送信のほう」「両方ダメ」 answer the question
    if symptom:
        return "report_problem"
    if out.password_pasted or entities.address or entities.has_settings():
        return "provide_info"
    if entities.domain and (step == "ask_address" or size <= 40):
        return "provide_info"
    if entities.error_codes:
        out.symptom = _code_side(entities.error_codes)
        return "report_problem"
    if hit(L.AMBIGUOUS_PROBLEM) and (hit(L.MAIL_WORD) or entities.app):
        return "report_problem"
    if entities.app and (step == "ask_client" or size <= 30):
        return "provide_info"
    if hit(L.DONT_KNOW):
        return "dont_know"
    if hit(L.AFFIRM_ANYWHERE):
        return "affirm"
    if hit(L.DENY):
        return "deny"
    if hit(L.AFFIRM):
        return "affirm"
    if hit(L.GREET):
        return "greet"
    if asking and hit(L.MAIL_WORD):
        out.topic = "how_mail_works"
        return "ask_question"
    if hit(L.AMBIGUOUS_PROBLEM):
        return "report_problem"
    if entities.app:
        return "provide_info"
    return "provide_info" if step in ("ask_address", "ask_settings") else "dont_know"
