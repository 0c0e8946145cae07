"""Raw data of the demo project, generated on the fly: nothing of it is stored, the same date gives the same data.

What there is, for a given "today" (the demo's today is the real current date in UTC, fixed when the
`DemoProject` is made; its data ends at that day's midnight, which is the demo's "now"):

- events over the 30 whole days before today (about 105,000 to 110,000): $pageview, $autocapture, $pageleave,
  searched, added_to_cart, checkout_started, purchase, $rageclick, and a signed_up for each person created in
  those days, more on weekdays and in the afternoon (UTC), from a web shop at https://shop.example.com;
- 5,000 persons created over the 400 days before today, about 12% of them in the last 30 days, with email (at
  example.com, example.org, example.net), name, plan (free, starter, pro, enterprise), country, company and
  their first browser and OS; each has two distinct ids (the email and an anonymous id);
- cohorts 1 "Paying customers" (plan other than free) and 2 "Churn risk" (paying, created more than 45 days
  ago, and without any event in the last 14 days: the generator leaves them out of those days);
- group type 0 "organization": 200 groups (key, name, industry, employees, plan, country).

Each day's events come from a generator seeded with that day and today's date, kept compact (time, event,
person, one number the properties are drawn from) and cached per process, so a page at any offset is reached
by counting whole days and generating only the days it needs; rows are built only for the page asked.

`where` in the demo understands a tiny subset of HogQL: comparisons `<field> = '<text>'` or `<field> !=
'<text>'` joined by AND, on `event`, `distinct_id`, `properties.<name>` and `person.properties.<name>` for
events, on `id`, `distinct_id` and `properties.<name>` for persons and cohort members, and on `key` and
`properties.<name>` for groups. Anything else is refused with a message saying so (a real PostHog runs any
HogQL expression).
"""

from __future__ import annotations

import json
import random
import re
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any

from .data import DataQuery, InvalidDataQuery, RowPage, time_bounds
from .errors import PostHogError, PostHogNotFound

EVENT_DAYS = 30
PERSON_COUNT = 5_000
GROUP_COUNT = 200
COHORTS: dict[int, str] = {1: "Paying customers", 2: "Churn risk"}
GROUP_TYPES: dict[int, str] = {0: "organization"}
SITE_HOST = "shop.example.com"
CHURN_QUIET_DAYS = 14

_DAY_MS = 86_400_000
_BASE_EVENTS_PER_DAY = 3_550

# Event names and their shares of the sampled events (signed_up comes from the persons created that day).
EVENT_NAMES: tuple[str, ...] = (
    "$pageview", "$autocapture", "$pageleave", "searched", "added_to_cart", "checkout_started", "purchase",
    "$rageclick", "signed_up",
)
_EVENT_WEIGHTS = (46.0, 24.0, 16.0, 4.5, 5.0, 2.5, 1.5, 0.5, 0.0)
_EVENT_CODE = {name: code for code, name in enumerate(EVENT_NAMES)}
_SIGNED_UP = _EVENT_CODE["signed_up"]
_PAGEVIEW = _EVENT_CODE["$pageview"]

_HOUR_WEIGHTS = (
    2, 1.5, 1.2, 1, 1, 1.2, 2, 3, 4.5, 6, 7, 7.5, 7.5, 8, 8.5, 8.5, 8, 7, 6, 5.5, 5, 4.5, 3.5, 2.5,
)
_WEEKDAY_FACTOR = (1.1, 1.1, 1.1, 1.1, 1.1, 0.78, 0.72)  # Monday ... Sunday

_PATHS = (
    "/", "/", "/", "/products", "/products", "/products/walnut-desk", "/products/oak-chair",
    "/products/linen-lamp", "/products/wool-rug", "/products/steel-shelf", "/cart", "/checkout", "/pricing",
    "/blog", "/blog/small-spaces", "/docs", "/account", "/login", "/signup", "/search",
)
_PRODUCTS = (
    ("walnut-desk", 349.0), ("oak-chair", 129.0), ("linen-lamp", 59.0), ("wool-rug", 219.0),
    ("steel-shelf", 89.0), ("cotton-throw", 39.0),
)
_REFERRERS = ("$direct", "$direct", "$direct", "www.google.com", "www.google.com", "duckduckgo.com",
              "news.ycombinator.com", "t.co", "www.linkedin.com", "www.bing.com")
