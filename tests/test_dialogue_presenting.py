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


def test_the_summary_says_when_replies_could_not_be_delivered() -> None:
    from conversations.presenting import escalation_summary
    from conversations.state import State

    state = State(lang="en", domain="example.jp")
    assert "could not be delivered" not in escalation_summary(state)
    state.undelivered = 2
    assert "Replies that could not be delivered: 2" in escalation_summary(state)
    state.lang = "ja"
    assert "届けられなかった返信: 2 件" in escalation_summary(state)
