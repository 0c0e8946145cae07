"""chromedriver and Chromium die with the process that started them: SIGKILLed, exiting without clean-up or closing
the renderer, and also after the threads that started them are gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import asyncio, concurrent.futures, os, sys, time
from core.settings import Settings
from render import Renderer

mode = sys.argv[1]

async def main():
    loop = asyncio.get_running_loop()
    starters = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="starter")
    loop.set_default_executor(starters)
    async with Renderer(Settings(), pool_size=1) as renderer:
        (session,) = renderer.pool.sessions
        if mode == "threads":
            # The worker threads that started the session end; chromedriver must outlive them.
            loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(thread_name_prefix="later"))
            starters.shutdown(wait=True)
            time.sleep(1)
            assert await asyncio.to_thread(session.driver.execute_script, "return 41 + 1") == 42
        print("ready", session.chromedriver_pid, flush=True)
        sys.stdin.readline()  # the test has looked at the process tree
        if mode == "abandon":
            os._exit(0)  # no clean-up at all, but no signal either
    print("closed", flush=True)

asyncio.run(main())
"""


def _parents() -> dict[int, int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def _tree(root: int) -> set[int]:
    parents = _parents()
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _assert_all_gone(pids: set[int], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while alive := {pid for pid in pids if _alive(pid)}:
        if time.monotonic() > deadline:
            for pid in alive:  # leave nothing behind for the next test, then fail
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise AssertionError(f"processes {sorted(alive)} of {sorted(pids)} still run {within:g}s later")
        time.sleep(0.05)


def _start(mode: str) -> tuple[subprocess.Popen[str], set[int]]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.startswith("ready "):
        child.kill()
        child.wait(10)
        pytest.fail(f"the child did not start a renderer: {line!r}")
    driver = int(line.split()[1])
    assert _alive(driver)
    assert len(_tree(driver)) > 1, "chromedriver has no Chromium child"
    return child, _tree(child.pid) - {child.pid}  # chromedriver, Chromium and its helpers, the watchdog


@pytest.mark.parametrize("mode", ["kill", "threads"])
def test_a_sigkilled_process_leaves_no_chromedriver_or_chromium(mode: str) -> None:
    child, browsers = _start(mode)
    child.kill()
    child.wait(10)
    _assert_all_gone(browsers)


@pytest.mark.parametrize("mode", ["close", "abandon"])
def test_a_process_that_exits_leaves_no_chromedriver_or_chromium(mode: str) -> None:
    child, browsers = _start(mode)
    out, _ = child.communicate("go\n", timeout=60)
    assert child.returncode == 0
    assert ("closed" in out) == (mode == "close")
    _assert_all_gone(browsers)
