"""The dialogue's words, loaded from flow.toml, apps.toml and the FAQ, in Japanese and English."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from bot.i18n import format_text
from conversations.events import Choice
from conversations.state import Lang


@cache
def _load(package: str, name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files(package).joinpath(name).read_text("utf-8"))


def flow() -> dict[str, Any]:
    return _load("conversations", "flow.toml")


def apps() -> dict[str, Any]:
    return _load("conversations", "apps.toml")


def faq() -> dict[str, Any]:
    return _load("bot.knowledge", "faq.toml")


def message(name: str, lang: Lang, **params: Any) -> str:
    return format_text(flow()["messages"][f"{name}_{lang}"], params)


def prompt(step: str, lang: Lang, **params: Any) -> tuple[str, list[Choice]]:
    entry = flow()["steps"][step]
    choices = [Choice(c[lang], c["value"]) for c in entry.get("choices", [])]
    return format_text(entry[lang], params), choices


def app_name(app: str | None, lang: Lang) -> str:
    return str(apps().get(app or "other", apps()["other"])[f"name_{lang}"])


def app_where(app: str | None, lang: Lang) -> str:
    return app_text(app, "where", lang)


def app_text(app: str | None, key: str, lang: Lang) -> str:
    """One of an app's directions: where, server, security, signin, notes."""
    entry = apps().get(app or "other", apps()["other"])
    return str(entry.get(f"{key}_{lang}", ""))


def faq_answer(topic: str, lang: Lang) -> str | None:
    entry = faq().get(topic)
    if entry is None:
        return None
    return f"{entry[f'title_{lang}']}\n{entry[f'answer_{lang}']}"
