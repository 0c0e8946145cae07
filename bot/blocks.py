"""Block Kit for everything the bot says: replies, lists, delivered messages and the App Home."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.models import Subscription
from core.subscriptions import date_range_of, schedule_of

Block = dict[str, Any]

ACTION_SEND_NOW = "subscription_send_now"
ACTION_EDIT = "subscription_edit"
ACTION_PAUSE = "subscription_pause"
ACTION_RESUME = "subscription_resume"
ACTION_UNSUBSCRIBE = "subscription_unsubscribe"
ACTION_OPEN = "subscription_open_in_posthog"
ACTION_NEW = "subscription_new"
ACTION_SHARE_REVOKE = "share_revoke"

HELP_TEXT = """*PostHog in Slack* — insights and dashboards delivered to channels and inboxes on a schedule.

*Connect a PostHog project*
• `/posthog connect` — opens a form for your PostHog host, project id and personal API key
• `/posthog connect demo` — the bundled demo project, to try things out
• `/posthog projects` — the projects this workspace has connected

*Subscribe*
• `/posthog subscribe dashboard 42 weekly` — every Monday at 09:00 your time, in this channel
• `/posthog subscribe insight abc123XY daily at 8am in #metrics`
• `/posthog subscribe https://us.posthog.com/project/1/dashboard/42 weekdays at 17:30`
• schedules: `daily`, `weekly`, `monthly`, `yearly`, `every 2 weeks`, `weekdays`, `on monday and thursday`, \
`at 9am`, `at 17:30`, `on the first monday`, `monthly on the last friday`
• a period of its own: `/posthog subscribe dashboard 42 weekly over the last 7 days` (also `for last month`, \
`covering the previous quarter`); without one, each insight's own date range
• `/posthog subscribe` with nothing after it opens a form: channel or people (members and outside addresses), \
schedule, period, images' theme; App Home has the same *New subscription* button
• several projects connected? add `in project 12` (its PostHog project id)

*Subscribe by email*
• `/posthog subscribe dashboard 42 weekly email ada@acme.com bob@acme.com` — to these addresses
• `/posthog subscribe insight abc123XY daily email me` — to your own Slack address (mix: `email me ada@acme.com`)
• each recipient is told who subscribed them and can unsubscribe with one click

*Export* (the file comes to you in a direct message)
• `/posthog export dashboard 42 as xlsx` — one sheet per tile; `as csv` (a zip), `as pdf`
• `/posthog export insight abc123XY as csv`
• `/posthog export events last 7 days where event = '$pageview' as csv`
• `/posthog export persons`, `/posthog export cohort 5`, `/posthog export groups 0`
• `/posthog exports` — your recent exports and how far they are
• add `with csv`, `with xlsx` or `with pdf` to a subscription to get the data with every delivery

*Manage*
• `/posthog list` — this channel's subscriptions and the email ones you may see; `/posthog list all` — every \
channel's; each has Send now, Pause/Resume, Edit and Unsubscribe buttons
• `/posthog send 12` — deliver subscription 12 now
• `/posthog pause 12`, `/posthog resume 12`, `/posthog unsubscribe 12`
• `/posthog preview dashboard 42` — see it now, only for you

*API keys* (workspace admins; for the REST API under `/api/v1`, documented at `/api/docs`)
• `/posthog api-key create "reporting notebook"` — a new key, shown once and only to you; add `read-only` for a \
key that cannot change anything
• `/posthog api-key list` — name, prefix, last used; `/posthog api-key revoke phe_AbCdEfGh` (or its name)

*Share links* (anyone with the link sees the content, until it is revoked)
• `/posthog share dashboard 42` — a link and an embed code for another site, only to you, with a Revoke button
• `/posthog shares` — this workspace's share links"""