_SEARCHES = ("desk", "chair", "lamp", "rug", "shelf", "walnut", "oak", "gift", "sale", "standing desk")
_CLICK_TEXTS = ("Add to cart", "Buy now", "Sign up", "Search", "Next", "Pricing", "Log in", "Checkout")
_BROWSERS = (("Chrome", 62), ("Safari", 20), ("Firefox", 8), ("Microsoft Edge", 8), ("Opera", 2))
_OS_OF_BROWSER = {
    "Chrome": (("Windows", 45), ("Mac OS X", 30), ("Android", 15), ("Linux", 10)),
    "Safari": (("Mac OS X", 55), ("iOS", 45)),
    "Firefox": (("Windows", 50), ("Linux", 30), ("Mac OS X", 20)),
    "Microsoft Edge": (("Windows", 100),),
    "Opera": (("Windows", 60), ("Android", 40)),
}
_DEVICE_OF_OS = {"Android": "Mobile", "iOS": "Mobile"}
_PLANS = (("free", 68), ("starter", 16), ("pro", 11), ("enterprise", 5))
_COUNTRIES = (
    ("United States", 34), ("United Kingdom", 10), ("Germany", 9), ("France", 6), ("India", 8), ("Brazil", 5),
    ("Canada", 5), ("Australia", 4), ("Netherlands", 4), ("Japan", 4), ("Spain", 3), ("Poland", 3),
    ("Sweden", 2), ("Mexico", 3),
)
_FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Ben", "Camille", "Carlos", "Chen", "Chloe", "Daniel", "Dmitri",
    "Elena", "Emma", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Isaac", "Jonas", "Julia", "Kai",
    "Kenji", "Lara", "Leo", "Lina", "Lucas", "Maya", "Mateo", "Mia", "Nadia", "Noah", "Olga", "Omar", "Priya",
    "Rafael", "Rosa", "Sam", "Sara", "Sofia", "Tariq", "Theo", "Uma", "Victor", "Wen", "Yara", "Yusuf", "Zoe",
)
_LAST_NAMES = (
    "Adams", "Almeida", "Becker", "Bianchi", "Brown", "Castro", "Chowdhury", "Costa", "Dubois", "Eriksson",
    "Fischer", "Garcia", "Hansen", "Ito", "Jansen", "Kim", "Kowalski", "Kumar", "Lopez", "Martin", "Meyer",
    "Moreau", "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen", "Patel", "Petrov", "Quinn", "Rossi", "Santos",
    "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Taylor", "Usman", "Varga", "Wagner", "Walker", "Wang",
    "Weber", "Williams", "Wilson", "Xu", "Yamamoto", "Young", "Zhang",
)
_EMAIL_DOMAINS = ("example.com", "example.com", "example.org", "example.net")
_ORG_FIRST = (
    "Acme", "Blue", "Bright", "Cedar", "Copper", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Indigo",
    "Juniper", "Kite", "Lumen", "Maple", "Nimbus", "Orbit", "Pine", "Quartz", "River", "Summit", "Tidal",
    "Umber", "Vertex", "Willow",
)
_ORG_SECOND = ("Labs", "Works", "Analytics", "Studio", "Systems", "Health", "Retail", "Logistics")
_INDUSTRIES = ("Software", "Retail", "Healthcare", "Finance", "Education", "Media", "Manufacturing", "Travel")


# --- the world of one day ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoPerson:
    id: str
    created_at: datetime
    distinct_ids: tuple[str, ...]
    properties: dict[str, Any]
    browser: str
    os: str
    device: str
    paying: bool
    churn_risk: bool
    org_key: str  # the organization (group type 0) the person belongs to


