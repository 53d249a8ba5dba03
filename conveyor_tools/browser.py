"""A page checked as a reader sees it: opened in headless Chromium, driven over the DevTools protocol.

``check_page`` opens a local HTML file and reports what a browser found: each image (did it load,
decode, and take up room on the page), the console's errors, uncaught exceptions, loads that
failed, and a full-page screenshot. It does not judge; ``PageCheck.problems`` lists what a report
must not have.

The browser is Debian's ``chromium`` (or Chrome), started with ``--remote-debugging-port=0``: it
picks a free port and writes it to ``DevToolsActivePort`` in its profile folder, so two checks at
once never collide. One WebSocket to the browser drives a page through a flattened session
(``Target.attachToTarget``); no selenium or playwright, only ``websocket-client``. Every wait
has a deadline, and the browser's whole process group is killed and its profile removed however
the check ends.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
"""Executable names tried in turn on PATH."""
DEFAULT_TIMEOUT = 60.0
"""Seconds the whole check may take, start to screenshot."""
MAX_SCREENSHOT_HEIGHT = 20000
"""CSS pixels; a longer page is cut there rather than making a screenshot of hundreds of megabytes."""
IMAGES_SCRIPT = """
(async () => {
  const images = [...document.images];
  const decoded = await Promise.all(images.map((image) => image.decode().then(() => true, () => false)));
  return images.map((image, index) => {
    const box = image.getBoundingClientRect();
    const style = getComputedStyle(image);
    return {
      alt: image.alt,
      natural_width: image.naturalWidth,
      natural_height: image.naturalHeight,
      complete: image.complete,
      decoded: decoded[index],
      visible: box.width > 0 && box.height > 0 && style.display !== "none" && style.visibility !== "hidden",
    };
  });
})()
"""
"""Each image of the page, once every one has finished decoding (or failed to)."""


class BrowserUnavailableError(Exception):
    """No Chromium or Chrome on PATH: install Debian's ``chromium`` package (.ci/run does)."""


class BrowserError(Exception):
    """The browser did not start, answer or finish in time; the message says which."""


@dataclass(frozen=True)
class ImageCheck:
    alt: str
    natural_width: int
    natural_height: int
    complete: bool
    decoded: bool
    visible: bool
    """Its rendered box has an area, and it is neither ``display: none`` nor ``visibility: hidden``."""

    @property
    def ok(self) -> bool:
        return self.complete and self.decoded and self.natural_width > 0 and self.natural_height > 0 and self.visible


@dataclass(frozen=True)
class PageCheck:
    """What the browser found on a page."""

    images: list[ImageCheck]
    console_errors: list[str]
    """``console.error`` (and failed ``console.assert``) messages."""
    exceptions: list[str]
    """Uncaught exceptions and rejected promises."""
    log_errors: list[str]
    """The browser's own errors (a refused resource, a blocked script...)."""
    failed_loads: list[str]
    """Each request that failed: its URL and the reason."""
    screenshot: Path

    @property
    def problems(self) -> list[str]:
        """Everything wrong with the page, one sentence each; empty for a good page."""
        broken = [
            f"image {image.alt!r}: {image.natural_width}x{image.natural_height},"
            f" complete {image.complete}, decoded {image.decoded}, visible {image.visible}"
            for image in self.images
            if not image.ok
        ]
        return [
            *broken,
            *(f"console error: {message}" for message in self.console_errors),
            *(f"uncaught exception: {message}" for message in self.exceptions),
            *(f"browser error: {message}" for message in self.log_errors),
            *(f"failed load: {message}" for message in self.failed_loads),
        ]


