"""Screenshots of web pages in a real headless Chromium (Debian package ``chromium``).

``screenshot`` is Chromium's own ``--screenshot`` switch. ``screenshot_with_storage`` drives
the browser over the DevTools protocol instead, for pages whose look depends on the
browser's localStorage (the Airflow UI keeps its grid/graph choice there): it opens the
site's origin, writes the entries, then loads the page and waits until a CSS selector
appears before capturing. Both stop the browser they start, also on failure.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from websockets.sync.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")
BASE_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
)  # fmt: skip
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def screenshot(
    url: str, out: Path, *, size: tuple[int, int] = (1400, 1000), budget_ms: int = 15_000
) -> Path:
    """``chromium --screenshot=<out> --window-size=W,H <url>``; ``budget_ms`` of virtual
    time lets the page's scripts and images finish first."""
    with tempfile.TemporaryDirectory(prefix="ringrift-chromium-") as profile:
        proc = subprocess.run(
            [
                str(CHROMIUM),
                *BASE_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={size[0]},{size[1]}",
                f"--virtual-time-budget={budget_ms}",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if proc.returncode != 0 or not out.is_file():
        raise AssertionError(f"chromium screenshot of {url} failed:\n{proc.stderr[-3000:]}")
    return out


class _DevTools:
    """One page target of a browser, driven over its DevTools websocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    def call(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


def _devtools_port(proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> int:
    """The port Chromium wrote to its log ("DevTools listening on ws://127.0.0.1:<port>/")."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", text)
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"chromium did not open its DevTools port:\n{text[-3000:]}")


def screenshot_with_storage(
    url: str,
    out: Path,
    *,
    local_storage: Mapping[str, str],
    wait_selector: str,
    size: tuple[int, int] = (1400, 1000),
    settle_s: float = 3.0,
    timeout: float = 90,
) -> Path:
    """Open ``url``'s origin, set ``local_storage``, load ``url``, wait for ``wait_selector``
    and ``settle_s`` more (layout animations), and save a PNG of the viewport."""
    profile = tempfile.mkdtemp(prefix="ringrift-chromium-")
    # Chromium's stderr goes to a file: a pipe nobody drains could fill and stall it.
    log = Path(profile) / "chromium.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                str(CHROMIUM),
                *BASE_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--window-size={size[0]},{size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        port = _devtools_port(proc, log)
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=64 << 20, open_timeout=30) as ws:
            tools = _DevTools(ws)
            tools.call("Page.enable")
            tools.call(
                "Emulation.setDeviceMetricsOverride",
                width=size[0], height=size[1], deviceScaleFactor=1, mobile=False,
            )  # fmt: skip
            parts = urlsplit(url)
            tools.call("Page.navigate", url=f"{parts.scheme}://{parts.netloc}/")
            _wait(tools, "document.readyState === 'complete'", timeout)
            for key, value in local_storage.items():
                tools.evaluate(f"localStorage.setItem({json.dumps(key)}, {json.dumps(value)})")
            tools.call("Page.navigate", url=url)
            _wait(tools, f"!!document.querySelector({json.dumps(wait_selector)})", timeout)
            time.sleep(settle_s)
            shot = tools.call("Page.captureScreenshot", format="png")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    return out


def _wait(tools: _DevTools, condition: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not tools.evaluate(f"Boolean({condition})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {condition}")
        time.sleep(0.5)


def assert_real_png(path: Path, size: tuple[int, int]) -> np.ndarray:
    """``path`` is a PNG of ``size`` (width, height) that is not blank: its pixels vary
    and use many colours. Returns the RGB pixels."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"
    pixels = imread(path)[..., :3]
    assert pixels.shape[:2] == (size[1], size[0]), (pixels.shape, size)
    assert float(pixels.std()) > 0.05, f"{path} is (nearly) one colour"
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 64, f"{path} has only {len(colours)} colours"
    return pixels