@dataclass(frozen=True, slots=True)
class DemoGroup:
    key: str
    created_at: datetime
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class World:
    today: date
    persons: tuple[DemoPerson, ...]  # oldest first
    created_ms: tuple[int, ...]  # persons' created_at as epoch ms, for bisecting
    weights: tuple[float, ...]  # cumulative activity weights, oldest first
    quiet_weights: tuple[float, ...]  # the same without the churn-risk persons (the last quiet days)
    groups: tuple[DemoGroup, ...]  # oldest first


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso(moment: datetime) -> str:
    """How the demo writes a moment: ISO 8601 in UTC with milliseconds, like PostHog's API."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def window(today: date) -> tuple[date, date]:
    """The first and the last day with events."""
    return today - timedelta(days=EVENT_DAYS), today - timedelta(days=1)


@lru_cache(maxsize=4)
def world(today: date) -> World:
    """The persons and groups of the demo project as of `today`."""
    rng = random.Random(f"posthog-exports demo world {today.isoformat()}")
    midnight = _epoch_ms(datetime.combine(today, time(), tzinfo=UTC))

    groups: list[DemoGroup] = []
    used_keys: set[str] = set()
    for i in range(GROUP_COUNT):
        name = f"{_ORG_FIRST[i % len(_ORG_FIRST)]} {_ORG_SECOND[(i // len(_ORG_FIRST) + i) % len(_ORG_SECOND)]}"
        key = re.sub(r"[^a-z0-9]+", "-", name.lower())
        if key in used_keys:
            key = f"{key}-{i}"
        used_keys.add(key)
        created = midnight - int(rng.uniform(30, 500) * _DAY_MS)
        groups.append(DemoGroup(key, _from_ms(created), {
            "name": name,
            "industry": rng.choice(_INDUSTRIES),
            "employees": int(rng.lognormvariate(3.5, 1.2)) + 2,
            "plan": _weighted(rng, _PLANS),
            "country": _weighted(rng, _COUNTRIES),
        }))
    groups.sort(key=lambda g: (g.created_at, g.key))

    drafts: list[tuple[int, dict[str, Any]]] = []
    emails: set[str] = set()
    for _ in range(PERSON_COUNT):
        days_ago = rng.uniform(0, EVENT_DAYS) if rng.random() < 0.12 else EVENT_DAYS + 370 * rng.random() ** 1.3
        created = midnight - max(1, int(days_ago * _DAY_MS))
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        local = f"{first}.{last}".lower()
        domain = rng.choice(_EMAIL_DOMAINS)
        email, n = f"{local}@{domain}", 1
        while email in emails:
            n += 1
            email = f"{local}{n}@{domain}"
        emails.add(email)
        browser = _weighted(rng, _BROWSERS)
        os_name = _weighted(rng, _OS_OF_BROWSER[browser])
        plan = _weighted(rng, _PLANS)
        org = min(int(GROUP_COUNT * rng.random() ** 2), GROUP_COUNT - 1)
        drafts.append((created, {
            "email": email, "name": f"{first} {last}", "plan": plan, "country": _weighted(rng, _COUNTRIES),
            "browser": browser, "os": os_name, "org": org, "weight": rng.lognormvariate(0, 1.0),
            "churn": plan != "free" and days_ago > 45 and rng.random() < 0.22,
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "anon": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        }))
    drafts.sort(key=lambda d: d[0])
    persons: list[DemoPerson] = []
    created_ms: list[int] = []
    last_ms = 0
    for created, d in drafts:
        created = max(created, last_ms + 1)  # every person its own millisecond: a total order
        last_ms = created
        org = groups[d["org"]]
        properties = {
            "email": d["email"], "name": d["name"], "plan": d["plan"], "country": d["country"],
            "company": org.properties["name"], "$initial_browser": d["browser"], "$initial_os": d["os"],
        }
        persons.append(DemoPerson(
            id=d["id"], created_at=_from_ms(created), distinct_ids=(d["email"], d["anon"]), properties=properties,
            browser=d["browser"], os=d["os"], device=_DEVICE_OF_OS.get(d["os"], "Desktop"),
            paying=d["plan"] != "free", churn_risk=d["churn"], org_key=org.key,
        ))
        created_ms.append(created)
    weights = tuple(accumulate(d["weight"] for _, d in drafts))
    quiet = tuple(accumulate(0.0 if d["churn"] else d["weight"] for _, d in drafts))
    return World(today, tuple(persons), tuple(created_ms), weights, quiet, tuple(groups))


# --- the events of one day -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayEvents:
    day: date
    ms: array  # milliseconds into the day, strictly increasing
    event: array  # index into EVENT_NAMES
    person: array  # index into World.persons
    draw: array  # a random number the event's properties are drawn from

    def __len__(self) -> int:
        return len(self.ms)


@dataclass(frozen=True, slots=True)
class _DayPlan:
    sampled: int  # events drawn from the persons created before the day
    eligible: int  # those persons: World.persons[:eligible]
    signups: tuple[int, ...]  # pageviews after each sign-up of the day (persons eligible, eligible + 1...)

    @property
    def size(self) -> int:
        return self.sampled + sum(1 + n for n in self.signups)


@lru_cache(maxsize=64)
def _plan(today: date, day: date) -> _DayPlan:
    """How many events `day` has, without generating them (an offset is reached by adding these up)."""
    first, last = window(today)
    if not first <= day <= last:
        return _DayPlan(0, 0, ())
    w = world(today)
    rng = random.Random(f"posthog-exports demo day plan {today.isoformat()} {day.isoformat()}")
    start = _epoch_ms(datetime.combine(day, time(), tzinfo=UTC))
    position = (day - first).days / max(EVENT_DAYS - 1, 1)
    count = int(_BASE_EVENTS_PER_DAY * _WEEKDAY_FACTOR[day.weekday()] * (0.92 + 0.16 * position)
                * rng.uniform(0.95, 1.05))
    eligible = bisect_left(w.created_ms, start)  # persons created before the day starts
    signed_up = bisect_left(w.created_ms, start + _DAY_MS) - eligible
    return _DayPlan(count if eligible else 0, eligible, tuple(rng.randint(1, 4) for _ in range(signed_up)))


def day_size(today: date, day: date) -> int:
    """How many events `day` has (0 outside the window)."""
    return _plan(today, day).size


@lru_cache(maxsize=64)
def day_events(today: date, day: date) -> DayEvents:
    """The events of `day` (one of the window's days) as the demo has them on `today`."""
    plan = _plan(today, day)
    w = world(today)
    _, last = window(today)
    rng = random.Random(f"posthog-exports demo events {today.isoformat()} {day.isoformat()}")
    start = _epoch_ms(datetime.combine(day, time(), tzinfo=UTC))
    quiet = (last - day).days < CHURN_QUIET_DAYS
    cum = (w.quiet_weights if quiet else w.weights)[:plan.eligible]
    records: list[tuple[int, int, int, int]] = []
    if plan.sampled:
        people = rng.choices(range(plan.eligible), cum_weights=cum, k=plan.sampled)
        hours = rng.choices(range(24), weights=_HOUR_WEIGHTS, k=plan.sampled)
        codes = rng.choices(range(len(EVENT_NAMES)), weights=_EVENT_WEIGHTS, k=plan.sampled)
        for person, hour, code in zip(people, hours, codes, strict=True):
            ms = hour * 3_600_000 + rng.randrange(3_600_000)
            records.append((ms, code, person, rng.getrandbits(32)))
    # Who signed up that day: signed_up when the person was created, then a few pageviews.
    for person, pageviews in enumerate(plan.signups, start=plan.eligible):
        at = w.created_ms[person] - start
        records.append((at, _SIGNED_UP, person, rng.getrandbits(32)))
        for _ in range(pageviews):
            records.append((rng.randrange(at, _DAY_MS), _PAGEVIEW, person, rng.getrandbits(32)))
    records.sort()
    ms_column, previous = array("q"), -1
    for record in records:
        previous = max(record[0], previous + 1)  # every event its own millisecond: a total order
        ms_column.append(previous)
    return DayEvents(
        day, ms_column, array("B", (r[1] for r in records)), array("l", (r[2] for r in records)),
        array("L", (r[3] for r in records)),
    )


def total_events(today: date) -> int:
    """How many events the demo has on `today` (all 30 days)."""
    first, _ = window(today)
    return sum(day_size(today, first + timedelta(days=k)) for k in range(EVENT_DAYS))


def reset_caches() -> None:
    """Forget every generated world and day (tests use it to show that generating again gives the same)."""
    world.cache_clear()
    _plan.cache_clear()
    day_events.cache_clear()
    _matching.cache_clear()


class _Event:
    """One event of a day, its fields built when asked."""

    __slots__ = ("_day", "_i", "_world", "_props")

    def __init__(self, w: World, day: DayEvents, i: int) -> None:
        self._world, self._day, self._i = w, day, i
        self._props: dict[str, Any] | None = None

    @property
    def person(self) -> DemoPerson:
        return self._world.persons[self._day.person[self._i]]

    @property
    def event(self) -> str:
        return EVENT_NAMES[self._day.event[self._i]]

    @property
    def timestamp(self) -> datetime:
        start = datetime.combine(self._day.day, time(), tzinfo=UTC)
        return start + timedelta(milliseconds=self._day.ms[self._i])

    @property
    def uuid(self) -> str:
        unix_ms = _epoch_ms(self.timestamp)
        # unique by day and position; the rest drawn, so that ids look like PostHog's UUIDv7s
        tail = (self._day.draw[self._i] >> 12 & 0xFFFFF) << 42 | self._day.day.toordinal() << 20 | self._i
        value = unix_ms << 80 | 0x7 << 76 | (self._day.draw[self._i] & 0xFFF) << 64 | 0b10 << 62 | tail
        return str(uuid.UUID(int=value))

    @property
    def properties(self) -> dict[str, Any]:
        if self._props is None:
            self._props = _event_properties(self.event, self.person, self._day.draw[self._i])
        return self._props

    def field(self, name: str) -> Any:
        """A column of the event: a field, `properties` (JSON), `properties.<name>`, `person.properties.<name>`."""
        if name == "timestamp":
            return iso(self.timestamp)
        if name == "event":
            return self.event
        if name == "distinct_id":
            return self.person.distinct_ids[0]
        if name == "person_id":
            return self.person.id
        if name == "uuid":
            return self.uuid
        if name == "properties":
            return json.dumps(self.properties, separators=(",", ":"))
        if name == "properties.$browser":  # the common filters, without building the properties
            return self.person.browser
        if name == "properties.$os":
            return self.person.os
        if name == "properties.$device_type":
            return self.person.device
        if name.startswith("properties."):
            return self.properties.get(name[len("properties."):])
        if name.startswith("person.properties."):
            return self.person.properties.get(name[len("person.properties."):])
        raise _unknown_column(name, "events")


def _event_properties(event: str, person: DemoPerson, draw: int) -> dict[str, Any]:
    path = _PATHS[draw % len(_PATHS)]
    product, price = _PRODUCTS[(draw >> 8) % len(_PRODUCTS)]
    if event in ("added_to_cart", "purchase"):
        path = f"/products/{product}" if event == "added_to_cart" else "/checkout"
    elif event == "checkout_started":
        path = "/cart"
    elif event == "signed_up":
        path = "/signup"
    elif event == "searched":
        path = "/search"
    properties: dict[str, Any] = {
        "$current_url": f"https://{SITE_HOST}{path}",
        "$pathname": path,
        "$host": SITE_HOST,
        "$browser": person.browser,
        "$os": person.os,
        "$device_type": person.device,
        "$lib": "web",
        "$referring_domain": _REFERRERS[(draw >> 4) % len(_REFERRERS)],
        "$groups": {"organization": person.org_key},
    }
    if event in ("$autocapture", "$rageclick"):
        properties["$event_type"] = "click"
        properties["$el_text"] = _CLICK_TEXTS[(draw >> 12) % len(_CLICK_TEXTS)]
    elif event == "searched":
        properties["query"] = _SEARCHES[(draw >> 12) % len(_SEARCHES)]
    elif event in ("added_to_cart", "checkout_started"):
        properties["product"] = product
        properties["price"] = price
    elif event == "purchase":
        quantity = 1 + (draw >> 16) % 3
        properties.update(product=product, quantity=quantity, revenue=round(price * quantity, 2), currency="USD")
    elif event == "signed_up":
        properties["plan"] = person.properties["plan"]
    return properties


# --- where, the demo's subset -----------------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"\s*(?P<field>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$0-9][\w$]*)*)\s*(?P<op>!=|==|=)\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*",
    re.S,
)
_AND = re.compile(r"AND\b", re.I)
_UNESCAPE = re.compile(r"\\(.)", re.S)
_UNESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "a": "\a", "v": "\v"}

