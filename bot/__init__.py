"""Slack: a multi-workspace Bolt app (OAuth install, /posthog commands, buttons, modals, App Home) and the
sender that posts deliveries into channels.

`app.py` mounts `add_routes(web_app, database=..., settings=..., renderer_factory=...)`; the scheduler uses
`SlackSender(database, settings)` (a `core.delivery.Sender`). Nothing here imports the scheduler.
"""

from .delivery import SlackSender
from .installation_store import DatabaseInstallationStore, DatabaseOAuthStateStore
from .routes import add_routes

__all__ = ["DatabaseInstallationStore", "DatabaseOAuthStateStore", "SlackSender", "add_routes"]
