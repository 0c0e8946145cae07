"""A pool of long-lived Chromium sessions that turn exporter pages into PNG bytes.

Each session keeps one warm page (the "shell") with plotly.js already parsed. A render asks that page to
fetch a page spec from our server and draw it, waits for the page's readiness flag, measures the content and
captures exactly that rectangle through DevTools. WebDriver is blocking, so sessions run in worker threads;
the public API is async.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import ctypes
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.support.ui import WebDriverWait

from core import metrics
from core.retry import backoff_delay

from .errors import BrowserCrashed, RenderError, RenderTimeout

log = logging.getLogger(__name__)

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
    "--disable-extensions",
    "--mute-audio",
    "--force-color-profile=srgb",
    "--window-size=1200,900",
    # A headless page has no display to keep pace with: a screenshot need not wait for the next 60 Hz frame.
    "--disable-gpu-vsync",
    "--disable-frame-rate-limit",
]
WAIT_SLICE_MS = 250  # one readiness long-poll inside the page; WebDriverWait repeats it until the time-out
START_TIMEOUT_SECONDS = 30.0
# On a Selenium Grid the browser is behind two hops (hub, node), and a node can die or hang at any moment:
# * a new session is asked for until this long has passed. A node that died is still offered new sessions until
#   the hub's health check finds it down (every `--healthcheck-interval` seconds: 120 by default, 10 at least), and
#   each of those requests fails at once; the next ones land on a live node.
# * any other command gives up after this long (the longest legitimate ones, a page load and a readiness slice,
#   are bounded at START_TIMEOUT_SECONDS by the browser itself), so a hung node cannot hold a render forever;
# * releasing a session is a courtesy to the Grid: it waits little, and never holds up a render.
GRID_SESSION_WAIT_SECONDS = 60.0
GRID_COMMAND_TIMEOUT_SECONDS = 60.0
GRID_RELEASE_TIMEOUT_SECONDS = 5.0


# --- Browsers die with the process that started them -------------------------------------------------------------
#
# A process killed with SIGKILL runs no clean-up, so chromedriver and its Chromium would live on. Two mechanisms:
#
# * chromedriver gets PR_SET_PDEATHSIG(SIGKILL) in the child between fork and exec. The kernel sends it when the
#   *thread* that forked the child ends, not the process, so a driver started from an asyncio.to_thread worker would
#   die as soon as that worker thread exits (the loop's default executor shutting down). All chromedrivers are
#   therefore forked from one daemon thread (_Launcher) that lives exactly as long as the process.
# * Chromium is chromedriver's child and gets no parent-death signal (it survives chromedriver's SIGKILL, reparented
#   to init). chromedriver starts in a new session, so it, Chromium and Chromium's helpers share one process group,
#   and a tiny watchdog process (_Reaper, in its own session) SIGKILLs every registered group when its stdin pipe
#   reaches end-of-file: the write end lives only in this process, so the kernel closes it however this process dies,
#   whichever thread is alive. (Chromium's crashpad handlers leave the group but exit on their own with Chromium.)

_LINUX = sys.platform.startswith("linux")
_POSIX = os.name == "posix"
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if _LINUX else None  # resolved now: no dlopen after fork

_WATCHDOG = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


def _kill_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Reaper:
    """Process groups to SIGKILL when this process dies, kept by a watchdog process reading a pipe we hold."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self._fd: int | None = None  # the pipe's write end, a raw fd (no buffer a fork could duplicate)
        self._process: subprocess.Popen[bytes] | None = None

    def watch(self, group: int) -> None:
        with self._lock:
            self._groups.add(group)
            self._send(f"+{group}\n")

    def unwatch(self, group: int) -> None:
        with self._lock:
            if group in self._groups:
                self._groups.discard(group)
                self._send(f"-{group}\n")

    def _send(self, line: str) -> None:
        for _ in range(2):
            if self._fd is None:
                try:
                    self._spawn()
                except OSError as exc:
                    log.warning("the browser watchdog could not be started (%s); browsers may outlive a kill", exc)
                    return
                line = "".join(f"+{g}\n" for g in self._groups)  # a new watchdog learns every group
            try:
                if line:
                    os.write(self._fd, line.encode())  # type: ignore[arg-type]
                return
            except OSError:  # the watchdog is gone: start another
                os.close(self._fd)  # type: ignore[arg-type]
                self._fd = None
        log.warning("the browser watchdog could not be started; browsers may outlive a killed process")

    def _spawn(self) -> None:
        read_end, write_end = os.pipe()  # both non-inheritable: no other child keeps the write end open
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._fd = write_end

    def after_fork_in_child(self) -> None:
        # A forked child (multiprocessing) owns none of these browsers and must not keep the watchdog alive.
        if self._fd is not None:
            os.close(self._fd)
        self.__init__()  # type: ignore[misc]


