"""Every word the dialogue says exists in Japanese and English, with the same placeholders."""

from __future__ import annotations

import string

from conversations import texts
from conversations.state import STEPS


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_step_prompt_and_choice_in_both_languages() -> None:
    steps = texts.flow()["steps"]
    for step in STEPS:
        if step in ("diagnosis",):
            continue  # the diagnosis is built from the findings, not from one prompt
        assert step in steps, step
    for name, entry in steps.items():
        assert entry["ja"].strip() and entry["en"].strip(), name
        assert _fields(entry["ja"]) == _fields(entry["en"]), name
        values = [c["value"] for c in entry.get("choices", [])]
        assert len(values) == len(set(values)), name
        for choice in entry.get("choices", []):
            assert choice["ja"].strip() and choice["en"].strip(), (name, choice)


def test_every_message_in_both_languages_with_the_same_placeholders() -> None:
    messages = texts.flow()["messages"]
    names = {key.rsplit("_", 1)[0] for key in messages}
    for name in names:
        ja, en = messages.get(f"{name}_ja"), messages.get(f"{name}_en")
        assert ja and en, name
        assert _fields(ja) == _fields(en), name


def test_every_app_has_a_name_and_a_place_in_both_languages() -> None:
    choices = {c["value"] for c in texts.flow()["steps"]["ask_client"]["choices"]}
    assert choices <= set(texts.apps())
    for app, entry in texts.apps().items():
        for key in ("name_ja", "name_en", "where_ja", "where_en"):
            assert entry[key].strip(), (app, key)


def test_every_faq_topic_answers_in_both_languages() -> None:
    for topic in texts.faq():
        assert texts.faq_answer(topic, "ja") and texts.faq_answer(topic, "en")
