"""Understanding `/posthog ...` text. Pure functions: no database, no network.

Every problem raises CommandError with a message meant for the person who typed the command: what was not
understood, and an example that works.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from core.recipients import split_addresses
from posthog_api import InvalidReference, parse_posthog_reference

MAX_TEXT = 1000
MAX_ID_DIGITS = 18

EXAMPLE_SUBSCRIBE = "/posthog subscribe dashboard 42 weekly"


class CommandError(ValueError):
    """A command that cannot be run as typed; `str()` is the reply."""


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Connect:
    demo: bool


@dataclass(frozen=True)
class Projects:
    pass


@dataclass(frozen=True)
class Subscribe:
    kind: str  # insight | dashboard
    ref: int | str
    schedule: str
    channel_id: str | None = None
    channel_name: str | None = None
    project: str | None = None
    # By email: the addresses as typed (checked by the subscription lifecycle), and "me" for the requester's own.
    emails: tuple[str, ...] = ()
    email_me: bool = False

    @property
    def by_email(self) -> bool:
        return bool(self.emails) or self.email_me


@dataclass(frozen=True)
class NewSubscription:
    """`/posthog subscribe` with nothing after it: the form."""


@dataclass(frozen=True)
class Preview:
    kind: str
    ref: int | str
    project: str | None = None


@dataclass(frozen=True)
class Export:
    """`/posthog export ...`: what to export, checked again (with the rest of the rules) by exports/."""

    kind: str
    ref: str = ""
    format: str = "csv"
    period: str | None = None  # events: "last 7 days"
    where: str | None = None
    project: str | None = None


@dataclass(frozen=True)
class ListExports:
    """`/posthog exports`: the requester's recent exports and how far they are."""


@dataclass(frozen=True)
class ListSubscriptions:
    everywhere: bool


@dataclass(frozen=True)
class Manage:
    action: str  # unsubscribe | pause | resume | send
    subscription_id: int


@dataclass(frozen=True)
class ApiKeyCommand:
    """`/posthog api-key create "name" [read-only]`, `api-key list`, `api-key revoke <prefix or name>`."""

    action: str  # create | list | revoke
    argument: str = ""  # the new key's name, or the key to revoke
    read_only: bool = False


@dataclass(frozen=True)
class ShareContent:
    """`/posthog share dashboard 42`: a link (and embed code) that anyone who has it opens."""

    kind: str
    ref: int | str
    project: str | None = None


@dataclass(frozen=True)
class ListShares:
    """`/posthog shares`: the workspace's live share links."""


Command = (Help | Connect | Projects | Subscribe | NewSubscription | Preview | Export | ListExports | ListSubscriptions
           | Manage | ApiKeyCommand | ShareContent | ListShares)

VERBS = ("subscribe", "list", "unsubscribe", "pause", "resume", "send", "preview", "export", "exports", "connect",
         "projects", "api-key", "share", "shares", "help")
ALIASES = {
    "sub": "subscribe",
    "unsub": "unsubscribe",
    "remove": "unsubscribe",
    "delete": "unsubscribe",
    "ls": "list",
    "send-now": "send",
    "projects": "projects",
    "project": "projects",
    "?": "help",
    "api-keys": "api-key",
    "apikey": "api-key",
    "apikeys": "api-key",
}
MANAGE_VERBS = ("unsubscribe", "pause", "resume", "send")
KINDS = {"dashboard": "dashboard", "dashboards": "dashboard", "insight": "insight", "insights": "insight"}

_CHANNEL = re.compile(r"(?:\b(?:in|to)\s+)?<#([CG][A-Z0-9]{1,30})(?:\|([^>]*))?>", re.IGNORECASE)
_PLAIN_CHANNEL = re.compile(r"(?:^|\s)#([\w.-]+)")
_MENTION = re.compile(r"<[@!][^>]*>")
_PROJECT = re.compile(r"(?:\bin\s+)?\bproject\s+(\"[^\"]+\"|\S+)", re.IGNORECASE)
# "... email ada@acme.com <mailto:bob@acme.com|bob@acme.com> me": everything after the word is recipients.
_EMAIL = re.compile(r"(?:^|\s)(?:by\s+|to\s+)?e-?mail(?:\s+to)?(?=\s|$)", re.IGNORECASE)
EXAMPLE_EMAIL = "/posthog subscribe dashboard 42 weekly email ada@acme.com"


