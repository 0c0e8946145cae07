"""Names as PostHog's UI shows them: breakdown markers in words, core events by their display names."""

from __future__ import annotations

import re

# Breakdown values PostHog uses for "no value" and "everything else", shown as these words in its UI.
BREAKDOWN_OTHER = "$$_posthog_breakdown_other_$$"
BREAKDOWN_NULL = "$$_posthog_breakdown_null_$$"
_BREAKDOWN_WORDS = {BREAKDOWN_OTHER: "Other", BREAKDOWN_NULL: "None", "": "None"}
_MARKERS = re.compile(re.escape(BREAKDOWN_OTHER) + "|" + re.escape(BREAKDOWN_NULL))

# PostHog's display names of its own events (frontend taxonomy, CORE_FILTER_DEFINITIONS_BY_GROUP.events).
CORE_EVENTS = {
    "$pageview": "Pageview",
    "$pageleave": "Pageleave",
    "$autocapture": "Autocapture",
    "$screen": "Screen",
    "$identify": "Identify",
    "$groupidentify": "Group identify",
    "$create_alias": "Alias",
    "$set": "Set person properties",
    "$rageclick": "Rageclick",
    "$dead_click": "Dead click",
    "$exception": "Exception",
    "$feature_flag_called": "Feature flag called",
    "$web_vitals": "Web vitals",
    "$survey_shown": "Survey shown",
    "$survey_sent": "Survey sent",
    "$survey_dismissed": "Survey dismissed",
    "$opt_in": "Opt in",
    "$copy_autocapture": "Clipboard autocapture",
    "$snapshot": "Session recording data",
    "$pageview_heatmap": "Pageview heatmap",
    "$ai_generation": "AI generation (LLM)",
}


def breakdown_label(value: object) -> str:
    """A breakdown value as PostHog shows it: lists joined, its null/other markers in words."""
    if isinstance(value, list):
        return ", ".join(breakdown_label(v) for v in value) or "None"
    if value is None:
        return "None"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return _BREAKDOWN_WORDS.get(text, text)


def event_label(name: str) -> str:
    """An event or series name as PostHog shows it ("$pageview" -> "Pageview"); markers inside it in words."""
    name = _MARKERS.sub(lambda m: _BREAKDOWN_WORDS[m.group(0)], name)
    if name in CORE_EVENTS:
        return CORE_EVENTS[name]
    # Legacy labels join the event and the breakdown value: "$pageview - Chrome".
    head, sep, tail = name.partition(" - ")
    if sep and head in CORE_EVENTS:
        return f"{CORE_EVENTS[head]} - {tail}"
    return name