def text_block(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context_block(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def button(text: str, action_id: str, value: str, *, style: str | None = None, confirm: dict | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def url_button(text: str, url: str, value: str) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": ACTION_OPEN,
        "url": url,
        "value": value,
    }


def _unsubscribe_confirm(subscription: Subscription) -> dict:
    return {
        "title": {"type": "plain_text", "text": "Unsubscribe?"},
        "text": {"type": "mrkdwn", "text": f"Stop delivering *{escape(label(subscription))}*?"},
        "confirm": {"type": "plain_text", "text": "Unsubscribe"},
        "deny": {"type": "plain_text", "text": "Keep it"},
    }


def escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped; anything else in user data is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def label(subscription: Subscription) -> str:
    title = subscription.title or ""
    what = f"{subscription.content_type} {subscription.content_ref}"
    return f"{title} ({what})" if title else what.capitalize()


MAX_SHOWN_RECIPIENTS = 5


def destination(subscription: Subscription) -> str:
    """Where it is delivered, as mrkdwn: the channel, or the email addresses."""
    if subscription.target_type == "email":
        recipients = list(subscription.email_recipients or [])
        shown = ", ".join(escape(a) for a in recipients[:MAX_SHOWN_RECIPIENTS])
        more = len(recipients) - MAX_SHOWN_RECIPIENTS
        return f":email: {shown}{f' and {more} more' if more > 0 else ''}" if recipients else ":email: no recipients"
    return f"<#{subscription.slack_channel_id}>" if subscription.slack_channel_id else "no channel"


def local_time(instant: datetime | None, zone: str) -> str:
    if instant is None:
        return "never (the schedule has ended)"
    local = instant.astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or zone)


def next_times(subscription: Subscription, now: datetime, n: int = 3) -> list[datetime]:
    return schedule_of(subscription).occurrences(now, n)


def manage_buttons(subscription: Subscription, *, include_edit: bool = True) -> Block:
    value = str(subscription.id)
    elements = [button("Send now", ACTION_SEND_NOW, value, style="primary")]
    if include_edit:
        elements.append(button("Edit", ACTION_EDIT, value))
    if subscription.enabled:
        elements.append(button("Pause", ACTION_PAUSE, value))
    else:
        elements.append(button("Resume", ACTION_RESUME, value))
    elements.append(
        button("Unsubscribe", ACTION_UNSUBSCRIBE, value, style="danger", confirm=_unsubscribe_confirm(subscription))
    )
    return {"type": "actions", "block_id": f"manage:{subscription.id}", "elements": elements}


def subscription_created(subscription: Subscription, summary: str, upcoming: list[datetime]) -> list[Block]:
    when = "\n".join(f"• {local_time(t, subscription.timezone)}" for t in upcoming) or "• none: the schedule has ended"
    date_range = date_range_of(subscription)
    period = f", date range *{escape(date_range.label)}*" if date_range else ""
    return [
        text_block(
            f":white_check_mark: Subscribed {destination(subscription)} to *{escape(label(subscription))}*, "
            f"{summary}{period}. (subscription #{subscription.id})"
        ),
        text_block(f"*Next deliveries*\n{when}"),
        manage_buttons(subscription),
    ]


# The one paused_reason written with Slack markup in it: exactly this, with a user id and nothing else.
_PAUSED_BY = re.compile(r"paused by <@[UW][A-Z0-9]+>")


def paused_by(user_id: str) -> str:
    return f"paused by <@{user_id}>"


def paused_reason(reason: str) -> str:
    """A pause reason as mrkdwn: our own "paused by <@U...>" keeps its mention; anything else is escaped
    (reasons also quote PostHog and Slack errors, which must not turn into markup)."""
    return reason if _PAUSED_BY.fullmatch(reason) else escape(reason)


def status_line(subscription: Subscription) -> str:
    if subscription.enabled:
        return f"next: {local_time(subscription.next_delivery_at, subscription.timezone)}"
    reason = f" ({paused_reason(subscription.paused_reason)})" if subscription.paused_reason else ""
    return f":double_vertical_bar: paused{reason}"


def subscription_list(subscriptions: list[Subscription], *, where: str) -> list[Block]:
    if not subscriptions:
        return [
            text_block(
                f"No subscriptions {where} yet. Start one with `/posthog subscribe dashboard 42 weekly`."
            )
        ]
    blocks: list[Block] = [text_block(f"*Subscriptions {where}* ({len(subscriptions)})")]
    for subscription in subscriptions[:40]:  # a message holds at most 50 blocks
        summary = schedule_of(subscription).summary()
        blocks.append(
            text_block(
                f"*#{subscription.id}* {escape(label(subscription))} → {destination(subscription)}\n"
                f"{summary} — {status_line(subscription)}"
            )
        )
    if len(subscriptions) > 40:
        blocks.append(context_block(f"…and {len(subscriptions) - 40} more. Open the app's Home tab to see all."))
    return blocks


def delivered_message(
    subscription: Subscription,
    *,
    title: str,
    posthog_url: str,
    schedule_summary: str,
    next_delivery: datetime | None,
) -> tuple[str, list[Block]]:
    """The parent message of a delivery: (fallback text, blocks)."""
    value = str(subscription.id)
    heading = f"*{escape(title)}*" if not posthog_url else f"*<{posthog_url}|{escape(title)}>*"
    nxt = local_time(next_delivery, subscription.timezone) if next_delivery else "none (the schedule has ended)"
    elements = []
    if posthog_url:
        elements.append(url_button("Open in PostHog", posthog_url, value))
    elements += [
        button("Send now", ACTION_SEND_NOW, value),
        button("Pause", ACTION_PAUSE, value),
        button("Unsubscribe", ACTION_UNSUBSCRIBE, value, style="danger", confirm=_unsubscribe_confirm(subscription)),
    ]
    blocks = [
        text_block(heading),
        context_block(f"Delivered {schedule_summary}. Next delivery: {nxt}. Subscription #{subscription.id}."),
        {"type": "actions", "block_id": f"delivered:{subscription.id}", "elements": elements},
    ]
    date_range = date_range_of(subscription)
    if date_range is None:
        return f"{escape(title)} — delivered {schedule_summary}", blocks
    blocks.insert(1, context_block(f":calendar: Date range: *{escape(date_range.label)}*"))
    return f"{escape(title)} ({escape(date_range.label)}) — delivered {schedule_summary}", blocks


def share_message(title: str, kind: str, ref: str, share_id: int, url: str, embed_code: str) -> list[Block]:
    """A new share link, shown to the person who made it: the link, the embed code and a Revoke button."""
    name = escape(title or f"{kind} {ref}")
    return [
        text_block(f"Anyone with this link sees *{name}* ({kind} {escape(str(ref))}), until it is revoked:\n{url}"),
        text_block("Embed it in another site:\n```" + escape(embed_code) + "```"),
        {"type": "actions", "elements": [button("Revoke", ACTION_SHARE_REVOKE, str(share_id), style="danger",
                                                confirm={
            "title": {"type": "plain_text", "text": "Revoke this link?"},
            "text": {"type": "mrkdwn", "text": f"The link to *{name}* stops working at once, embeds too."},
            "confirm": {"type": "plain_text", "text": "Revoke"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        })]},
        context_block(f"Share link #{share_id}. The link is shown only now: copy it. `/posthog shares` lists the "
                      "workspace's links."),
    ]
