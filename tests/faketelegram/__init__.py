"""A local fake Telegram Bot API for tests: the server, its records and the update builders."""

from .server import (
    DEFAULT_TOKEN,
    SECRET_HEADER,
    Call,
    FakeChat,
    FakeTelegram,
    FakeUser,
)

__all__ = [
    "DEFAULT_TOKEN",
    "SECRET_HEADER",
    "Call",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
]
