"""Export benchmark: a million events from PostHog's query API to CSV and to Excel, streamed, against a naive
export that loads every row before writing.

    .venv/bin/python bench/export.py [--rows 1000000] [--page-size 10000] [--runs 3] [--naive-runs 1]
                                     [--formats csv,xlsx] [--libraries]

A stand-in PostHog runs in a process of its own on 127.0.0.1 (port 0) and answers
POST /api/projects/{id}/query/ with {"query": {"kind": "HogQLQuery", "query": "... LIMIT n OFFSET m"}} as
PostHog does ({"columns", "types", "results", "hasMore"}), with events made from their position (the same rows
every run). PostHog's work happens on another machine, not in the export's time: the stand-in makes each page
once, when the benchmark reads them all before it measures, and then only sends it.

Each export runs in a fresh process, which reads the pages with aiohttp (one page read ahead while the previous
one is written), turns the timestamps into dates for the workbook (a CSV keeps PostHog's ISO text), writes the
file with `exports.write_csv` or `exports.write_xlsx`, and reports its rows per second and its peak resident
memory (VmHWM, beside the memory it had once its imports were done).

The naive export reads the same pages into one list first, then writes that list with the same writer. With
--libraries the workbook is also written through openpyxl's write-only mode, and XlsxWriter's constant-memory
mode when it is installed, from the same streamed rows: the measurements behind writing the workbook ourselves.

Prints the median of the runs for each, and the ratios of streamed to naive. Targets, for a million rows:
CSV >= 100,000 rows/s, XLSX >= 25,000 rows/s, peak RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROJECT_ID = 1
COLUMNS = ["timestamp", "event", "distinct_id", "person_id", "properties.$current_url", "properties.$browser",
           "properties.$os", "uuid"]
TYPES = ["DateTime64(6, 'UTC')", "String", "String", "UUID", "String", "String", "String", "UUID"]
EVENTS = ["$pageview", "$autocapture", "$pageleave", "signed_up", "insight viewed", "$rageclick"]
BROWSERS = ["Chrome", "Safari", "Firefox", "Edge", "Mobile Safari"]
SYSTEMS = ["Mac OS X", "Windows", "Linux", "iOS", "Android"]
PATHS = ["", "pricing", "docs/getting-started", "blog/how-we-ship", "signup?plan=team&ref=ad", "product/analytics"]
START = datetime(2026, 1, 5, tzinfo=UTC)
LIMIT_OFFSET = re.compile(r"\bLIMIT\s+(\d+)\s+OFFSET\s+(\d+)\s*$", re.IGNORECASE)
TARGETS = {"csv": 100_000, "xlsx": 25_000}
MAX_RSS_MB = 150


# --- the stand-in PostHog -------------------------------------------------------------------------------------


def event_row(i: int) -> list[Any]:
    """Event number i, the same every time it is asked for."""
    moment = START + timedelta(microseconds=i * 250_123)
    person = (i * 7919) % 50_000
    return [
        moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        EVENTS[i % len(EVENTS)],
        f"user-{person}",
        f"0188f4a2-{person:04x}-7000-8000-{person:012x}",
        f"https://app.example.com/{PATHS[i % len(PATHS)]}",
        BROWSERS[(i // 3) % len(BROWSERS)],
        SYSTEMS[(i // 7) % len(SYSTEMS)],
        f"0190{i:04x}-0000-7000-8000-{i:012x}"[-36:],
    ]


def serve(total: int) -> None:
    """The stand-in's process: prints its port, then serves until its standard input closes."""
    from aiohttp import web

    # PostHog answers from another machine: its work is not the export's. Each page is made once, the first time
    # it is asked for (the benchmark asks for every page once before it measures), and then only sent.
    made: dict[tuple[int, int], bytes] = {}

    async def query(request: web.Request) -> web.Response:
        body = await request.json()
        text = body["query"]["query"]
        match = LIMIT_OFFSET.search(text)
        if body["query"].get("kind") != "HogQLQuery" or match is None:
            return web.json_response({"type": "validation_error", "detail": "Expected a HogQLQuery with LIMIT and "
                                      "OFFSET."}, status=400)
        limit, offset = int(match.group(1)), int(match.group(2))
        if (limit, offset) not in made:
            end = min(offset + limit, total)
            payload = {"columns": COLUMNS, "types": TYPES, "results": [event_row(i) for i in range(offset, end)],
                       "hasMore": end < total}
            made[(limit, offset)] = json.dumps(payload, separators=(",", ":")).encode()
        return web.Response(body=made[(limit, offset)], content_type="application/json")

    async def main() -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/api/projects/{project_id}/query/", query)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
        await runner.cleanup()

    asyncio.run(main())