_WHERE_FIELDS = {
    "events": ("event", "distinct_id", "properties.<name>", "person.properties.<name>"),
    "persons": ("id", "distinct_id", "properties.<name>"),
    "cohort": ("id", "distinct_id", "properties.<name>"),
    "groups": ("key", "properties.<name>"),
}

Clause = tuple[str, bool, str]  # field, equal (True) or not equal, value


def parse_where(text: str | None, kind: str) -> tuple[Clause, ...]:
    """The demo's reading of a `where` (see the module's notes); raises InvalidDataQuery for anything else."""
    if text is None or not text.strip():
        return ()
    fields = _WHERE_FIELDS[kind]
    refusal = InvalidDataQuery(
        "The demo project understands only simple filters: "
        + ", ".join(f"{f} = '...'" for f in fields)
        + " (or !=), joined by AND, e.g. event = '$pageview' AND properties.$browser = 'Chrome'. "
        "Connect a PostHog project to filter with any HogQL expression."
    )
    clauses: list[Clause] = []
    position = 0
    while True:
        m = _CLAUSE.match(text, position)
        if m is None:
            raise refusal
        name = m["field"]
        allowed = name in fields or (
            name.startswith("properties.") and "properties.<name>" in fields
        ) or (name.startswith("person.properties.") and "person.properties.<name>" in fields)
        if not allowed:
            raise refusal
        value = _UNESCAPE.sub(lambda e: _UNESCAPES.get(e[1], e[1]), m["value"])
        clauses.append((name, m["op"] != "!=", value))
        position = m.end()
        if position == len(text):
            return tuple(clauses)
        and_ = _AND.match(text, position)
        if and_ is None:
            raise refusal
        position = and_.end()


