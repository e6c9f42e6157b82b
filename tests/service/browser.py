"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium, for the
studio's end-to-end tests: fixed viewports, screenshots, requests seen, and axe-core run in the page."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.service.harness import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
#: axe-core as `make setup` installs it from the npm registry.
AXE = ROOT / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
#: Where the screenshots go, for a person to look at (git-ignored).
SHOTS = ROOT / "test-output" / "studio"
DESKTOP = (1280, 900)
PHONE = (375, 812)


def require_browser() -> None:
    """Skip on a machine without the browser (setup could not install it); in CI, fail instead."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER, str(AXE)) if not Path(p).exists()]
    if missing:
        message = f"browser test tools are missing: {', '.join(missing)} (run make setup as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class Browser:
    def __init__(self, downloads: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as DriverService

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",  # tests run as root in CI
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--autoplay-policy=no-user-gesture-required",
            "--window-size=1280,900",
            "--disable-features=Translate,OptimizationHints,MediaRouter",
            "--no-first-run",
            "--lang=en-US",
            # A synthetic camera (a moving test pattern, no face) and no permission prompt.
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
        ):
            options.add_argument(arg)
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
        self.driver.set_script_timeout(60)
        self.downloads = downloads
        self.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        self.viewport(*DESKTOP)

    def quit(self) -> None:
        self.driver.quit()

    # --- looking ------------------------------------------------------------------------------------
    def viewport(self, width: int, height: int, *, dark: bool = False) -> None:
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        self.driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
        )

    def screenshots(self, name: str, *, dark: bool = False) -> list[Path]:
        """The page at 1280x900 and at 375x812, saved as test-output/studio/<name>-<w>x<h>.png."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        saved = []
        for width, height in (DESKTOP, PHONE):
            self.viewport(width, height, dark=dark)
            self.driver.execute_async_script(  # a frame after the resize: the layout has settled
                "requestAnimationFrame(() => requestAnimationFrame(arguments[arguments.length - 1]))"
            )
            path = SHOTS / f"{name}-{width}x{height}{'-dark' if dark else ''}.png"
            assert self.driver.save_screenshot(str(path)), path
            saved.append(path)
        self.viewport(*DESKTOP)
        return saved

    def overflows_horizontally(self) -> bool:
        return bool(
            self.driver.execute_script(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"
            )
        )

    def axe_violations(self, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
        """axe-core's violations of the given impacts on the page as it is now."""
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(AXE.read_text())  # once per page load: the studio is one page
        violations: list[dict[str, Any]] = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))), e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));"
        )
        return [v for v in violations if v.get("impact") in impacts]

    def requested_hosts(self) -> set[str]:
        """Hosts of every request the page made since the last call (Chromium's network log)."""
        hosts = set()
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                if url.startswith(("http:", "https:", "ws:", "wss:")):
                    hosts.add(urlsplit(url).netloc)
        return hosts

    def console_errors(self) -> list[str]:
        """Script errors logged by the page (answers with an error status, which the studio shows
        to the user, are left out: the browser logs every one of them)."""
        return [
            e["message"]
            for e in self.driver.get_log("browser")
            if e.get("level") == "SEVERE" and "Failed to load resource" not in e["message"]
        ]

    # --- doing --------------------------------------------------------------------------------------
    def open(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def visible(self, css: str) -> bool:
        found = self.find_all(css)
        return bool(found) and bool(found[0].is_displayed())

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self, predicate: Callable[[], Any], *, timeout: float = 30, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except Exception as exc:  # the element may not exist yet, or was just replaced
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}: last {last!r}; console: {self.console_errors()}")

    def go(self, view: str) -> None:
        self.find(f'#nav a[href="#/{view}"]').click()
        self.wait(lambda: self.visible(f"#view-{view}"), what=f"the {view} view")
