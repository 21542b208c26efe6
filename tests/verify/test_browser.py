"""Open the HTML report in a real headless Chromium and inspect it.

The browser is driven through the Chrome DevTools protocol over a pipe
(``--remote-debugging-pipe``: the browser reads JSON commands on fd 3 and
writes replies and events on fd 4, each message ended by a NUL byte), with
the standard library only.  The test collects console messages, uncaught
exceptions, log entries and every network request the page makes, then
counts the summary table's rows in the live DOM.

Skipped when no ``chromium`` is on PATH (CI installs Debian's package through
``tools/install-system-packages.sh``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bnconvex.verify.render_html import render_html

from tests.verify._report_samples import sample_records, tiny_png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed"),
]


class DevToolsPipe:
    """Minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, user_data_dir: Path, timeout: float = 30.0):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The child sees the pipe ends as fds 3 (commands in) and 4 (replies out).
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=lambda: (os.dup2(to_browser_r, 3), os.dup2(from_browser_w, 4)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.deadline = time.monotonic() + timeout
        self.events: list[dict] = []
        self._buf = b""
        self._next_id = 0

    def _recv(self) -> dict:
        while b"\0" not in self._buf:
            if time.monotonic() > self.deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the debugging pipe")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def call(
        self, method: str, params: dict | None = None, session: str | None = None
    ) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._recv()
            if reply.get("id") == self._next_id:
                assert "error" not in reply, f"{method} failed: {reply['error']}"
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        while True:
            event = self._recv()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (EOFError, OSError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def load_in_browser(
    page: Path, tmp_path: Path, expression: str
) -> tuple[object, list[dict]]:
    """Load ``page``, evaluate ``expression`` in it; return (value, events)."""
    browser = DevToolsPipe(tmp_path / "profile")
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Page.navigate", {"url": page.as_uri()}, session)
        browser.wait_for("Page.loadEventFired")
        value = browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            session,
        )["result"].get("value")
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session)[
            "data"
        ]
        (tmp_path / "screenshot.png").write_bytes(base64.b64decode(shot))
    finally:
        browser.close()
    return value, browser.events


def _problems(events: list[dict], page: Path) -> dict[str, list]:
    """Console errors/warnings, exceptions, log errors and non-page requests."""
    out: dict[str, list] = {"console": [], "exceptions": [], "log": [], "requests": []}
    for ev in events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in (
            "error",
            "warning",
            "assert",
        ):
            out["console"].append(params.get("args"))
        elif method == "Runtime.exceptionThrown":
            out["exceptions"].append(params.get("exceptionDetails", {}).get("text"))
        elif method == "Log.entryAdded" and params["entry"]["level"] in (
            "error",
            "warning",
        ):
            out["log"].append(params["entry"].get("text"))
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page.as_uri() and not url.startswith("data:"):
                out["requests"].append(url)
    return out


def test_report_loads_offline_without_errors(tmp_path):
    header, records = sample_records()
    fig = tiny_png(tmp_path / "fig.png")
    page = render_html(records, tmp_path / "report.html", header=header, figures=[fig])
    n_claims = len({r["id"] for r in records})
    rows, events = load_in_browser(
        page, tmp_path, "document.querySelectorAll('#summary tbody tr').length"
    )
    problems = _problems(events, page)
    assert problems == {"console": [], "exceptions": [], "log": [], "requests": []}, (
        f"the report made requests or logged errors: {problems}"
    )
    assert rows == n_claims, f"summary table has {rows} rows for {n_claims} claims"
    n_requests = sum(ev.get("method") == "Network.requestWillBeSent" for ev in events)
    assert n_requests >= 1, (
        "no request events at all: the Network domain was not observed"
    )


def test_detector_sees_external_request_and_console_error(tmp_path):
    # The probe itself must be able to fail: a page with a script error and an
    # external image must be reported (the image points at a closed loopback
    # port, so nothing leaves the machine).
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('boom')</script></body></html>",
        encoding="utf-8",
    )
    _, events = load_in_browser(page, tmp_path, "1")
    problems = _problems(events, page)
    assert problems["requests"] == ["http://127.0.0.1:9/x.png"], problems
    assert problems["console"], f"console.error not seen: {problems}"


def test_report_written_by_bnconvex_verify_opens_cleanly(tmp_path):
    # The whole pipeline: `bnconvex verify` on two fast claims writes report.html
    # (rendered by this module through the verify command); the browser must load
    # it with no error and no request, one summary row per claim in the header.
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "bnconvex.app",
        "verify",
        "--quick",
        "--out",
        str(out),
        "--claim",
        "closed_form.universal_lower_bound",
        "--claim",
        "arrangements.count_bound",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, (
        f"verify failed ({proc.returncode}): {proc.stderr[-2000:]}"
    )
    page = out / "report.html"
    n_claims = len(
        json.loads((out / "report.jsonl").read_text().splitlines()[0])["claims"]
    )
    rows, events = load_in_browser(
        page, tmp_path, "document.querySelectorAll('#summary tbody tr').length"
    )
    problems = _problems(events, page)
    assert problems == {"console": [], "exceptions": [], "log": [], "requests": []}, (
        problems
    )
    assert rows == n_claims == 2, f"{rows} summary rows for {n_claims} claims"