def find_browser() -> str:
    """The path of the first Chromium or Chrome on PATH."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailableError(
        f"no {', '.join(BROWSERS)} on PATH: install Debian's chromium package (apt-get install chromium)"
    )


def check_page(path: Path, screenshot: Path, *, timeout: float = DEFAULT_TIMEOUT) -> PageCheck:
    """Open the HTML file ``path`` in headless Chromium, wait for it to load and its images to decode,
    write a full-page PNG screenshot to ``screenshot``, and report what the browser found."""
    deadline = time.monotonic() + timeout
    with running_browser(find_browser(), deadline) as url:
        session = DevTools(url, deadline)
        try:
            return session.check(path.resolve().as_uri(), screenshot)
        finally:
            session.close()


def _the_page_in_the_main_frame(params: dict[str, Any]) -> bool:
    frame: dict[str, Any] = params.get("frame", {})
    return "parentId" not in frame and frame.get("url", "about:blank") != "about:blank"


@contextmanager
def running_browser(binary: str, deadline: float) -> Iterator[str]:
    """A headless browser with a fresh profile, for the block; its DevTools WebSocket URL."""
    with tempfile.TemporaryDirectory(prefix="conveyor-chromium-", ignore_cleanup_errors=True) as folder:
        profile, scratch = Path(folder) / "profile", Path(folder) / "tmp"
        scratch.mkdir()
        arguments = [
            binary,
            "--headless=new",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-gpu",
            # A container's /dev/shm is often 64 MB: too small for a tall page's renderer.
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
            "--window-size=1280,900",
            # Chromium's sandbox refuses to run as root; a container's CI runs as root.
            *(["--no-sandbox"] if os.geteuid() == 0 else []),
            "about:blank",
        ]
        log = Path(folder) / "browser.log"
        # Its TMPDIR too: a killed browser leaves its singleton socket's folder there, not in /tmp.
        environment = {**os.environ, "TMPDIR": str(scratch)}
        with log.open("wb") as output:
            try:
                # Its own session (process group), so killing it kills its renderers and zygotes too.
                process = subprocess.Popen(
                    arguments,
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    start_new_session=True,
                )
            except OSError as error:
                raise BrowserError(f"could not start {binary}: {error}") from error
        try:
            yield devtools_url(profile, process, log, deadline)
        finally:
            stop(process)


def devtools_url(profile: Path, process: subprocess.Popen[bytes], log: Path, deadline: float) -> str:
    """The browser's WebSocket URL, once it has written DevToolsActivePort (its port, then its path)."""
    active_port = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"the browser exited with {process.returncode}: {tail(log)}")
        lines = active_port.read_text(encoding="utf-8").split() if active_port.exists() else []
        if len(lines) == 2:
            return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.05)
    raise BrowserError(f"the browser wrote no DevToolsActivePort in time: {tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the browser and every process it started (its process group); it has nothing to save.

    The group is killed before its leader is reaped, so its id cannot have been reused meanwhile.
    """
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return " | ".join(text.strip().splitlines()[-lines:]) or "(it printed nothing)"


@dataclass
class DevTools:
    """One page of the browser, driven through a flattened session over the browser's WebSocket."""

    url: str
    deadline: float
    socket: websocket.WebSocket = field(init=False)
    session_id: str = field(init=False, default="")
    events: list[dict[str, Any]] = field(init=False, default_factory=list)
    next_id: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        try:
            # No Origin header: Chromium refuses WebSocket origins it was not told to allow.
            self.socket = websocket.create_connection(self.url, timeout=self.remaining(), suppress_origin=True)
        except (OSError, websocket.WebSocketException) as error:
            raise BrowserError(f"could not connect to the browser at {self.url}: {error}") from error

    def check(self, page_url: str, screenshot: Path) -> PageCheck:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True)
        self.session_id = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        before = len(self.events)
        navigated = self.send("Page.navigate", {"url": page_url})
        if "errorText" in navigated:
            raise BrowserError(f"could not open {page_url}: {navigated['errorText']}")
        # The page's own load: after its main frame navigated to it (about:blank loads first, and may
        # report its load late).
        landed = self.wait_for("Page.frameNavigated", after=before, where=_the_page_in_the_main_frame)
        self.wait_for("Page.loadEventFired", after=landed)
        found = self.send(
            "Runtime.evaluate", {"expression": IMAGES_SCRIPT, "awaitPromise": True, "returnByValue": True}
        )
        if "exceptionDetails" in found:
            raise BrowserError(f"the image check failed in the page: {found['exceptionDetails']}")
        self.capture(screenshot)
        return PageCheck(
            images=[ImageCheck(**image) for image in found["result"]["value"]],
            console_errors=self.console_errors(),
            exceptions=[exception_text(e["exceptionDetails"]) for e in self.page_events("Runtime.exceptionThrown")],
            log_errors=[
                f"{e['entry']['text']} ({e['entry'].get('url', '')})".replace(" ()", "")
                for e in self.page_events("Log.entryAdded")
                if e["entry"]["level"] == "error"
            ],
            failed_loads=self.failed_loads(),
            screenshot=screenshot,
        )

    def capture(self, screenshot: Path) -> None:
        """A PNG of the whole page, beyond the window's height."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": size["width"],
            "height": min(size["height"], MAX_SCREENSHOT_HEIGHT),
            "scale": 1,
        }
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))

    def console_errors(self) -> list[str]:
        errors = []
        for event in self.page_events("Runtime.consoleAPICalled"):
            if event["type"] in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in event["args"]))
        return errors

    def failed_loads(self) -> list[str]:
        urls = {e["requestId"]: e["request"]["url"] for e in self.page_events("Network.requestWillBeSent")}
        return [
            f"{urls.get(e['requestId'], e['requestId'])[:200]}: {e['errorText']}"
            for e in self.page_events("Network.loadingFailed")
        ]

    def page_events(self, method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.events if e["method"] == method and e.get("sessionId") == self.session_id]

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> dict[str, Any]:
        """Call ``method`` on the page (or the browser) and return its result; events met meanwhile are kept."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if not browser:
            message["sessionId"] = self.session_id
        self.socket.send(json.dumps(message))
        while True:
            received = self.receive(f"the answer to {method}")
            if received.get("id") == self.next_id:
                if "error" in received:
                    raise BrowserError(f"{method} failed: {received['error']}")
                result: dict[str, Any] = received["result"]
                return result
            if "method" in received:
                self.events.append(received)

    def wait_for(self, method: str, *, after: int, where: Callable[[dict[str, Any]], bool] = lambda _: True) -> int:
        """Wait for the page's event ``method`` (whose parameters satisfy ``where``) after the first ``after``
        events (kept with the others); its index among them."""
        while True:
            for index in range(after, len(self.events)):
                event = self.events[index]
                mine = event["method"] == method and event.get("sessionId") == self.session_id
                if mine and where(event.get("params", {})):
                    return index
            received = self.receive(method)
            if "method" in received:
                self.events.append(received)

    def receive(self, awaited: str) -> dict[str, Any]:
        remaining = self.remaining()
        if remaining <= 0:
            raise BrowserError(f"timed out waiting for {awaited}")
        self.socket.settimeout(remaining)
        try:
            message: dict[str, Any] = json.loads(self.socket.recv())
        except websocket.WebSocketTimeoutException as error:
            raise BrowserError(f"timed out waiting for {awaited}") from error
        except (OSError, websocket.WebSocketException) as error:
            raise BrowserError(f"lost the browser waiting for {awaited}: {error}") from error
        return message

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def close(self) -> None:
        self.socket.close()


def exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception", {})
    return str(exception.get("description") or details.get("text", "an exception"))
