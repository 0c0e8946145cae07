"""Posting a delivery into a Slack channel: a parent message, then the images uploaded into its thread.

Used by the scheduler. `SlackSender.send` never raises for Slack problems; it returns a `SlackOutcome`:
- configuration problems (channel gone or archived, token revoked) pause the subscription and DM its creator;
- network errors, 5xx and rate limits that outlast our patience are `transient=True` (retry later);
- anything else is a non-transient failure with Slack's error code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from core.db import Database
from core.models import SlackWorkspace, Subscription
from core.settings import Settings, get_settings

from . import blocks
from .installation_store import DatabaseInstallationStore
from .slack_client import slack_error_code, slack_status, web_client
from .token_rotation import TokenRotationFailed, fresh_bot_token

log = logging.getLogger(__name__)

# Slack allows about one message per second per channel; we keep to that within this process.
CHANNEL_INTERVAL_SECONDS = 1.0
FILES_PER_COMPLETION = 10  # files.completeUploadExternal takes at most 10 files
ROTATE_MINUTES_BEFORE_EXPIRY = 10

PAUSING_ERRORS = {
    "channel_not_found": "the channel {channel} no longer exists or I can't see it (if it is private, "
    "invite me with `/invite @PostHog`), then resume with `/posthog resume {id}`",
    "is_archived": "the channel {channel} was archived. Unarchive it or edit the subscription to pick "
    "another channel, then `/posthog resume {id}`",
    "invalid_auth": "Slack no longer accepts this app's token in your workspace. Reinstall the app, then "
    "`/posthog resume {id}`",
    "token_revoked": "this app's access to your workspace was revoked. Reinstall the app, then "
    "`/posthog resume {id}`",
    "account_inactive": "the app's bot account was deactivated. Reinstall the app, then `/posthog resume {id}`",
    "not_in_channel": "I am not a member of {channel} and can't join it (private channels need an invite: "
    "`/invite @PostHog`), then `/posthog resume {id}`",
    "channel_is_archived": "the channel {channel} was archived. Pick another channel, then `/posthog resume {id}`",
}
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


@dataclass
class SlackOutcome:
    status: str  # "sent" | "failed"
    error: str | None = None
    transient: bool = False
    message_ts: str | None = None
    channel_id: str | None = None
    paused: bool = False
    # How many of the images are in Slack (uploaded and completed). A retry passes it back to `send` as
    # `images_done`, with `parent_ts=message_ts`, so that it uploads only the rest.
    images_done: int = 0


class _ChannelPacer:
    """At most one message per CHANNEL_INTERVAL_SECONDS per channel, shared by every sender in the process."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, float] = {}

    async def wait(self, channel: str) -> None:
        async with self._locks[channel]:
            last = self._last.get(channel)
            if last is not None:
                delay = CHANNEL_INTERVAL_SECONDS - (time.monotonic() - last)
                if delay > 0:
                    await asyncio.sleep(delay)
            self._last[channel] = time.monotonic()


_pacer = _ChannelPacer()


class _Failed(Exception):
    def __init__(self, code: str, *, transient: bool) -> None:
        super().__init__(code)
        self.code = code
        self.transient = transient


