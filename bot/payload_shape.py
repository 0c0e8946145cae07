"""The shape of what Slack sends, checked before Bolt or a listener reads it.

Slack's own requests always have it; a request that is correctly signed but has, say, a number where Slack puts
the response URL, or a list where it puts the user, is refused with 400 instead of failing deep inside a listener
(or inside Bolt, which would answer 500).
"""

from __future__ import annotations

from typing import Any

# Top-level fields and the JSON type each must have when present.
_STRINGS = ("type", "token", "team_id", "team_domain", "enterprise_id", "channel_id", "channel_name", "user_id",
            "user_name", "command", "text", "api_app_id", "response_url", "trigger_id", "callback_id")
_OBJECTS = ("team", "user", "channel", "container", "view", "message", "event", "state")
_ID_OBJECTS = ("team", "user", "channel")  # their "id" is a string


def shape_problem(body: Any) -> str | None:
    """What is wrong with the shape of a parsed Slack request body (form fields or its JSON payload), or None."""
    if not isinstance(body, dict):
        return "the body is not an object"
    for name in _STRINGS:
        if name in body and body[name] is not None and not isinstance(body[name], str):
            return f"{name} is not a string"
    for name in _OBJECTS:  # Slack leaves these out rather than sending null
        if name in body and not isinstance(body[name], dict):
            return f"{name} is not an object"
    for name in _ID_OBJECTS:
        value = (body.get(name) or {}).get("id")
        if value is not None and not isinstance(value, str):
            return f"{name}.id is not a string"
    if "actions" in body:
        actions = body["actions"]
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            return "actions is not a list of objects"
        for action in actions:
            for name in ("action_id", "block_id", "type", "action_ts"):
                if name in action and not isinstance(action[name], str):
                    return f"actions[].{name} is not a string"
    view = body.get("view")
    if isinstance(view, dict):
        for name in ("id", "type", "callback_id", "private_metadata", "hash"):
            if name in view and view[name] is not None and not isinstance(view[name], str):
                return f"view.{name} is not a string"
        state = view.get("state")
        if state is not None and not isinstance(state, dict):
            return "view.state is not an object"
        values = (state or {}).get("values")
        if values is not None and not (isinstance(values, dict) and all(
            isinstance(block, dict) and all(isinstance(field, dict) for field in block.values())
            for block in values.values()
        )):
            return "view.state.values is not an object of blocks of fields"
    return None
