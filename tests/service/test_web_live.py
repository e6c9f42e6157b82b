"""The studio's Live page in a real headless Chromium: it connects to a live stream over WebRTC, its
``<video>`` element receives frames, typed text is spoken, and closing ends the stream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service.browser import Browser, require_browser
from tests.service.harness import Server


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    require_browser()
    b = Browser(tmp_path_factory.mktemp("downloads"))
    try:
        yield b
    finally:
        b.quit()


def frames_shown(b: Browser) -> int:
    return int(
        b.js("return document.getElementById('live-video').getVideoPlaybackQuality().totalVideoFrames")
    )


def test_live_page_plays_the_stream_and_speaks(browser: Browser, server: Server) -> None:
    key = server.key("studio-live")
    b = browser
    b.open(server.url + "/")
    b.wait(lambda: b.visible("#signin-key"), what="the sign-in form")
    b.find("#signin-key").send_keys(key)
    b.find("#signin-form button[type=submit]").click()
    b.wait(lambda: b.visible("#view-create"), what="the create view")
    b.go("live")
    b.wait(lambda: b.find_all("#live-avatar option"), what="the avatars")
    assert b.find("#live-speak").get_attribute("disabled") is not None  # nothing to speak to yet
    b.find("#live-connect").click()
    b.wait(lambda: "idle" in b.text("#live-state"), timeout=60, what="the stream to connect")
    b.wait(lambda: b.js("return document.getElementById('live-video').videoWidth") == 512, what="video size")
    first = b.wait(lambda: frames_shown(b) or None, what="the first frames")
    b.wait(lambda: frames_shown(b) >= first + 25, what="a second of frames")
    b.find("#live-text").send_keys("Hello from the live page.")
    b.find("#live-speak").click()
    b.wait(lambda: "speaking" in b.text("#live-state"), timeout=30, what="speech")
    b.screenshots("live")
    b.wait(lambda: "idle" in b.text("#live-state"), timeout=30, what="the end of the speech")
    assert b.text("#live-error") == ""
    with server.client(key) as http:
        assert len(http.get("/v1/streams").json()["data"]) == 1
        b.find("#live-close").click()
        b.wait(lambda: "not connected" in b.text("#live-state"), what="the close")
        b.wait(lambda: http.get("/v1/streams").json()["data"] == [], what="the stream to end on the server")
    assert b.axe_violations() == []
    assert b.console_errors() == []
