"""Posting a delivery into a Slack channel: a parent message, then the images uploaded into its thread.

`SlackSender` is the pipeline's Slack channel (`core.delivery.Sender`). It only sends, it never writes to the
database, and it never raises for Slack problems; each report gets an `Outcome`:
- configuration problems (channel gone or archived, token revoked) fail with a `pause_reason` for the creator;
- network errors, 5xx and rate limits that outlast our patience are `transient=True` (the pipeline retries,
  resuming from `external_id` = the posted message and `progress` = the images already in it);
- anything else is a non-transient failure with Slack's error code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from core.db import Database
from core.delivery import Attachment, Image, Outcome, Report
from core.models import SlackWorkspace, Subscription
from core.settings import Settings

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


def pause_reason(code: str, subscription: Subscription) -> str | None:
    """Why a subscription must wait for its owner after Slack answered `code`; None when it need not."""
    template = PAUSING_ERRORS.get(code)
    if template is None:
        return None
    return template.format(channel=f"<#{subscription.slack_channel_id}>", id=subscription.id) + (
        f" (Slack said `{code}`)"
    )


class ChannelPacer:
    """At most one message per `interval` seconds per channel. `clock` and `sleep` are injectable so that tests
    check the pacing without waiting for it."""

    def __init__(
        self,
        interval: float = CHANNEL_INTERVAL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, float] = {}

    async def wait(self, channel: str) -> None:
        async with self._locks[channel]:
            last = self._last.get(channel)
            if last is not None:
                delay = self.interval - (self.clock() - last)
                if delay > 0:
                    await self.sleep(delay)
            self._last[channel] = self.clock()


class _Failed(Exception):
    def __init__(self, code: str, *, transient: bool) -> None:
        super().__init__(code)
        self.code = code
        self.transient = transient


class SlackSender:
    """Posts reports into Slack channels. One instance per process: its pacer spaces the messages of a channel
    and its HTTP session is reused by every delivery."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.database = database
        self.settings = settings
        self.sleep = sleep  # every wait of a delivery (pacing, Retry-After) goes through it
        self.pacer = ChannelPacer(clock=clock, sleep=sleep)
        self.installation_store = DatabaseInstallationStore(database, client_id=settings.slack_client_id)
        self._session: aiohttp.ClientSession | None = None

    def _client(self, token: str | None) -> AsyncWebClient:
        # One HTTP session for every delivery of this sender: a delivery makes a dozen calls (message, upload
        # URLs, uploads, completion), and a new connection for each would cost more than the calls themselves.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return web_client(
            self.settings, token, session=self._session, retry_connection_errors=False, sleep=self.sleep
        )

    @contextlib.asynccontextmanager
    async def opened(self):
        """One run's side of the sender (the HTTP session lives as long as the sender): it looks up each
        workspace and its bot token once per run instead of once per delivery."""
        yield _SlackRun(self)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, reports: list[Report], resume: Outcome | None = None, *,
                   run: _SlackRun | None = None) -> list[Outcome]:
        outcomes = []
        for report in reports:
            outcomes.append(await self.send_one(report, resume, run=run))
            resume = None
        return outcomes

    async def send_one(self, report: Report, resume: Outcome | None = None, *,
                       run: _SlackRun | None = None) -> Outcome:
        """Post the parent message and upload the images. `resume`, the outcome of an earlier failed try, carries
        the parent message (`external_id`) and the images already in Slack (`progress`): the parent is not posted
        again and those images are not uploaded again. `run`: the workspaces and tokens its run looked up."""
        subscription = report.subscription
        if subscription.target_type != "slack" or not report.address:
            return Outcome.failed("not_a_slack_subscription")
        run = run or _SlackRun(self)
        workspace_id = subscription.workspace_id
        if workspace_id not in run.workspaces:
            async with self.database.session() as session:
                run.workspaces[workspace_id] = await session.get(SlackWorkspace, workspace_id)
        workspace = run.workspaces[workspace_id]
        if workspace is None or not workspace.active:
            return Outcome.failed("workspace_uninstalled")
        channel = report.address
        # The images, then the data files (a subscription "with csv"): one list of uploads, so that a retry
        # resumes after the last upload Slack completed, whichever kind it was.
        images = [*report.images, *report.attachments]
        ts = resume.external_id if resume else None
        # Without a parent to resume, every image goes with the new message.
        done = min(max(resume.progress, 0), len(images)) if ts else 0
        try:
            if workspace_id not in run.tokens:
                run.tokens[workspace_id] = await self._bot_token(workspace)
            client = self._client(run.tokens[workspace_id])
            if ts is None:
                text, message_blocks = blocks.delivered_message(
                    subscription,
                    title=report.title,
                    posthog_url=report.posthog_url,
                    schedule_summary=report.schedule_summary,
                    next_delivery=report.next_delivery,
                )
                await self.pacer.wait(channel)
                ts = await self._post(client, channel, text, message_blocks)
            thread_ts = ts if subscription.slack_images_in_thread else None
            for start in range(done, len(images), FILES_PER_COMPLETION):
                await self._upload(client, channel, thread_ts, images, start)
                done = min(start + FILES_PER_COMPLETION, len(images))
        except _Failed as failure:
            run.tokens.pop(workspace_id, None)  # a retry looks the token up again (it may have been rotated)
            reason = pause_reason(failure.code, subscription)
            if reason is None:
                log.warning("Slack delivery of subscription %s failed: %s", subscription.id, failure.code,
                            extra={"subscription_id": subscription.id, "workspace_id": subscription.workspace_id,
                                   "target": channel})
            # The earlier tries' progress is kept for the next retry.
            return Outcome("failed", error=failure.code, transient=failure.transient and reason is None,
                           external_id=ts, progress=done, pause_reason=reason)
        return Outcome("sent", external_id=ts, progress=done)

    async def notify_creator(self, subscription: Subscription, reason: str) -> None:
        """Tell the subscription's creator, in a direct message, why it was paused."""
        creator = subscription.created_by_slack_user
        async with self.database.session() as session:
            workspace = await session.get(SlackWorkspace, subscription.workspace_id)
        if not creator or workspace is None or not workspace.active:
            return
        try:
            token = await self._bot_token(workspace)
        except _Failed:
            return
        text = (
            f":pause_button: I paused your subscription #{subscription.id} "
            f"({blocks.escape(blocks.label(subscription))}) because {reason}."
        )
        if "/posthog resume" not in reason:
            text += f" Resume it with `/posthog resume {subscription.id}`."
        try:
            await self._client(token).chat_postMessage(channel=creator, text=text)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            # A revoked token cannot DM either; the pause and its reason are still on the subscription.
            log.info("could not tell %s about the pause of subscription %s: %s", creator, subscription.id, exc)

    async def send_to_user(self, workspace_id: int, user_id: str, text: str, *,
                           file: tuple[str, bytes] | None = None) -> bool:
        """A direct message to `user_id`, with a file (name, bytes) when given: how finished exports reach the
        person who asked. False when it could not be sent (the app uninstalled, Slack refusing)."""
        async with self.database.session() as session:
            workspace = await session.get(SlackWorkspace, workspace_id)
        if workspace is None or not workspace.active:
            return False
        try:
            client = self._client(await self._bot_token(workspace))
            if file is None:
                await self._call(client.chat_postMessage(channel=user_id, text=text))
                return True
            dm = await self._call(client.conversations_open(users=user_id))
            name, data = file
            await self._call(client.files_upload_v2(
                channel=dm["channel"]["id"], initial_comment=text,
                file_uploads=[{"content": data, "filename": name, "title": name}],
            ))
            return True
        except _Failed as failure:
            log.warning("could not send %s a direct message: %s", user_id, failure.code)
            return False

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
            await self.pacer.wait(channel)
            response = await self._call(
                client.chat_postMessage(channel=channel, text=text, blocks=message_blocks, unfurl_links=False)
            )
        return response["ts"]

    async def _upload(
        self, client: AsyncWebClient, channel: str, thread_ts: str | None, parts: list[Image | Attachment],
        start: int,
    ) -> None:
        """Upload parts[start:start + FILES_PER_COMPLETION] as one completion (they appear together)."""
        batch = parts[start : start + FILES_PER_COMPLETION]
        uploads = [_upload_of(item, number) for number, item in enumerate(batch, start + 1)]
        await self._call(client.files_upload_v2(channel=channel, thread_ts=thread_ts, file_uploads=uploads))


class _SlackRun:
    """The sender as one delivery run uses it: each workspace and its bot token are looked up once per run, not
    once per delivery (a run is minutes long; a token is renewed well before it expires)."""

    def __init__(self, sender: SlackSender) -> None:
        self.sender = sender
        self.workspaces: dict[int, SlackWorkspace | None] = {}
        self.tokens: dict[int, str] = {}

    async def send(self, reports: list[Report], resume: Outcome | None = None) -> list[Outcome]:
        return await self.sender.send(reports, resume, run=self)


def _upload_of(item: Image | Attachment, number: int) -> dict:
    if isinstance(item, Attachment):
        return {"content": item.data, "filename": item.filename, "title": item.filename}
    return {"content": item.png, "filename": f"{_slug(item.title) or 'image'}-{number}.png",
            "title": item.title or f"Image {number}"}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:60]
