"""The App Home tab: the workspace's subscriptions, their last delivery and buttons to manage them."""

from __future__ import annotations

from core.models import SlackWorkspace
from core.subscriptions import Viewer, schedule_of

from . import blocks, store
from .services import BotServices

STATUS_ICONS = {
    "succeeded": ":white_check_mark:",
    "partial": ":warning:",
    "failed": ":x:",
    "pending": ":hourglass_flowing_sand:",
    "running": ":hourglass_flowing_sand:",
    "skipped": ":fast_forward:",
}
MAX_LISTED = 30  # 3 blocks each; a Home view holds at most 100 blocks


async def home_view(workspace: SlackWorkspace, services: BotServices, viewer: Viewer) -> dict:
    """The Home tab as `viewer` may see it (core.subscriptions.can_see)."""
    async with services.database.session() as session:
        subscriptions = await store.list_subscriptions(session, workspace, viewer)
        last = await store.last_deliveries(session, [s.id for s in subscriptions])
    view_blocks: list[blocks.Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "PostHog subscriptions"}},
        blocks.context_block("Start one with `/posthog subscribe dashboard 42 weekly` in any channel, or here. "
                             "`/posthog help` lists everything."),
        {"type": "actions", "block_id": "home_new", "elements": [
            blocks.button("New subscription", blocks.ACTION_NEW, "new", style="primary")]},
        {"type": "divider"},
    ]
    if not subscriptions:
        view_blocks.append(blocks.text_block("No subscriptions in this workspace yet."))
    for subscription in subscriptions[:MAX_LISTED]:
        summary = schedule_of(subscription).summary()
        latest = last.get(subscription.id)
        if latest is None:
            delivered = "not delivered yet"
        else:
            d = latest.delivery
            icon = STATUS_ICONS.get(d.status, "")
            when = blocks.local_time(d.finished_at or d.scheduled_for, subscription.timezone)
            delivered = f"last delivery {icon} {d.status} ({when})"
            if latest.error and d.status in ("failed", "partial"):
                delivered += f": {blocks.escape(latest.error[:200])}"
        view_blocks.append(
            blocks.text_block(
                f"*#{subscription.id} {blocks.escape(blocks.label(subscription))}* → "
                f"{blocks.destination(subscription)}\n{summary} — {blocks.status_line(subscription)}\n{delivered}"
            )
        )
        view_blocks.append(blocks.manage_buttons(subscription))
    if len(subscriptions) > MAX_LISTED:
        view_blocks.append(blocks.context_block(
            f"…and {len(subscriptions) - MAX_LISTED} more: `/posthog list all` shows every one."))
    return {"type": "home", "blocks": view_blocks}