def _matches(value: Any, equal: bool, wanted: str) -> bool:
    text = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
    return (text == wanted) is equal


# --- pages -----------------------------------------------------------------------------------------------------


def _unknown_column(name: str, kind: str) -> PostHogError:
    known = {
        "events": "timestamp, event, distinct_id, person_id, uuid, properties, properties.<name> and "
                  "person.properties.<name>",
        "persons": "id, created_at, distinct_ids, is_identified, properties and properties.<name>",
        "groups": "key, index, created_at, updated_at, properties and properties.<name>",
    }[kind if kind != "cohort" else "persons"]
    return PostHogError(f"The demo project has no column “{name[:60]}” for {kind}. It has {known}.", status=400)


def demo_now(today: date) -> datetime:
    """The demo's "now": the midnight its data ends at."""
    return datetime.combine(today, time(), tzinfo=UTC)


@lru_cache(maxsize=256)
def _matching(
    today: date, day: date, lo: int, hi: int, codes: tuple[int, ...] | None, clauses: tuple[Clause, ...]
) -> array:
    """Positions, in `day`, of the events from `lo` to `hi` ms into the day that pass the filters."""
    events = day_events(today, day)
    first, last = bisect_left(events.ms, lo), bisect_left(events.ms, hi)
    positions = list(range(first, last))
    if codes is not None:
        wanted = set(codes)
        positions = [i for i in positions if events.event[i] in wanted]
    if clauses:
        w = world(today)
        positions = [
            i for i in positions
            if all(_matches(_Event(w, events, i).field(f), equal, v) for f, equal, v in clauses)
        ]
    return array("l", positions)


