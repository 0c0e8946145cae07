"""Regenerate docs/gallery/: one image per kind, display and table source, drawn from the test payloads.

    .venv/bin/python -m render.gallery            (writes docs/gallery/*.png and docs/gallery/README.md)

The payloads are PostHog's own shapes (tests/fixtures/posthog/insights and .../kinds, see their SOURCE.md), so
the gallery shows what a subscriber receives for each kind; a dark-theme image of one is added at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from core.settings import Settings
from posthog_api import normalize_insight

from .pages import PageOptions, insight_page
from .renderer import Renderer

REPO = Path(__file__).resolve().parents[1]
SOURCES = [REPO / "tests" / "fixtures" / "posthog" / "insights", REPO / "tests" / "fixtures" / "posthog" / "kinds"]
OUT = REPO / "docs" / "gallery"
WIDTH = 1000
DARK = "trendsLineFormatted"


async def build(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    payloads = sorted((p for folder in SOURCES for p in folder.glob("*.json")), key=lambda p: p.stem)
    entries: list[tuple[str, str, str]] = []
    async with Renderer(Settings(), pool_size=1) as renderer:
        jobs = [(p, PageOptions()) for p in payloads] + [
            (p, PageOptions(theme="dark")) for p in payloads if p.stem == DARK
        ]
        for path, options in jobs:
            insight = normalize_insight(json.loads(path.read_text(encoding="utf-8")))
            capture = await renderer.render_page(insight_page(insight, WIDTH, options), scale=1)
            name = path.stem + ("-dark" if options.theme == "dark" else "")
            (out / f"{name}.png").write_bytes(capture.full)
            entries.append((name, insight.kind.value, insight.name))
    lines = [
        "# Gallery",
        "",
        "One image per kind, display and table source, drawn from the test payloads by `python -m render.gallery`",
        "(regenerate after changing how anything is drawn). Payload sources: `tests/fixtures/posthog/*/SOURCE.md`.",
        "",
        "| payload | kind | image |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{name}` ({title}) | {kind} | ![{name}]({name}.png) |" for name, kind, title in entries]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [out / f"{name}.png" for name, _, _ in entries]


def main() -> int:
    for path in asyncio.run(build()):
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