def parse_command(text: str) -> Command:
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise CommandError(
            f"That command is {len(text)} characters long; I read at most {MAX_TEXT}. "
            f"Try something shorter, e.g. `{EXAMPLE_SUBSCRIBE}`."
        )
    if not text:
        return Help()
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    verb = ALIASES.get(verb, verb)
    rest = rest.strip()
    if verb == "help":
        return Help()
    if verb == "connect":
        return _connect(rest)
    if verb == "projects":
        if rest:
            raise CommandError("`/posthog projects` takes nothing after it; it lists the connected PostHog projects.")
        return Projects()
    if verb == "list":
        return _list(rest)
    if verb in MANAGE_VERBS:
        return _manage(verb, rest)
    if verb == "subscribe":
        return _subscribe(rest) if rest else NewSubscription()
    if verb == "preview":
        return _preview(rest)
    if verb == "export":
        return _export(rest)
    if verb == "exports":
        if rest:
            raise CommandError("`/posthog exports` takes nothing after it; it lists your recent exports.")
        return ListExports()
    if verb == "api-key":
        return _api_key(rest)
    if verb == "share":
        return _share(rest)
    if verb == "shares":
        if rest:
            raise CommandError("`/posthog shares` takes nothing after it; it lists this workspace's share links.")
        return ListShares()
    close = difflib.get_close_matches(verb, VERBS, n=1, cutoff=0.6)
    hint = f" Did you mean `/posthog {close[0]}`?" if close else ""
    shown = verb if len(verb) <= 30 else verb[:27] + "..."
    raise CommandError(f"I don't know the command “{shown}”.{hint} Type `/posthog help` to see what I can do.")


def _connect(rest: str) -> Connect:
    if not rest:
        return Connect(demo=False)
    if rest.lower() == "demo":
        return Connect(demo=True)
    raise CommandError(
        "`/posthog connect` opens a form where you enter your PostHog host, project id and personal API key "
        "(never type the key into a channel). Or try the bundled demo data with `/posthog connect demo`."
    )


def _list(rest: str) -> ListSubscriptions:
    if not rest:
        return ListSubscriptions(everywhere=False)
    if rest.lower() == "all":
        return ListSubscriptions(everywhere=True)
    raise CommandError(
        f"`/posthog list` shows this channel's subscriptions and `/posthog list all` every channel's; "
        f"I don't understand “{rest[:40]}” after it."
    )


EXAMPLE_API_KEY = '/posthog api-key create "reporting notebook"'
_READ_ONLY = re.compile(r"\s+(?:--)?read[- ]?only$", re.IGNORECASE)


def _api_key(rest: str) -> ApiKeyCommand:
    action, _, argument = rest.partition(" ")
    action, argument = action.lower(), argument.strip()
    if action in ("create", "new", "make"):
        read_only = bool(_READ_ONLY.search(argument))
        name = _READ_ONLY.sub("", argument).strip().strip('"\u201c\u201d\'').strip()
        if not name:
            raise CommandError(f"Give the key a name that says what uses it, e.g. `{EXAMPLE_API_KEY}` (add "
                               "`read-only` for a key that cannot change anything).")
        return ApiKeyCommand("create", name, read_only)
    if action in ("list", "ls"):
        if argument:
            raise CommandError("`/posthog api-key list` takes nothing after it; it lists this workspace's API keys.")
        return ApiKeyCommand("list")
    if action in ("revoke", "delete", "remove"):
        which = argument.strip('"\u201c\u201d\'').strip()
        if not which:
            raise CommandError("Which key? `/posthog api-key revoke phe_AbCdEfGh` (its prefix) or its name; "
                               "`/posthog api-key list` shows them.")
        return ApiKeyCommand("revoke", which)
    raise CommandError(f"`/posthog api-key` creates, lists and revokes keys of the REST API: `{EXAMPLE_API_KEY}`, "
                       "`/posthog api-key list`, `/posthog api-key revoke <prefix or name>`.")