class SlackSender:
    def __init__(self, database: Database, settings: Settings | None = None) -> None:
        self.database = database
        self.settings = settings or get_settings()
        self.installation_store = DatabaseInstallationStore(database, client_id=self.settings.slack_client_id)
        self._session: aiohttp.ClientSession | None = None

    def _client(self, token: str | None) -> AsyncWebClient:
        # One HTTP session for every delivery of this sender: a delivery makes a dozen calls (message, upload
        # URLs, uploads, completion), and a new connection for each would cost more than the calls themselves.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return web_client(self.settings, token, session=self._session)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        subscription_id: int,
        *,
        title: str,
        posthog_url: str = "",
        schedule_summary: str = "",
        next_delivery: datetime | None = None,
        images: list[tuple[str, bytes]] | None = None,
        parent_ts: str | None = None,
        images_done: int = 0,
    ) -> SlackOutcome:
        """Post the parent message and upload the images. `parent_ts` and `images_done` (the `message_ts` and
        `images_done` of an earlier attempt's outcome) resume that attempt: the parent is not posted again and
        the images already in Slack are not uploaded again."""
        async with self.database.session() as session:
            subscription = await session.get(Subscription, subscription_id)
            workspace = await session.get(SlackWorkspace, subscription.workspace_id) if subscription else None
        if subscription is None or subscription.deleted_at is not None:
            return SlackOutcome("failed", "subscription_not_found")
        if subscription.target_type != "slack" or not subscription.slack_channel_id:
            return SlackOutcome("failed", "not_a_slack_subscription")
        if workspace is None or not workspace.active:
            return SlackOutcome("failed", "workspace_uninstalled")
        channel = subscription.slack_channel_id
        ts = parent_ts
        # Without a parent to resume, every image goes with the new message.
        done = min(max(images_done, 0), len(images or ())) if parent_ts else 0
        try:
            token = await self._bot_token(workspace)
        except _Failed as failure:
            outcome = await self._failed(subscription, token=None, failure=failure)
            # Keep the earlier attempt's progress for the next retry.
            outcome.message_ts, outcome.images_done = ts, done
            return outcome
        client = self._client(token)
        try:
            if ts is None:
                text, message_blocks = blocks.delivered_message(
                    subscription,
                    title=title,
                    posthog_url=posthog_url,
                    schedule_summary=schedule_summary,
                    next_delivery=next_delivery,
                )
                await _pacer.wait(channel)
                ts = await self._post(client, channel, text, message_blocks)
            thread_ts = ts if subscription.slack_images_in_thread else None
            for start in range(done, len(images or ()), FILES_PER_COMPLETION):
                await self._upload(client, channel, thread_ts, images, start)
                done = min(start + FILES_PER_COMPLETION, len(images))
        except _Failed as failure:
            outcome = await self._failed(subscription, token=token, failure=failure)
            outcome.message_ts, outcome.images_done = ts, done
            return outcome
        return SlackOutcome("sent", message_ts=ts, channel_id=channel, images_done=done)

    async def notify_creator(self, subscription_id: int, reason: str) -> None:
        """Tell the subscription's creator, in a direct message, why it was paused."""
        async with self.database.session() as session:
            subscription = await session.get(Subscription, subscription_id)
            workspace = await session.get(SlackWorkspace, subscription.workspace_id) if subscription else None
        if subscription is None or workspace is None or not workspace.active:
            return
        try:
            token = await self._bot_token(workspace)
        except _Failed:
            return
        await self._tell_creator(subscription, token, None, reason)

    # -- steps --------------------------------------------------------------------------------------------

    async def _bot_token(self, workspace: SlackWorkspace) -> str:
        try:
            bot = await fresh_bot_token(
                self.installation_store, self.settings, enterprise_id=workspace.enterprise_id,
                team_id=workspace.team_id, minutes_before_expiration=ROTATE_MINUTES_BEFORE_EXPIRY,
            )
        except TokenRotationFailed as failure:
            raise _Failed(failure.code, transient=failure.code not in PAUSING_ERRORS) from None
        if bot is None or not bot.bot_token:
            raise _Failed("token_revoked", transient=False)
        return bot.bot_token

    async def _call(self, coroutine):
        try:
            return await coroutine
        except SlackApiError as exc:
            status, code = slack_status(exc), slack_error_code(exc)
            raise _Failed(code, transient=status >= 500 or status == 429 or code in TRANSIENT_ERRORS) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _Failed(f"network: {type(exc).__name__}", transient=True) from None
        except SlackRequestError as exc:  # the upload step: Slack's upload URL answered non-200
            raise _Failed(f"upload_failed: {str(exc)[:120]}", transient=True) from None

    async def _post(self, client: AsyncWebClient, channel: str, text: str, message_blocks: list) -> str:
        try:
            response = await self._call(
                client.chat_postMessage(channel=channel, text=text, blocks=message_blocks, unfurl_links=False)
            )
        except _Failed as failure:
            if failure.code != "not_in_channel":
                raise
            # Public channels can be joined without an invite; private ones fail here and pause.
            await self._call(client.conversations_join(channel=channel))
            await _pacer.wait(channel)
            response = await self._call(
                client.chat_postMessage(channel=channel, text=text, blocks=message_blocks, unfurl_links=False)
            )
        return response["ts"]

    async def _upload(
        self, client: AsyncWebClient, channel: str, thread_ts: str | None, images: list[tuple[str, bytes]], start: int
    ) -> None:
        """Upload images[start:start + FILES_PER_COMPLETION] as one completion (they appear together)."""
        uploads = [
            {"content": png, "filename": f"{_slug(name) or 'image'}-{i}.png", "title": name or f"Image {i}"}
            for i, (name, png) in enumerate(images[start : start + FILES_PER_COMPLETION], start + 1)
        ]
        await self._call(client.files_upload_v2(channel=channel, thread_ts=thread_ts, file_uploads=uploads))

    async def _failed(self, subscription: Subscription, *, token: str | None, failure: _Failed) -> SlackOutcome:
        template = PAUSING_ERRORS.get(failure.code)
        if template is None:
            log.warning("Slack delivery of subscription %s failed: %s", subscription.id, failure.code)
            return SlackOutcome("failed", failure.code, transient=failure.transient,
                                channel_id=subscription.slack_channel_id)
        reason = template.format(channel=f"<#{subscription.slack_channel_id}>", id=subscription.id)
        async with self.database.transaction() as session:
            row = await session.scalar(select(Subscription).where(Subscription.id == subscription.id))
            if row is not None:
                row.enabled = False
                row.paused_reason = f"Slack: {failure.code}"
        await self._tell_creator(subscription, token, failure.code, reason)
        return SlackOutcome("failed", failure.code, transient=False, channel_id=subscription.slack_channel_id,
                            paused=True)

    async def _tell_creator(
        self, subscription: Subscription, token: str | None, code: str | None, reason: str
    ) -> None:
        creator = subscription.created_by
        if not token or not creator or not creator.startswith(("U", "W")):
            return
        text = (
            f":pause_button: I paused your subscription #{subscription.id} "
            f"({blocks.escape(blocks.label(subscription))}) because {reason}."
        )
        if code:
            text += f" (Slack said `{code}`.)"
        else:
            text += f" Resume it with `/posthog resume {subscription.id}`."
        try:
            await self._client(token).chat_postMessage(channel=creator, text=text)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            # A revoked token cannot DM either; the pause and its reason are still on the subscription.
            log.info("could not tell %s about the pause of subscription %s: %s", creator, subscription.id, exc)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:60]