# --- one export, in a fresh process ----------------------------------------------------------------------------


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def pages(url: str, page_size: int, read_ahead: bool = True):
    """Events a page at a time from the query API, as the export reads them (a page more than asked for would
    tell whether another follows; hasMore says it here). With `read_ahead`, the next page is on its way while
    the caller writes this one."""
    import aiohttp

    endpoint = f"{url}/api/projects/{PROJECT_ID}/query/"
    select = f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY timestamp ASC, uuid ASC"
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer phx_bench"}) as session:

        async def fetch(offset: int) -> dict[str, Any]:
            body = {"query": {"kind": "HogQLQuery", "query": f"{select} LIMIT {page_size} OFFSET {offset}"}}
            async with session.post(endpoint, json=body) as response:
                response.raise_for_status()
                return json.loads(await response.read())

        offset = 0
        pending = asyncio.ensure_future(fetch(offset))
        try:
            while True:
                page = await pending
                rows = page["results"]
                offset += len(rows)
                more = page["hasMore"] and bool(rows)
                if more:
                    pending = asyncio.ensure_future(fetch(offset))
                    if not read_ahead:
                        await asyncio.wait([pending])
                yield page["columns"], rows
                if not more:
                    return
        finally:
            if not pending.done():
                pending.cancel()


async def warm_up(url: str, page_size: int) -> None:
    async for _ in pages(url, page_size):
        pass


async def rows_of(url: str, page_size: int):
    async for _, rows in pages(url, page_size):
        for row in rows:
            yield row


async def library_xlsx(library: str, rows, path: Path, max_rows: int) -> int:
    """The same workbook (one sheet, bold header, dates, neutralized text) through a library's streaming mode."""
    from exports import neutralize

    count = 0
    if library == "openpyxl":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Events")
        sheet.freeze_panes = "A2"
        header = []
        for name in COLUMNS:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        async for row in rows:
            if count >= max_rows:
                break
            values = [neutralize(v) for v in row]
            values[0] = values[0].replace(tzinfo=None)  # UTC; a workbook has no time zones
            sheet.append(values)
            count += 1
        book.save(path)
        return count
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_numbers": False, "strings_to_urls": False})
    sheet = book.add_worksheet("Events")
    sheet.freeze_panes(1, 0)
    sheet.write_row(0, 0, COLUMNS, book.add_format({"bold": True}))
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    async for row in rows:
        if count >= max_rows:
            break
        count += 1
        sheet.write_datetime(count, 0, row[0].replace(tzinfo=None), stamp)
        for i, value in enumerate(row[1:], 1):
            sheet.write(count, i, neutralize(value))
    book.close()
    return count


async def export(mode: str, fmt: str, url: str, page_size: int, total: int, path: Path) -> dict[str, Any]:
    from exports import WRITERS, Table, with_dates

    rss_ready = peak_rss_mb()
    started = time.perf_counter()
    source = rows_of(url, page_size)
    if fmt == "xlsx":  # real dates in a workbook; a CSV keeps PostHog's timestamp text, which is already ISO
        source = with_dates(source, [0])
    if mode == "streamed":
        written = await WRITERS[fmt](Table("Events", list(COLUMNS), source), path, max_rows=total)
        rows = written.rows
    elif mode == "naive":
        everything = [row async for row in source]
        written = await WRITERS[fmt](Table("Events", list(COLUMNS), everything), path, max_rows=total)
        rows = written.rows
    else:  # a library's streaming mode
        rows = await library_xlsx(mode, source, path, total)
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, "peak_rss_mb": peak_rss_mb(),
            "rss_after_imports_mb": rss_ready, "bytes": path.stat().st_size}


