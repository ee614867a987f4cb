"""The diagnosis in words: provider preparation and dated changes come with it."""

from __future__ import annotations

from conversations.presenting import present_diagnosis
from conversations.state import State


def test_a_known_providers_preparation_and_changes_are_shown() -> None:
    state = State(lang="ja", symptom="send", domain="outlook.jp", app="thunderbird")
    result = {
        "findings": [],
        "recommended": {},
        "provider": {"id": "outlook_com", "name": "Outlook.com"},
    }
    text = present_diagnosis(state, result)
    assert "2024-09-16" in text  # OAuth only since then
    english = present_diagnosis(State(lang="en", symptom="send", domain="outlook.jp"), result)
    assert "2024-09-16" in english and "OAuth" in english