def data_page(query: DataQuery, limit: int, offset: int, *, today: date) -> RowPage:
    """Rows `offset` to `offset + limit - 1` of `query` in the demo project on `today`, answered natively."""
    query.validate()
    if limit < 1 or offset < 0:
        raise ValueError("limit must be at least 1 and offset at least 0")
    clauses = parse_where(query.where, query.kind)
    columns = list(query.effective_columns)
    start, end = time_bounds(query, demo_now(today))
    if query.kind == "events":
        return _event_page(query, columns, clauses, start, end, limit, offset, today)
    w = world(today)
    if query.kind == "groups":
        if query.group_type_index not in GROUP_TYPES:
            types = ", ".join(f"{i} ({n})" for i, n in GROUP_TYPES.items())
            raise PostHogNotFound(
                f"Group type {query.group_type_index} is not set up in the demo project. It has {types}.", status=404
            )
        getters = [_group_getter(c) for c in columns]
        found = [g for g in w.groups if _in_range(g.created_at, start, end)
                 and all(_matches(_group_field(g, f), eq, v) for f, eq, v in clauses)]
        rows = [[get(g) for get in getters] for g in found[offset:offset + limit]]
        return RowPage(columns, rows, offset + limit < len(found), offset)
    if query.kind == "cohort" and query.cohort_id not in COHORTS:
        cohorts = ", ".join(f"{i} ({n})" for i, n in COHORTS.items())
        raise PostHogNotFound(
            f"Cohort {query.cohort_id} was not found in the demo project. Demo cohorts: {cohorts}.", status=404
        )
    person_getters = [_person_getter(c, query.kind) for c in columns]
    members: Callable[[DemoPerson], bool] = (
        (lambda p: True) if query.kind == "persons"
        else (lambda p: p.paying) if query.cohort_id == 1
        else (lambda p: p.churn_risk)
    )
    chosen = [p for p in w.persons if members(p) and _in_range(p.created_at, start, end)
              and all(_matches(_person_field(p, f), eq, v) for f, eq, v in clauses)]
    rows = [[get(p) for get in person_getters] for p in chosen[offset:offset + limit]]
    return RowPage(columns, rows, offset + limit < len(chosen), offset)


