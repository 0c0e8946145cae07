"""Email recipients: reading addresses as people type them, and the policy on who may receive reports.

Every door (Slack commands and modals, the command line, the API) passes what it was given through
`check_recipients`, so an address refused in one door is refused in all of them, with the same message.
"""

from __future__ import annotations

import re

from core.settings import Settings

MAX_ADDRESS_LENGTH = 254
# Deliberately plain: a local part of the usual characters, a dotted domain. Quoted local parts, IP literals and
# addresses without a dot in the domain are refused; nobody subscribes a team with those.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
# Slack sends a typed address as <mailto:ada@acme.com|ada@acme.com>.
_SLACK_MAILTO = re.compile(r"<mailto:([^|>]*)(?:\|[^>]*)?>", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,;]+")


class RecipientError(ValueError):
    """Addresses that cannot be used; `str()` is the message for the person who gave them."""


def split_addresses(text: str) -> list[str]:
    """The addresses in `text`: separated by spaces, commas or semicolons, plain or in Slack's mailto form."""
    text = _SLACK_MAILTO.sub(lambda m: f" {m.group(1)} ", text or "")
    return [part for part in _SEPARATORS.split(text) if part]


def normalize_address(address: str) -> str:
    """The address as stored: surrounding space and a `mailto:` prefix dropped, the domain in lower case (the
    local part is kept: some servers tell Ada from ada)."""
    address = address.strip().strip("<>").strip()
    if address.lower().startswith("mailto:"):
        address = address[7:]
    local, at, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}" if at else address


def allowed_domain(address: str, allowed: list[str]) -> bool:
    domain = address.rpartition("@")[2].lower()
    return not allowed or any(domain == d or domain.endswith("." + d) for d in allowed)


def check_recipients(addresses: list[str], settings: Settings) -> list[str]:
    """The addresses to store (normalized, each once, in the order given), or RecipientError naming every
    problem: addresses that are not addresses, domains the operator does not allow, too many recipients."""
    cleaned: dict[str, str] = {}
    invalid: list[str] = []
    for raw in addresses:
        address = normalize_address(raw)
        if not address:
            continue
        if len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(address):
            invalid.append(raw.strip()[:60])
            continue
        cleaned.setdefault(address.casefold(), address)
    if invalid:
        shown = ", ".join(f"“{a}”" for a in invalid[:5]) + (f" and {len(invalid) - 5} more" if len(invalid) > 5 else "")
        raise RecipientError(
            f"{shown} {'is not an email address' if len(invalid) == 1 else 'are not email addresses'}. "
            "Write addresses like ada@acme.com, separated by spaces or commas."
        )
    if not cleaned:
        raise RecipientError("Give at least one email address, e.g. ada@acme.com.")
    allowed = settings.allowed_email_domains
    refused = [a for a in cleaned.values() if not allowed_domain(a, allowed)]
    if refused:
        domains = ", ".join(allowed)
        raise RecipientError(
            f"Reports may only be emailed to addresses at {domains}; "
            f"{', '.join(refused[:5])}{' and others' if len(refused) > 5 else ''} "
            f"{'is' if len(refused) == 1 else 'are'} not. Ask your administrator to change EMAIL_ALLOWED_DOMAINS."
        )
    limit = settings.email_max_recipients
    if len(cleaned) > limit:
        raise RecipientError(
            f"A subscription can email at most {limit} addresses; that is {len(cleaned)}. "
            "Split them over several subscriptions, or email a group address."
        )
    return list(cleaned.values())
