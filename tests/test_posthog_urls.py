"""Parsing what users paste to name an insight or dashboard."""

from __future__ import annotations

import pytest

from posthog_api import InvalidReference, parse_posthog_reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", (None, 42)),
        (" 42 ", (None, 42)),
        ("abc123XY", ("insight", "abc123XY")),
        ("dm-pgvw", ("insight", "dm-pgvw")),
        ("https://us.posthog.com/project/2/insights/abc123XY", ("insight", "abc123XY")),
        ("https://us.posthog.com/project/2/insights/abc123XY/edit?foo=1#bar", ("insight", "abc123XY")),
        ("https://eu.posthog.com/project/2/dashboard/42", ("dashboard", 42)),
        ("https://eu.posthog.com/project/2/dashboard/42/", ("dashboard", 42)),
        ("https://posthog.example.com/dashboard/7", ("dashboard", 7)),
        ("https://posthog.example.com/insights/Khitkwur", ("insight", "Khitkwur")),
        ("us.posthog.com/project/2/insights/abc123XY", ("insight", "abc123XY")),
        ("<https://us.posthog.com/project/2/dashboard/42>", ("dashboard", 42)),
        ("<https://us.posthog.com/project/2/insights/abc123XY|my insight>", ("insight", "abc123XY")),
        ("http://localhost:8000/project/1/insights/123", ("insight", 123)),
    ],
)
def test_accepted_references(text: str, expected: tuple) -> None:
    assert parse_posthog_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Nothing to look up"),
        ("   ", "Nothing to look up"),
        ("hello world", "is not a PostHog insight or dashboard"),
        ("https://us.posthog.com/project/2/events", "is not a PostHog insight or dashboard"),
        ("https://us.posthog.com/project/2/dashboard/abc", "does not end in a dashboard number"),
        ("https://us.posthog.com/project/2/insights/new", "not a saved insight"),
        ("https://us.posthog.com/shared/AbCdEf", "shared link"),
        ("ab", "is not a PostHog insight or dashboard"),
        ("[x", "is not a PostHog insight or dashboard"),  # urlsplit reads "[" as the start of an IPv6 host
    ],
)
def test_rejected_references_have_friendly_messages(text: str, words: str) -> None:
    with pytest.raises(InvalidReference, match=words) as caught:
        parse_posthog_reference(text)
    assert isinstance(caught.value, ValueError)
    assert "Traceback" not in str(caught.value)
