"""Every message in Japanese and English, from the TOML files in bot/locales."""

from __future__ import annotations

import locale
import os
import tomllib
from functools import cache
from importlib import resources
from typing import Any, Literal

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")
MISSING = "?"


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return MISSING


@cache
def catalog(name: str) -> dict[str, dict[str, str]]:
    text = resources.files("bot.locales").joinpath(f"{name}.toml").read_text("utf-8")
    data = tomllib.loads(text)
    for key, entry in data.items():
        for lang in LANGS:
            if lang not in entry:
                raise ValueError(f"bot/locales/{name}.toml: {key} has no {lang!r} text")
    return data


def format_text(template: str, params: dict[str, Any]) -> str:
    return template.format_map(_Params(params)).strip()


def t(key: str, lang: Lang, **params: Any) -> str:
    """A UI message; an unknown key is a programming error and raises KeyError."""
    return format_text(catalog("ui")[key][lang], params)


def default_lang(env: dict[str, str] | None = None) -> Lang:
    """Japanese when the locale says so, English otherwise."""
    env = dict(os.environ) if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    code = locale.getlocale()[0] or ""
    return "ja" if code.lower().startswith("ja") else "en"
