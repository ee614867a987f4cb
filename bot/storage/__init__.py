"""Where conversations keep their state between messages; `open_store` picks the backend."""

from __future__ import annotations

import os
from pathlib import Path

from .base import (
    DEFAULT_EVENT_TTL,
    DEFAULT_IDLE_TTL,
    Clock,
    ConversationStore,
    Record,
    StaleWrite,
    StoreUnavailable,
)
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = [
    "DEFAULT_EVENT_TTL",
    "DEFAULT_IDLE_TTL",
    "Clock",
    "ConversationStore",
    "MemoryStore",
    "Record",
    "SQLiteStore",
    "StaleWrite",
    "StoreUnavailable",
    "default_path",
    "open_store",
]

ACCEPTED_FORMS = (
    "sqlite:///absolute/path.db, sqlite:relative/path.db, memory://, "
    "redis://[:password@]host:port/db, or nothing for the default file"
)


def open_store(url: str | None, *, idle_ttl: float = DEFAULT_IDLE_TTL) -> ConversationStore:
    """The store named by `url`; None or "" means SQLite at `default_path()`.

    Raises ValueError for a URL it cannot use (the message lists the accepted forms) and
    StoreUnavailable if the default directory cannot be created. Connects on first use.
    """
    if not url:
        return SQLiteStore(_make_default_dir(default_path()), idle_ttl=idle_ttl)
    if url == "memory://":
        return MemoryStore(idle_ttl=idle_ttl)
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    # Only the scheme goes into messages: a URL may carry a password.
    if scheme in ("redis", "rediss") and colon:
        from .redis import RedisStore  # imported here: only Redis users need the package

        return RedisStore(url, idle_ttl=idle_ttl)
    if scheme == "sqlite" and colon:
        return SQLiteStore(_sqlite_path(rest), idle_ttl=idle_ttl)
    shown = f"scheme {scheme!r}" if colon else "value"
    raise ValueError(f"unsupported conversation store {shown}: use {ACCEPTED_FORMS}")


def default_path() -> Path:
    """$XDG_STATE_HOME/mail-doctor/state.db, or ~/.local/state/mail-doctor/state.db."""
    base = os.environ.get("XDG_STATE_HOME", "")
    # The XDG spec says to ignore a relative XDG_STATE_HOME.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "mail-doctor" / "state.db"


def _sqlite_path(rest: str) -> str:
    """The file named after "sqlite:": "///abs/path.db" or "relative/path.db"."""
    if rest.startswith("///"):
        path = "/" + rest.lstrip("/")  # SQLAlchemy's four-slash spelling means the same
    elif rest.startswith("//"):
        raise ValueError(
            "a sqlite:// URL takes no host: write sqlite:///absolute/path.db "
            "(three slashes) or sqlite:relative/path.db"
        )
    else:
        path = rest
    if not path or path == "/":
        raise ValueError(f"the sqlite URL names no file: use {ACCEPTED_FORMS}")
    if "?" in path:
        raise ValueError("sqlite URLs take no ?options here: name just the file")
    return path


def _make_default_dir(path: Path) -> Path:
    try:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)  # private: it holds conversations
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot create the conversation store directory {path.parent}: {exc.strerror}"
        ) from exc
    return path