def parse_subscription_id(verb: str, rest: str) -> int:
    example = f"`/posthog {verb} 12` (`/posthog list` shows the numbers)"
    if not rest:
        raise CommandError(f"Which subscription? Give its number, e.g. {example}.")
    words = rest.split()
    if len(words) > 1:
        raise CommandError(f"`/posthog {verb}` takes one subscription number, e.g. {example}.")
    word = words[0].lstrip("#")
    if not (word.isascii() and word.isdigit()):
        raise CommandError(f"“{words[0][:40]}” is not a subscription number. Use the number, e.g. {example}.")
    if len(word) > MAX_ID_DIGITS or int(word) == 0:
        raise CommandError(f"There is no subscription {words[0][:40]}. Use a number from `/posthog list`.")
    return int(word)


def _manage(verb: str, rest: str) -> Manage:
    return Manage(action=verb, subscription_id=parse_subscription_id(verb, rest))


def _take_project(text: str) -> tuple[str, str | None]:
    match = _PROJECT.search(text)
    if match is None:
        return text, None
    project = match.group(1).strip('"')
    return (text[: match.start()] + " " + text[match.end() :]).strip(), project


def parse_target(verb: str, words: list[str]) -> tuple[str, int | str, list[str]]:
    """(kind, ref, remaining words) from "dashboard 42 ..." or "<PostHog link> ..."."""
    example = f"`/posthog {verb} dashboard 42{' weekly' if verb == 'subscribe' else ''}`"
    if not words:
        raise CommandError(
            f"What should I {'subscribe to' if verb == 'subscribe' else verb}? Name a dashboard or an insight, "
            f"e.g. {example} or `/posthog {verb} insight abc123XY{' daily' if verb == 'subscribe' else ''}`."
        )
    first = words[0]
    kind = KINDS.get(first.lower())
    if kind is None:
        # A link names its own kind; a bare number or word does not.
        try:
            link_kind, ref = parse_posthog_reference(first)
        except InvalidReference:
            link_kind, ref = None, None
        if link_kind is not None and ("/" in first):
            return link_kind, ref, words[1:]  # type: ignore[return-value]
        if first.isdigit():
            raise CommandError(
                f"Is {first} a dashboard or an insight? Say which, e.g. `/posthog {verb} dashboard {first}"
                f"{' weekly' if verb == 'subscribe' else ''}`."
            )
        raise CommandError(
            f"I expected `dashboard` or `insight` after `{verb}`, not “{first[:40]}”. For example {example}."
        )
    if len(words) < 2:
        raise CommandError(
            f"Which {kind}? Give its number, short id or PostHog link, e.g. `/posthog {verb} {kind} "
            f"{'42' if kind == 'dashboard' else 'abc123XY'}{' weekly' if verb == 'subscribe' else ''}`."
        )
    raw = words[1]
    try:
        ref_kind, ref = parse_posthog_reference(raw)
    except InvalidReference as exc:
        raise CommandError(str(exc)) from None
    if isinstance(ref, int) and len(str(ref)) > MAX_ID_DIGITS:
        raise CommandError(f"{kind.capitalize()} {str(ref)[:30]}… is not a PostHog id; it is far too long.")
    if kind == "dashboard" and ref_kind == "insight":
        if "/" in raw:
            raise CommandError(
                f"That link is to an insight, not a dashboard. Use `/posthog {verb} insight {raw}"
                f"{' weekly' if verb == 'subscribe' else ''}`."
            )
        raise CommandError(
            f"Dashboards have numeric ids; “{raw[:40]}” looks like an insight's short id. "
            f"Try `/posthog {verb} insight {raw[:40]}{' weekly' if verb == 'subscribe' else ''}`."
        )
    if kind == "insight" and ref_kind == "dashboard":
        raise CommandError(
            f"That link is to a dashboard, not an insight. Use `/posthog {verb} dashboard {ref}"
            f"{' weekly' if verb == 'subscribe' else ''}`."
        )
    return kind, ref, words[2:]