class _Launcher:
    """One daemon thread that forks every chromedriver, so their parent-death signal means "this process died"."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None], concurrent.futures.Future[None]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():  # also after a fork, which keeps no threads
                self._jobs = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._serve, name="chromedriver-launcher", daemon=True)
                self._thread.start()
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._jobs.put((job, done))
        done.result()

    def _serve(self) -> None:
        jobs = self._jobs
        while True:
            job, done = jobs.get()
            try:
                job()
            except BaseException as exc:
                done.set_exception(exc)
            else:
                done.set_result(None)


_reaper = _Reaper()
_launcher = _Launcher()
if _POSIX:
    os.register_at_fork(after_in_child=_reaper.after_fork_in_child)


def _die_with_parent(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the forked child, before exec
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # type: ignore[misc]
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class _BoundService(Service):
    """chromedriver in its own process group, killed (group and all) when this process dies."""

    def __init__(self, executable_path: str) -> None:
        popen_kw: dict[str, Any] = {}
        if _POSIX:
            popen_kw["start_new_session"] = True
        super().__init__(executable_path, popen_kw=popen_kw)
        self._group: int | None = None

    def _start_process(self, path: str) -> None:
        if not _POSIX:
            super()._start_process(path)
            return
        if _LINUX:
            self.popen_kw["preexec_fn"] = _die_with_parent(os.getpid())
        _launcher.run(lambda: Service._start_process(self, path))
        self._group = self.process.pid
        _reaper.watch(self._group)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            group, self._group = getattr(self, "_group", None), None
            if group is not None:
                _kill_group(group)  # whatever chromedriver left behind (a Chromium it lost track of)
                _reaper.unwatch(group)


@dataclass(frozen=True, slots=True)
class PoolConfig:
    base_url: str  # where the browser reaches our exporter routes, e.g. http://127.0.0.1:8123
    size: int = 2
    chromium_path: str = "/usr/bin/chromium"
    chromedriver_path: str = "/usr/bin/chromedriver"
    grid_url: str = ""
    recycle_after: int = 200


@dataclass(slots=True)
class Capture:
    """The PNG of the whole page (unless only tiles or a PDF were asked for) and, when asked, of every tile (by
    tile key, in page order)."""

    full: bytes | None
    tiles: dict[str, bytes] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # tiles that drew an explicit error card
    pdf: bytes | None = None  # the page printed (vector charts), when asked


class BrowserSession:
    """One Chromium with its warm shell page. Used by one thread at a time."""

    def __init__(self, config: PoolConfig, shell_path: str) -> None:
        self.config = config
        self.renders = 0
        self.broken = False
        self._quit = False
        self._shell_url = config.base_url.rstrip("/") + shell_path
        self._metrics: tuple[int, float] | None = None
        self._profile_dir = None if config.grid_url else tempfile.mkdtemp(prefix="posthog-exports-chromium-")
        self._grid_client: ClientConfig | None = None
        self.driver = self._start_driver()
        try:
            self._load_shell()
        except Exception as exc:
            self.quit()
            if self.remote:
                unreachable = "net::ERR_" in str(exc)  # the browser's own network error, not the Grid's
                raise BrowserCrashed(
                    f"A browser of the Selenium Grid could not open {self._shell_url} ({_first_line(exc)})"
                    + ("; the Grid's nodes must reach this address (RENDER_PAGE_BASE_URL)." if unreachable else ".")
                ) from exc
            raise

    def _start_driver(self) -> webdriver.Remote:
        options = Options()
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        if self.config.grid_url:
            # The node knows where its Chromium and chromedriver are (its stereotype): none of our paths apply.
            return self._start_remote(options)
        options.binary_location = self.config.chromium_path
        options.add_argument(f"--user-data-dir={self._profile_dir}")
        # Giving the driver's path keeps Selenium Manager from running (it would try to download one).
        return webdriver.Chrome(service=_BoundService(self.config.chromedriver_path), options=options)

    def _start_remote(self, options: Options) -> webdriver.Remote:
        deadline = time.monotonic() + GRID_SESSION_WAIT_SECONDS
        attempt = 0
        while True:
            attempt += 1
            # The new-session request may wait in the hub's queue for a free slot: at most until the deadline.
            client = ClientConfig(self.config.grid_url, timeout=max(1.0, deadline - time.monotonic()))
            executor = ChromiumRemoteConnection(self.config.grid_url, "goog", "chrome", client_config=client)
            try:
                driver = webdriver.Remote(command_executor=executor, options=options)
            except (WebDriverException, urllib3.exceptions.HTTPError, OSError) as exc:
                executor.close()
                delay = backoff_delay(attempt, 0.25, cap=4.0)
                if time.monotonic() + delay >= deadline:
                    raise BrowserCrashed(
                        f"The Selenium Grid at {self.config.grid_url} gave no browser session within "
                        f"{GRID_SESSION_WAIT_SECONDS:g}s: {_first_line(exc)}"
                    ) from exc
                log.info("the Selenium Grid gave no session (%s); asking again in %gs", _first_line(exc), delay)
                time.sleep(delay)
                continue
            client.timeout = GRID_COMMAND_TIMEOUT_SECONDS
            self._grid_client = client
            return driver

    def _load_shell(self) -> None:
        self.driver.set_script_timeout(WAIT_SLICE_MS / 1000 + 30)
        self.driver.set_page_load_timeout(START_TIMEOUT_SECONDS)
        self.driver.get(self._shell_url)
        WebDriverWait(self.driver, START_TIMEOUT_SECONDS, poll_frequency=0.02).until(
            lambda d: d.execute_script("return !!(window.Plotly && window.exporter)")
        )

    @property
    def chromedriver_pid(self) -> int | None:
        service = getattr(self.driver, "service", None)
        process = getattr(service, "process", None)
        return process.pid if process else None

    def cdp(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.driver.execute("executeCdpCommand", {"cmd": command, "params": params})["value"]

    def render(self, spec_url: str, width: int, scale: float, timeout: float, with_tiles: bool,
               with_pdf: bool = False, whole: bool = True) -> Capture:
        """Draw the spec at `spec_url` (absolute) and capture it. Raises RenderTimeout / RenderError."""
        self.renders += 1
        if self._metrics != (width, scale):
            self.cdp(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": scale, "mobile": False},
            )
            self._metrics = (width, scale)
        # Most pages are drawn within the first long-poll: fetch the spec, draw, wait and measure in one DevTools
        # call (cheaper than WebDriver's script wrapper).
        started = time.monotonic()
        answer = self.cdp("Runtime.evaluate", {
            "expression": f"window.exporter.run({json.dumps(spec_url)}, {WAIT_SLICE_MS})",
            "awaitPromise": True,
            "returnByValue": True,
        })
        if "exceptionDetails" in answer:  # no exporter on the page: the shell is gone, this session is replaced
            details = answer["exceptionDetails"]
            raise WebDriverException(f"the shell page did not draw: {details.get('text', '')} "
                                     f"{details.get('exception', {}).get('description', '')}".strip())
        flag, size = answer["result"]["value"]["flag"], answer["result"]["value"]["size"]
        if flag is False:
            flag = self._wait_ready(max(0.0, timeout - (time.monotonic() - started)))
            size = self.driver.execute_script("return window.exporter.measure()")
        if isinstance(flag, str) and flag.startswith("failed:"):
            raise RenderError(f"The export page could not be drawn: {flag.removeprefix('failed:')}")
        errors = flag.removeprefix("error:").split(",") if isinstance(flag, str) else []
        page_width = max(width, int(size["width"]))
        full = self._capture(0, 0, page_width, int(size["height"])) if whole else None
        capture = Capture(full=full, errors=errors)
        if with_tiles:
            for tile in size["tiles"]:
                capture.tiles[tile["key"]] = self._capture(tile["x"], tile["y"], tile["width"], tile["height"])
        if with_pdf:
            capture.pdf = self._print(page_width)
        return capture

    def _print(self, page_width: int) -> bytes:
        """The drawn page as a PDF (WebDriver's print): A4 landscape, scaled to fit the page's width, charts as
        vectors, backgrounds kept, long dashboards over several pages."""
        options = PrintOptions()
        options.orientation = "landscape"
        options.background = True
        options.margin_top = options.margin_bottom = options.margin_left = options.margin_right = 0.8
        printable_px = (29.7 - 1.6) / 2.54 * 96  # A4 landscape minus margins, in CSS pixels
        options.scale = max(0.1, min(1.0, printable_px / max(page_width, 1)))
        return base64.b64decode(self.driver.print_page(options))

    def _wait_ready(self, timeout: float) -> object:
        def ready(driver: webdriver.Remote) -> object:
            # A long-poll inside the page: returns as soon as the flag is set, or after one slice.
            return driver.execute_async_script(
                "window.exporter.waitReady(arguments[0]).then(arguments[arguments.length - 1]);",
                WAIT_SLICE_MS,
            )

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.001).until(ready)
        except TimeoutException:
            # The page may be stuck in any state: this session is replaced before its next render.
            self.broken = True
            try:
                pending = self.driver.execute_script("return window.exporter.pending()")
            except Exception:  # a page too stuck to answer: nothing on it can be trusted
                pending = []
            raise RenderTimeout(f"not ready after {timeout:g}s", tiles=list(pending)) from None

    def _capture(self, x: float, y: float, width: float, height: float) -> bytes:
        result = self.cdp(
            "Page.captureScreenshot",
            {
                "format": "png",
                "clip": {"x": x, "y": y, "width": width, "height": height, "scale": 1},
                "captureBeyondViewport": True,
                "fromSurface": True,
                "optimizeForSpeed": True,
            },
        )
        return base64.b64decode(result["data"])

    @property
    def remote(self) -> bool:
        return bool(self.config.grid_url)

    def quit(self) -> None:
        """End the session: the browser and its driver locally; on a Grid, release the session (and its slot)."""
        if self._quit:
            return
        self._quit = True
        if self._grid_client is not None:
            self._grid_client.timeout = GRID_RELEASE_TIMEOUT_SECONDS
        try:
            self.driver.quit()
        except Exception as exc:  # a crashed browser cannot say goodbye; the service is stopped anyway
            log.debug("quitting a browser session failed: %s", _first_line(exc))
            service = getattr(self.driver, "service", None)
            if service is not None:
                try:
                    service.stop()
                except Exception:
                    pass
        if self._profile_dir:
            shutil.rmtree(self._profile_dir, ignore_errors=True)


class BrowserPool:
    """N warm sessions; a render takes an idle one, and crashed or worn-out sessions are replaced."""

    def __init__(self, config: PoolConfig, shell_path: str) -> None:
        self.config = config
        self._shell_path = shell_path
        self._idle: asyncio.Queue[BrowserSession] = asyncio.Queue()
        self._sessions: list[BrowserSession] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._background: set[asyncio.Future[None]] = set()

    @property
    def sessions(self) -> list[BrowserSession]:
        with self._lock:
            return list(self._sessions)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def live_sessions(self) -> int:
        """Sessions that can take a render (now, or when their current one ends): not broken or quit, and, for a
        local browser, with its chromedriver still running. Reads state only; asks no browser anything."""
        if self._closed:
            return 0
        with self._lock:
            sessions = list(self._sessions)
        return sum(1 for session in sessions if not session.broken and not session._quit and (
            session.remote or _process_running(session)))

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        sessions = await asyncio.gather(
            *(asyncio.to_thread(self._new_session) for _ in range(self.config.size)), return_exceptions=True
        )
        failures = [s for s in sessions if isinstance(s, BaseException)]
        if failures:
            await self.close()
            if isinstance(failures[0], BrowserCrashed):  # it says what failed
                raise failures[0]
            raise BrowserCrashed(f"Chromium could not start: {_first_line(failures[0])}") from failures[0]
        for session in sessions:
            assert isinstance(session, BrowserSession)
            self._idle.put_nowait(session)

    async def render(
        self, spec_url: str, *, width: int, scale: float, timeout: float, with_tiles: bool = False,
        with_pdf: bool = False, whole: bool = True,
    ) -> Capture:
        if self._closed:
            raise RenderError("The renderer is closed.")
        session = await self._idle.get()
        # The worker thread hands the session back itself, so a cancelled caller never leaks one.
        return await asyncio.to_thread(
            self._render_in_thread, session, spec_url, width, scale, timeout, with_tiles, with_pdf, whole
        )

    def _render_in_thread(
        self, session: BrowserSession, spec_url: str, width: int, scale: float, timeout: float, with_tiles: bool,
        with_pdf: bool = False, whole: bool = True,
    ) -> Capture:
        try:
            if session.broken:
                session = self._replace_or_fail(session)
            try:
                return session.render(spec_url, width, scale, timeout, with_tiles, with_pdf, whole)
            except RenderError:
                raise
            except Exception as exc:
                # A dead session (browser killed, driver gone, Grid node lost): replace it and try once more;
                # on a Grid the new session is asked of the hub, which gives one on a live node.
                log.warning("browser session failed (%s); replacing it and retrying once", _first_line(exc))
                session = self._replace_or_fail(session)
                try:
                    return session.render(spec_url, width, scale, timeout, with_tiles, with_pdf, whole)
                except RenderError:
                    raise
                except Exception as retry_exc:
                    session.broken = True
                    message = f"The browser failed twice while rendering: {_first_line(retry_exc)}"
                    raise BrowserCrashed(message) from retry_exc
        finally:
            self._hand_back(session)

    def _hand_back(self, session: BrowserSession) -> None:
        assert self._loop is not None
        if self._closed:
            session.quit()
        elif session.broken or session.renders >= self.config.recycle_after:
            # Replaced in the background, so neither this caller nor the next waits for a browser start.
            self._loop.call_soon_threadsafe(self._spawn_replacement, session)
        else:
            self._loop.call_soon_threadsafe(self._idle.put_nowait, session)

    def _spawn_replacement(self, old: BrowserSession) -> None:
        task = asyncio.ensure_future(asyncio.to_thread(self._replacement, old))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _replacement(self, old: BrowserSession) -> None:
        try:
            session = self._replace(old)
        except Exception as exc:
            # Back in the queue still broken: the next render that takes it tries again.
            log.warning("could not replace a browser session: %s", exc)
            session = old
        assert self._loop is not None
        if self._closed:
            session.quit()
        else:
            self._loop.call_soon_threadsafe(self._idle.put_nowait, session)

    def _new_session(self) -> BrowserSession:
        session = BrowserSession(self.config, self._shell_path)
        with self._lock:
            self._sessions.append(session)
            metrics.BROWSER_POOL_SIZE.set(len(self._sessions))
        return session

    def _replace_or_fail(self, old: BrowserSession) -> BrowserSession:
        try:
            return self._replace(old)
        except BrowserCrashed:  # it says what failed
            raise
        except Exception as exc:
            raise BrowserCrashed(f"Chromium could not start: {_first_line(exc)}") from exc

    def _replace(self, old: BrowserSession) -> BrowserSession:
        """Quit `old` and start a new session; if that fails, `old` stays marked broken for a later try."""
        metrics.BROWSER_RECYCLES.labels("crash" if old.broken else "renders").inc()
        old.broken = True
        with self._lock:
            if old in self._sessions:
                self._sessions.remove(old)
        if old.remote:
            # Its node may be dead or hung: the Grid gets the session back when it can, while we carry on.
            threading.Thread(target=old.quit, name="grid-session-release", daemon=True).start()
        else:
            old.quit()
        try:
            # The gauge counts a recycle as a swap: it moves only if the new session fails to start.
            return self._new_session()
        except Exception:
            with self._lock:
                metrics.BROWSER_POOL_SIZE.set(len(self._sessions))
            raise

    async def close(self) -> None:
        self._closed = True
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        sessions = self.sessions
        with self._lock:
            self._sessions.clear()
            metrics.BROWSER_POOL_SIZE.set(0)
        await asyncio.gather(*(asyncio.to_thread(s.quit) for s in sessions))


def _process_running(session: BrowserSession) -> bool:
    process = getattr(getattr(session.driver, "service", None), "process", None)
    return process is not None and process.poll() is None


def _first_line(exc: BaseException) -> str:
    """WebDriver errors carry the remote end's stack trace and host details after their first line."""
    text = str(exc).strip()
    text = text.removeprefix("Message: ").strip()
    return text.splitlines()[0] if text else type(exc).__name__


def default_pool_size(configured: int) -> int:
    return configured if configured > 0 else max(1, min(os.cpu_count() or 1, 4))
