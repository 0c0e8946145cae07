"""The `render` command: an insight or a dashboard to PNG files, from PostHog (the demo project by default)
or from a JSON payload saved from PostHog's API.

    render insight 1001 -o signups.png
    render insight dm-pgvw -o out/
    render dashboard 42 -o out/
    render --from-file payload.json -o out.png      (an insight or a dashboard payload, detected)

Exit status: 0 when everything was drawn; 3 when the images were written but an insight or a tile was drawn as a
"not supported in exports yet" card (each is named on stderr); 2 for a usage error; 1 when nothing was rendered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from core.settings import get_settings
from posthog_api.content import Dashboard, Insight

from .errors import RenderError
from .formatting import zone
from .pages import PageOptions
from .renderer import Renderer
from .theme import THEME_NAMES
from .views import build_view

EXIT_UNSUPPORTED = 3


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "render",
        help="render an insight or a dashboard to PNG",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", nargs="?", choices=["insight", "dashboard"], help="what to render")
    parser.add_argument("ref", nargs="?", help="insight id or short id, or dashboard id")
    parser.add_argument("--from-file", type=Path, metavar="PAYLOAD.json", help="a PostHog API payload to render")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="PNG file, or a folder (a dashboard always needs one)"
    )
    parser.add_argument("--width", type=int, help="CSS width in pixels (insight default 1000, dashboard 1200)")
    parser.add_argument("--scale", type=float, help="device scale factor: 1 or 2 (default 2)")
    parser.add_argument("--theme", choices=THEME_NAMES, default="light", help="light (default) or dark")
    parser.add_argument("--time-zone", metavar="ZONE", help='IANA zone of the "computed" time (default UTC)')
    parser.set_defaults(func=handle)
    return parser


def handle(args: argparse.Namespace) -> int:
    try:
        written, unsupported = asyncio.run(_run(args))
    except _UsageError as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 2
    except (RenderError, OSError) as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from posthog_api.errors import PostHogError

        if isinstance(exc, PostHogError):
            print(f"render: {exc}", file=sys.stderr)
            return 1
        raise
    for path in written:
        print(path)
    for line in unsupported:
        print(f'render: drawn as a "not supported" card: {line}', file=sys.stderr)
    return EXIT_UNSUPPORTED if unsupported else 0


def unsupported_parts(content: Insight | Dashboard) -> list[str]:
    """Each insight or tile drawn as a "not supported" card, named with why."""
    if isinstance(content, Insight):
        parts = [(f"insight {content.short_id or content.id}", content)]
    else:
        parts = [(f"tile {t.id}", t.insight) for t in content.tiles if t.insight is not None]
    found = []
    for ref, insight in parts:
        view = build_view(insight, 1000)
        if view.body == "unsupported":
            found.append(f'{ref} "{insight.name}": {view.message}')
    return found


class _UsageError(Exception):
    pass


async def _run(args: argparse.Namespace) -> tuple[list[Path], list[str]]:
    settings = get_settings()
    content = await _load(args, settings)
    unsupported = unsupported_parts(content)
    if args.time_zone and zone(args.time_zone) is None:
        raise _UsageError(f"{args.time_zone!r} is not an IANA time zone (e.g. Europe/London)")
    options = PageOptions(theme=args.theme, time_zone=args.time_zone)
    async with Renderer(settings, pool_size=1) as renderer:
        if isinstance(content, Insight):
            png = await renderer.render_insight(content, width=args.width, scale=args.scale, options=options)
            target = _insight_target(args.output, content)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(png)
            return [target], unsupported
        images = await renderer.render_dashboard(content, width=args.width, scale=args.scale, options=options)
    folder = args.output
    if folder.suffix.lower() == ".png":
        raise _UsageError("a dashboard renders to several images: give a folder to -o, e.g. -o out/")
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"dashboard-{content.id}.png"]
    written[0].write_bytes(images.full)
    for tile, png in images.tiles:
        path = folder / f"dashboard-{content.id}-tile-{tile.id}.png"
        path.write_bytes(png)
        written.append(path)
    return written, unsupported


def _insight_target(output: Path, insight: Insight) -> Path:
    if output.is_dir() or str(output).endswith(("/", "\\")) or not output.suffix:
        return output / f"insight-{insight.short_id or insight.id}.png"
    return output


async def _load(args: argparse.Namespace, settings) -> Insight | Dashboard:
    # Imported here: fetching content is this command's job, not the renderer's.
    from posthog_api import configured_connection, fetch, normalize_dashboard, normalize_insight

    if args.from_file is not None:
        if args.kind or args.ref:
            raise _UsageError("give either --from-file or `insight|dashboard ID`, not both")
        try:
            payload = json.loads(args.from_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise _UsageError(f"{args.from_file} is not JSON: {exc}") from None
        if isinstance(payload, dict) and isinstance(payload.get("tiles"), list):
            return normalize_dashboard(payload)
        return normalize_insight(payload)
    if not args.kind or not args.ref:
        raise _UsageError("say what to render: `render insight ID -o out.png` or `render dashboard ID -o DIR/`")
    if args.kind == "dashboard" and not args.ref.isdigit():
        raise _UsageError(f"a dashboard id is a number, not {args.ref!r}")
    return await fetch(configured_connection(settings), args.kind, args.ref, settings)


def main(argv: list[str] | None = None) -> int:
    """Run the command on its own: `python -m render.cli insight 1001 -o out.png`."""
    parser = argparse.ArgumentParser(prog="render")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["render", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