def _take_recipients(text: str) -> tuple[str, list[str] | None]:
    """(the text before "email", the recipients after it), or (text, None) when it names no email."""
    match = _EMAIL.search(text)
    if match is None:
        return text, None
    return text[: match.start()].strip(), split_addresses(text[match.end():])


def _subscribe(rest: str) -> Subscribe:
    rest, recipients = _take_recipients(rest)
    if recipients is not None:
        # "in project 12" may stand after the addresses too.
        recipients_text, project = _take_project(" ".join(recipients))
        return _subscribe_by_email(rest, recipients_text.split(), project)
    if _MENTION.search(rest):
        raise CommandError(
            "I deliver to channels, not to people or groups. Name a channel with `in #channel`, or run the "
            f"command in the channel itself, e.g. `{EXAMPLE_SUBSCRIBE} in #metrics`."
        )
    channels = list(_CHANNEL.finditer(rest))
    if len(channels) > 1:
        raise CommandError(
            "One subscription delivers to one channel. Run the command once per channel, e.g. "
            f"`{EXAMPLE_SUBSCRIBE} in #metrics`."
        )
    channel_id = channel_name = None
    if channels:
        match = channels[0]
        channel_id = match.group(1).upper()
        channel_name = (match.group(2) or "").strip() or None
        rest = (rest[: match.start()] + " " + rest[match.end() :]).strip()
    plain = _PLAIN_CHANNEL.search(rest)
    if plain is not None:
        raise CommandError(
            f"I couldn't tell which channel “#{plain.group(1)[:40]}” is. Type `#` and pick the channel from "
            "Slack's list so that it becomes a link, or run the command in that channel."
        )
    rest, project = _take_project(rest)
    kind, ref, remaining = parse_target("subscribe", rest.split())
    schedule = " ".join(remaining).strip()
    if schedule.lower().startswith("in ") or schedule.lower() == "in":
        raise CommandError(
            "Say where with a channel link, e.g. `in #metrics` (type `#` and pick the channel), and how often, "
            f"e.g. `{EXAMPLE_SUBSCRIBE} in #metrics`."
        )
    if not schedule:
        raise CommandError(
            f"How often should I send {kind} {ref}? Add a schedule, e.g. `/posthog subscribe {kind} {ref} weekly`, "
            "`daily at 9am`, `weekdays at 17:30` or `monthly on the first monday`."
        )
    return Subscribe(kind, ref, schedule, channel_id, channel_name, project)


def _subscribe_by_email(rest: str, recipients: list[str], project: str | None) -> Subscribe:
    if _CHANNEL.search(rest) or _PLAIN_CHANNEL.search(rest):
        raise CommandError(
            "A subscription goes to a channel or to email addresses, not both. Subscribe twice, e.g. "
            f"`{EXAMPLE_SUBSCRIBE} in #metrics` and `{EXAMPLE_EMAIL}`."
        )
    if _MENTION.search(rest) or any(_MENTION.fullmatch(r) for r in recipients):
        raise CommandError(
            "I email addresses, not Slack people or groups: write their addresses, or `email me` for your own, "
            f"e.g. `{EXAMPLE_EMAIL} bob@acme.com`."
        )
    if not recipients:
        raise CommandError(
            f"Who should get it? Put addresses after `email`, e.g. `{EXAMPLE_EMAIL}` or "
            "`/posthog subscribe dashboard 42 weekly email me`."
        )
    rest, named = _take_project(rest)
    project = project or named
    kind, ref, remaining = parse_target("subscribe", rest.split())
    schedule = " ".join(remaining).strip()
    if not schedule:
        raise CommandError(
            f"How often should I email {kind} {ref}? Put a schedule before `email`, e.g. "
            f"`/posthog subscribe {kind} {ref} weekly email ...`."
        )
    email_me = any(r.lower() == "me" for r in recipients)
    emails = tuple(r for r in recipients if r.lower() not in ("me", "and"))
    return Subscribe(kind, ref, schedule, project=project, emails=emails, email_me=email_me)