def _in_range(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment < end)


def _event_page(
    query: DataQuery, columns: list[str], clauses: tuple[Clause, ...], start: datetime | None,
    end: datetime | None, limit: int, offset: int, today: date,
) -> RowPage:
    w = world(today)
    for column in columns:  # refuse an unknown column even when no row would show it
        if not (column in ("timestamp", "event", "distinct_id", "person_id", "uuid", "properties")
                or column.startswith(("properties.", "person.properties."))):
            raise _unknown_column(column, "events")
    codes = None
    if query.events:
        codes = tuple(sorted({_EVENT_CODE[e] for e in query.events if e in _EVENT_CODE}))
    first, _ = window(today)
    rows: list[list[Any]] = []
    skip, has_more = offset, False
    for k in range(EVENT_DAYS):
        day = first + timedelta(days=k)
        day_start = datetime.combine(day, time(), tzinfo=UTC)
        lo = 0 if start is None else max(0, _epoch_ms(start) - _epoch_ms(day_start))
        hi = _DAY_MS if end is None else min(_DAY_MS, _epoch_ms(end) - _epoch_ms(day_start))
        if lo >= hi:
            continue
        if codes is None and not clauses and lo == 0 and hi == _DAY_MS and skip >= day_size(today, day):
            skip -= day_size(today, day)  # a whole day before the page: counted, not generated
            continue
        positions = _matching(today, day, lo, hi, codes, clauses)
        if not positions:
            continue
        if len(rows) == limit:  # the page is full and more rows follow
            has_more = True
            break
        if skip >= len(positions):
            skip -= len(positions)
            continue
        events = day_events(today, day)
        taken = positions[skip:skip + limit - len(rows)]
        read_to, skip = skip + len(taken), 0
        for i in taken:
            event = _Event(w, events, i)
            rows.append([event.field(c) for c in columns])
        if len(rows) == limit and read_to < len(positions):
            has_more = True
            break
    return RowPage(columns, rows, has_more, offset)


def _person_field(person: DemoPerson, name: str) -> Any:
    if name == "id":
        return person.id
    if name == "distinct_id":
        return person.distinct_ids[0]
    if name.startswith("properties."):
        return person.properties.get(name[len("properties."):])
    return None


def _person_getter(name: str, kind: str) -> Callable[[DemoPerson], Any]:
    if name == "id":
        return lambda p: p.id
    if name == "created_at":
        return lambda p: iso(p.created_at)
    if name == "distinct_ids":
        return lambda p: list(p.distinct_ids)
    if name == "is_identified":
        return lambda p: True
    if name == "properties":
        return lambda p: json.dumps(p.properties, separators=(",", ":"))
    if name.startswith("properties."):
        key = name[len("properties."):]
        return lambda p: p.properties.get(key)
    raise _unknown_column(name, kind)


def _group_field(group: DemoGroup, name: str) -> Any:
    if name == "key":
        return group.key
    if name.startswith("properties."):
        return group.properties.get(name[len("properties."):])
    return None


def _group_getter(name: str) -> Callable[[DemoGroup], Any]:
    if name == "key":
        return lambda g: g.key
    if name == "index":
        return lambda g: 0
    if name in ("created_at", "updated_at"):
        return lambda g: iso(g.created_at)
    if name == "properties":
        return lambda g: json.dumps(g.properties, separators=(",", ":"))
    if name.startswith("properties."):
        key = name[len("properties."):]
        return lambda g: g.properties.get(key)
    raise _unknown_column(name, "groups")
