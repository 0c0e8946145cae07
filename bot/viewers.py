"""Who is looking: the `core.subscriptions.Viewer` of a Slack user, from what Slack tells about them."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.models import Subscription
from core.subscriptions import Viewer, can_see

log = logging.getLogger(__name__)

MAX_PAGES = 20  # 200 private channels a page


async def _private_channels(client: AsyncWebClient, user_id: str | None) -> frozenset[str]:
    """The private channels of `user_id`, or of the app itself when None (those it can deliver to)."""
    found: set[str] = set()
    cursor = None
    for _ in range(MAX_PAGES):
        arguments = {"types": "private_channel", "exclude_archived": True, "limit": 200}
        if user_id:
            arguments["user"] = user_id
        if cursor:
            arguments["cursor"] = cursor
        response = await client.users_conversations(**arguments)
        found.update(c["id"] for c in response.get("channels") or [] if c.get("id"))
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return frozenset(found)


async def viewer_for(client: AsyncWebClient, user_id: str) -> Viewer:
    """The viewer for `user_id`. If Slack does not answer, the viewer sees only their own subscriptions."""
    is_admin = False
    try:
        user = (await client.users_info(user=user_id)).get("user") or {}
        is_admin = bool(user.get("is_admin") or user.get("is_owner"))
        private = await _private_channels(client, None)
        member_of = await _private_channels(client, user_id) if private else frozenset()
    except SlackApiError as exc:
        log.info("could not tell what %s may see (%s); showing their own subscriptions only", user_id, exc)
        return Viewer(slack_user=user_id, is_admin=is_admin, private_channels=None)
    return Viewer(slack_user=user_id, is_admin=is_admin, member_of=member_of, private_channels=private)


async def may_see(client: AsyncWebClient | None, user_id: str, subscription: Subscription | None) -> bool:
    """Whether `user_id` may see (and so manage) `subscription`; asks Slack only when it must."""
    if subscription is None:
        return False
    if user_id and subscription.created_by_slack_user == user_id:
        return True
    if client is None:
        return False
    return can_see(subscription, await viewer_for(client, user_id))
