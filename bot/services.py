"""What the Slack handlers share: the database, settings, the installation store, the renderer factory and the
process's fair limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.db import Database
from core.limits import RateLimiter
from core.models import PostHogConnection, SlackWorkspace
from core.settings import Settings

from .installation_store import DatabaseInstallationStore, find_workspace
from .parsing import CommandError

NOT_INSTALLED = (
    "PostHog isn't installed in this workspace any more. Ask a workspace admin to reinstall the app, "
    "then try again."
)


@dataclass
class BotServices:
    database: Database
    settings: Settings
    installation_store: DatabaseInstallationStore
    renderer_factory: Callable[[], Any] | None = None
    limits: RateLimiter | None = field(default=None)  # shared with the other doors of the process when given

    def __post_init__(self) -> None:
        if self.limits is None:
            self.limits = RateLimiter.from_settings(self.settings)

    async def workspace(self, team_id: str | None) -> SlackWorkspace | None:
        async with self.database.session() as session:
            return await find_workspace(session, team_id)


def choose_connection(connections: list[PostHogConnection], project: str | None) -> PostHogConnection:
    """The connection a command means: the only one, or the one named by `in project <id or name>`."""
    if not connections:
        raise CommandError(
            "No PostHog project is connected to this workspace yet. Run `/posthog connect` to connect yours, "
            "or `/posthog connect demo` to try the bundled demo project."
        )
    names = ", ".join(f"{c.name} (project {c.project_id})" for c in connections)
    if project is None:
        if len(connections) == 1:
            return connections[0]
        raise CommandError(
            f"This workspace has {len(connections)} PostHog projects connected: {names}. Say which one with "
            f"`in project <id>`, e.g. `/posthog subscribe dashboard 42 weekly in project {connections[0].project_id}`."
        )
    wanted = project.strip().casefold()
    for connection in connections:
        if wanted in (str(connection.project_id), connection.name.casefold()):
            return connection
    raise CommandError(f"No connected PostHog project is called “{project[:60]}”. Connected: {names}.")
