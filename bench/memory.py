"""Memory benchmark: the resident memory of a renderer and its browsers after 100 renders and after 1,000.

    .venv/bin/python bench/memory.py [--renders 1000] [--early 100] [--every 100] [--scale S] [--trace]

A `render.Renderer` with the pool `serve` gets from its settings (RENDER_POOL_SIZE: 0, one session per core and at
most 4; RENDER_RECYCLE_AFTER: 200 renders before a session's browser is replaced; RENDER_SCALE), renders the
insights of tests/fixtures/posthog/insights and ../shared/posthog-fixtures/insights (the real PostHog payloads,
normalized as the service does) in a loop, as many at once as the pool has sessions, as the scheduler does.

Resident memory (VmRSS, from /proc) is summed over this Python process and every process below it: each session's
chromedriver and its Chromium tree (browser, GPU, renderer and utility processes). A page shared by several
processes counts in each; the PSS sum (smaps_rollup: shared pages divided among their processes) is printed beside.
Printed every --every renders, and the comparison: after --early renders against after --renders, with the ratio
(goal: within 10%), both for the whole and for the Python process alone. The baseline is the same sum before the
first render (warm pool, no page drawn yet). With --trace, tracemalloc compares the Python heap between the two
points and prints where it grew (it slows the renders; the RSS figures of a --trace run are not the ones to report).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from standins import descendants, rss_bytes  # noqa: E402

from core.settings import Settings  # noqa: E402
from posthog_api.normalize import normalize_insight  # noqa: E402
from render import Renderer  # noqa: E402
from render.errors import RenderError  # noqa: E402

FOLDERS = [REPO / "tests" / "fixtures" / "posthog" / "insights",
           REPO.parent / "shared" / "posthog-fixtures" / "insights"]
GOAL = 0.10


def load_insights() -> list:
    """Every fixture insight that normalizes, once each by file name (the repository's copy first)."""
    found, names = [], set()
    for folder in FOLDERS:
        for path in sorted(folder.glob("*.json")) if folder.exists() else []:
            if path.name in names:
                continue
            try:
                found.append((path.stem, normalize_insight(json.loads(path.read_text(encoding="utf-8")))))
                names.add(path.name)
            except Exception as exc:  # noqa: BLE001 - a payload this version cannot read is left out, and said
                print(f"  left out {path.name}: {type(exc).__name__}: {exc}"[:160])
    if not found:
        raise SystemExit(f"no insight fixtures in {', '.join(map(str, FOLDERS))}")
    return found


def _kind(pid: int) -> str:
    """What a process is: its name, and Chromium's `--type` (renderer, gpu-process, utility...) when it has one."""
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        found = re.search(rb"--type=([\w-]+)", Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return "?"
    return f"{name} ({found.group(1).decode()})" if found else name


def _pss(pid: int) -> int:
    """Proportional set size (shared pages divided among the processes sharing them), from smaps_rollup."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def memory() -> tuple[int, int, Counter, int, int]:
    """(RSS of this process and its descendants summed, this process's RSS, RSS by process kind, processes,
    PSS of them all summed)."""
    me = os.getpid()
    own = rss_bytes(me)
    by_kind: Counter = Counter()
    children = descendants(me)
    for pid in children:
        by_kind[_kind(pid)] += rss_bytes(pid)
    return own + sum(by_kind.values()), own, by_kind, len(children), sum(_pss(p) for p in [me, *children])


def mib(n: int) -> str:
    return f"{n / 2**20:7.1f} MiB"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=1000)
    parser.add_argument("--early", type=int, default=100, help="the first measurement compared")
    parser.add_argument("--every", type=int, default=100, help="print the memory every N renders")
    parser.add_argument("--scale", type=float, default=None, help="RENDER_SCALE (default: the setting's)")
    parser.add_argument("--trace", action="store_true", help="where the Python heap grew (tracemalloc; slower)")
    args = parser.parse_args()
    command_line = shlex.join([".venv/bin/python", "bench/memory.py", *sys.argv[1:]])

    settings = Settings(**({"render_scale": args.scale} if args.scale else {}))
    insights = load_insights()
    samples: dict[int, tuple[int, int, Counter, int, int]] = {}
    failures: Counter = Counter()
    early_snapshot = late_snapshot = None
    if args.trace:
        tracemalloc.start(15)
    started = time.perf_counter()
    async with Renderer(settings) as renderer:
        size = renderer.pool.config.size
        print(f"pool: {size} sessions, a browser replaced every {settings.render_recycle_after} renders, scale "
              f"{settings.render_scale:g}; {len(insights)} insights in turn")
        samples[0] = memory()
        print(f"  before the first render: {mib(samples[0][0])} in {samples[0][3] + 1} processes")
        counter = iter(range(args.renders))
        done = 0

        async def session_loop() -> None:
            nonlocal done, early_snapshot, late_snapshot
            for n in counter:
                name, insight = insights[n % len(insights)]
                try:
                    await renderer.render_insight(insight)
                except RenderError as exc:
                    failures[f"{name}: {type(exc).__name__}"] += 1
                done += 1
                if done % args.every == 0 or done in (args.early, args.renders):
                    samples[done] = memory()
                    total, own, _, processes, pss = samples[done]
                    print(f"  after {done:5d} renders: {mib(total)} (Python {mib(own)}; PSS {mib(pss)}) in "
                          f"{processes + 1} processes"
                          f"  [{time.perf_counter() - started:.0f}s]", flush=True)
                    if args.trace and done == args.early:
                        early_snapshot = tracemalloc.take_snapshot()
                    if args.trace and done == args.renders:
                        late_snapshot = tracemalloc.take_snapshot()

        await asyncio.gather(*(session_loop() for _ in range(max(1, size))))

    early, late = samples[args.early], samples[args.renders]
    ratio, own_ratio = late[0] / early[0], late[1] / early[1]
    print()
    print("=" * 100)
    print(f"bench/memory.py: {command_line}")
    print(f"  {args.renders} renders in {time.perf_counter() - started:.0f}s on {os.cpu_count()} CPU cores, shared; "
          f"failed renders: {sum(failures.values())}{' ' + str(dict(failures)) if failures else ''}")
    for label, sample in (("baseline (warm pool, nothing drawn)", samples[0]), (f"after {args.early} renders", early),
                          (f"after {args.renders} renders", late)):
        print(f"{label:<36} RSS {mib(sample[0])} (Python {mib(sample[1])}), PSS {mib(sample[4])}")
    print(f"ratio {args.renders} / {args.early}: RSS {ratio:.3f} (Python alone {own_ratio:.3f}, PSS "
          f"{late[4] / early[4]:.3f}); goal within "
          f"{GOAL:.0%}: {'OK' if abs(ratio - 1) <= GOAL else 'OVER'}")
    print("by process kind, after each (MiB):")
    for kind in sorted(set(early[2]) | set(late[2])):
        print(f"  {kind:<40} {early[2][kind] / 2**20:7.1f} -> {late[2][kind] / 2**20:7.1f}")
    if early_snapshot is not None and late_snapshot is not None:
        print("Python heap growth between the two (tracemalloc, top 10):")
        for stat in late_snapshot.compare_to(early_snapshot, "traceback")[:10]:
            frame = stat.traceback[-1] if stat.traceback else None
            print(f"  {stat.size_diff / 1024:+9.1f} KiB in {stat.count_diff:+6d} blocks  {frame}")
    print("=" * 100)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