def run_worker(mode: str, fmt: str, url: str, page_size: int, total: int, folder: Path) -> dict[str, Any]:
    path = folder / f"{mode}.{fmt}"
    command = [sys.executable, __file__, "--worker", mode, fmt, url, str(page_size), str(total), str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} {fmt} export failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rows"] != total:
        raise SystemExit(f"{mode} {fmt} export wrote {result['rows']} rows, not {total}")
    path.unlink(missing_ok=True)
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        mode, fmt, url, page_size, total, path = sys.argv[2:8]
        result = asyncio.run(export(mode, fmt, url, int(page_size), int(total), Path(path)))
        print(json.dumps(result))
        return

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each streamed export (the median is shown)")
    parser.add_argument("--naive-runs", type=int, default=1, help="runs of each naive export")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--libraries", action="store_true", help="also write the workbook with openpyxl (and "
                        "XlsxWriter when installed), streamed")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]

    server = subprocess.Popen([sys.executable, __file__, "--serve", str(args.rows)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        print(f"{args.rows:,} events from a stand-in PostHog at {url}, pages of {args.page_size:,}; "
              f"each export in a fresh process (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")
        asyncio.run(warm_up(url, args.page_size))  # the stand-in makes its pages once, before anything is timed
        plan: list[tuple[str, str, int]] = []
        for fmt in formats:
            plan += [("streamed", fmt, args.runs), ("naive", fmt, args.naive_runs)]
        if args.libraries and "xlsx" in formats:
            plan.append(("openpyxl", "xlsx", args.naive_runs))
            try:
                import xlsxwriter  # noqa: F401
                plan.append(("xlsxwriter", "xlsx", args.naive_runs))
            except ImportError:
                print("(XlsxWriter is not installed: its constant-memory mode is left out)\n")
        results: dict[tuple[str, str], dict[str, float]] = {}
        with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
            for mode, fmt, runs in plan:
                measured = [run_worker(mode, fmt, url, args.page_size, args.rows, Path(folder)) for _ in range(runs)]
                summary = {key: statistics.median(m[key] for m in measured)
                           for key in ("rows_per_s", "seconds", "peak_rss_mb", "rss_after_imports_mb", "bytes")}
                results[(mode, fmt)] = summary
                print(f"{fmt:<5} {mode:<10} {summary['rows_per_s']:>10,.0f} rows/s  {summary['seconds']:6.2f} s  "
                      f"peak RSS {summary['peak_rss_mb']:7.1f} MB (after imports {summary['rss_after_imports_mb']:.1f})"
                      f"  file {summary['bytes'] / 1e6:6.1f} MB  (median of {runs})", flush=True)
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(timeout=30)

    print()
    for fmt in formats:
        streamed, naive = results[("streamed", fmt)], results[("naive", fmt)]
        meets = streamed["rows_per_s"] >= TARGETS[fmt] and streamed["peak_rss_mb"] <= MAX_RSS_MB
        print(f"{fmt}: streamed/naive speed {streamed['rows_per_s'] / naive['rows_per_s']:.2f}x, "
              f"naive/streamed peak RSS {naive['peak_rss_mb'] / streamed['peak_rss_mb']:.1f}x; target "
              f">= {TARGETS[fmt]:,} rows/s and <= {MAX_RSS_MB} MB: {'met' if meets else 'NOT met'}")
    for library in ("openpyxl", "xlsxwriter"):
        if (library, "xlsx") in results and ("streamed", "xlsx") in results:
            ours, theirs = results[("streamed", "xlsx")], results[(library, "xlsx")]
            print(f"xlsx: ours/{library} speed {ours['rows_per_s'] / theirs['rows_per_s']:.2f}x, peak RSS "
                  f"{ours['peak_rss_mb']:.0f} vs {theirs['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