EXAMPLE_EXPORT = "/posthog export dashboard 42 as xlsx"
_AS_FORMAT = re.compile(r"\s+as\s+(\S+)\s*$", re.IGNORECASE)
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_DOUBLE_QUOTED = re.compile(r'"([^"]*)"')


def _export(rest: str) -> Export:
    rest, project = _take_project(rest)
    fmt = "csv"
    match = _AS_FORMAT.search(" " + rest)
    if match:
        fmt = match.group(1).lower().lstrip(".")
        rest = (" " + rest)[: match.start()].strip()
    words = rest.split()
    if not words:
        raise CommandError(
            f"What should I export? e.g. `{EXAMPLE_EXPORT}`, `/posthog export insight abc123XY as csv`, "
            "`/posthog export events last 7 days where event = '$pageview' as csv`, `/posthog export persons`."
        )
    kind = words[0].lower()
    if kind in ("event", "person", "group"):
        kind += "s"
    if kind in ("events", "persons", "cohort", "groups"):
        ref, remaining = "", words[1:]
        if kind in ("cohort", "groups"):
            if not remaining or not remaining[0].isdigit():
                raise CommandError(f"Which {'cohort' if kind == 'cohort' else 'group type'}? Give its number, e.g. "
                                   f"`/posthog export {kind} {'5' if kind == 'cohort' else '0'} as csv`.")
            ref, remaining = remaining[0], remaining[1:]
        text = " ".join(remaining).translate(_SMART_QUOTES)
        where = None
        lowered = f" {text.lower()} "
        if " where " in lowered:
            cut = lowered.index(" where ")
            text, where = text[: max(cut - 1, 0)], text[cut + 6:].strip()
            # Slack users type "…" for text; HogQL reads double quotes as names, so text goes in single quotes.
            where = _DOUBLE_QUOTED.sub(lambda m: "'" + m.group(1).replace("'", "\\'") + "'", where) or None
        period = text.strip().removeprefix("over ").removeprefix("for ").strip() or None
        if period and kind != "events":
            raise CommandError(f"A date range is for events; `/posthog export {kind}` takes none.")
        return Export(kind, ref, fmt, period, where, project)
    kind, ref, remaining = parse_target("export", words)
    if remaining:
        raise CommandError(
            f"`/posthog export {kind} {ref}` takes only the format after it, e.g. `as csv`, `as xlsx` or `as pdf`; "
            f"I don't understand “{' '.join(remaining)[:40]}”."
        )
    return Export(kind, str(ref), fmt, project=project)


def _preview(rest: str) -> Preview:
    rest, project = _take_project(rest)
    kind, ref, remaining = parse_target("preview", rest.split())
    if remaining:
        raise CommandError(
            f"`/posthog preview` takes just what to show, e.g. `/posthog preview {kind} {ref}`; "
            f"I don't understand “{' '.join(remaining)[:40]}”."
        )
    return Preview(kind, ref, project)


def _share(rest: str) -> ShareContent:
    rest, project = _take_project(rest)
    kind, ref, remaining = parse_target("share", rest.split())
    if remaining:
        raise CommandError(
            f"`/posthog share` takes just what to share, e.g. `/posthog share {kind} {ref}`; "
            f"I don't understand “{' '.join(remaining)[:40]}”."
        )
    return ShareContent(kind, ref, project)
