"""Logging for `mail-doctor serve`: one JSON object a line, with the conversation and case.

`bind(conversation=…, case=…)` tags every record logged afterwards in the same task (each
platform event is handled in a task of its own). Records never carry what people wrote: code
logs keys, codes and domains, and `scrub` removes tokens and URL passwords from whatever a
library puts into a message or a traceback.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("json", "text")

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "mail_doctor_log_context", default=None
)

# Credentials a library may print: Slack tokens, Telegram bot tokens (also inside API URLs),
# the password part of a URL, and Authorization headers.
_SECRETS = (
    (re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]+"), "xox…"),
    (re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}"), "…:…"),
    (re.compile(r"(?<=://)([^/@\s:]*):[^/@\s]+@"), r"\1:***@"),
    # A request body (slack_bolt prints one on a bad signature) holds what people wrote.
    (re.compile(r"(?is)\bbody: .*"), "body: (not logged)"),
    (re.compile(r"(?i)(authorization|password|secret|token)([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
     r"\1\2***"),
)  # fmt: skip


class LogConfigError(ValueError):
    """MAIL_DOCTOR_LOG_LEVEL or MAIL_DOCTOR_LOG_FORMAT has a value we do not know."""


def bind(**fields: str) -> None:
    """Tag the records logged from here on in this task (and tasks it starts)."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v}})


def scrub(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        entry |= _context.get() or {}
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{k}={v}" for k, v in (_context.get() or {}).items())
        text = scrub(super().format(record))
        return f"{text} [{context}]" if context else text


def configure(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Send every log record to `stream` (stderr) at `level` and above, as `fmt`."""
    level, fmt = level.strip().upper() or "INFO", fmt.strip().lower() or "json"
    if level not in LEVELS:
        raise LogConfigError(f"MAIL_DOCTOR_LOG_LEVEL: {level!r} is not one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise LogConfigError(f"MAIL_DOCTOR_LOG_FORMAT: {fmt!r} is not one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_libraries(level)


def quiet_libraries(level: str) -> None:
    """Libraries' debug output includes request bodies (what people wrote) and API URLs (the
    Telegram token): never below INFO. httpx logs every request at INFO: only trouble."""
    floor = max(logging.INFO, logging.getLevelName(level))
    for noisy in ("slack_bolt", "slack_sdk", "telegram", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(floor)
    # It logs every rejected request with its whole body at INFO; a 401 is answer enough.
    logging.getLogger("slack_bolt.RequestVerification").setLevel(max(logging.WARNING, floor))
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, floor))
