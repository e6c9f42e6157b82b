"""The web studio and the API reference pages in a real headless Chromium against the real server.

Pages are saved at 1280x900 and 375x812 under test-output/studio/ (for a person to look at) and
checked with axe-core (no serious or critical violations). The default suite runs the main flows
(~25 s); the sweep over every page and the cancellation are marked slow (make test-all).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.service.browser import Browser, require_browser
from tests.service.harness import Server, blank_png, speaking_clip

#: Names are shown as text, never as markup.
MARKUP_NAME = '<b>Mirror</b> astronaut <img src=x onerror="window.pwned=1">'
SENTENCE = "Hello from the studio. This video was made in a browser."
#: Near the session server's 300-character script limit: a render long enough to cancel midway.
LONG_SCRIPT = (
    "This is a longer script, so that the render is still going when the cancel button is pressed. "
    "It talks about nothing much, at an even pace, with a few pauses. One, two, three, four, five. "
    "Six, seven, eight, nine, ten. And then it would go on for a while more."
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    require_browser()
    b = Browser(tmp_path_factory.mktemp("downloads"))
    try:
        yield b
    finally:
        b.quit()


@pytest.fixture(scope="module")
def studio_key(server: Server) -> str:
    """An account of its own, so the history and keys pages show only this test's work."""
    return server.key("studio")


@pytest.fixture()
def signed_in(browser: Browser, server: Server, studio_key: str) -> Browser:
    """The browser on the studio, signed in (once per module unless a test signed out)."""
    if browser.driver.current_url.startswith(server.url + "/#") and browser.visible("#nav"):
        return browser
    browser.open(server.url + "/")
    browser.wait(lambda: browser.visible("#signin-key"), what="the sign-in form")
    browser.find("#signin-key").send_keys(studio_key)
    browser.find("#signin-form button[type=submit]").click()
    browser.wait(lambda: browser.visible("#view-create"), what="the create view")
    return browser


def mirrored_portrait(folder: Path) -> tuple[Path, tuple[float, float]]:
    """A portrait no server has seen (the astronaut mirrored, on a wider canvas), and where its face
    centre is, as fractions of the picture's width and height."""
    from PIL import Image
    from skimage import data

    face = np.asarray(data.astronaut())[:, ::-1]  # the face is at x 180-270, y 70-180 unmirrored
    canvas = np.full((512, 768, 3), 200, np.uint8)
    canvas[:, 128:640] = face
    path = folder / "portrait-made-by-the-test.jpg"
    Image.fromarray(canvas).save(path, quality=92)
    centre_x = (128 + 512 - 225) / 768
    return path, (centre_x, 125 / 512)


def test_wrong_key_shows_the_sign_in_error(browser: Browser, server: Server) -> None:
    browser.open(server.url + "/#/create")
    browser.js("sessionStorage.clear(); location.reload()")
    browser.wait(lambda: browser.visible("#signin-key"), what="the sign-in form")
    browser.screenshots("signin")
    # Keyboard only: the key field has the focus, Enter submits.
    assert browser.js("return document.activeElement.id") == "signin-key"
    browser.driver.switch_to.active_element.send_keys("fc_not-a-real-key\n")
    message = browser.wait(lambda: browser.text("#signin-error"), what="the sign-in error")
    assert "not accepted" in message and "Invalid API key" in message
    assert not browser.visible("#nav")
    assert browser.js("return sessionStorage.getItem('facecast.key')") is None
    browser.screenshots("signin-wrong-key")
    assert browser.axe_violations() == []


@pytest.mark.slow  # ~12 s: every page at two sizes and in dark mode, axe on each
def test_pages_render_at_both_sizes_and_pass_axe(signed_in: Browser, server: Server) -> None:
    b = signed_in
    for view, ready in (
        ("create", "#create-avatar option"),
        ("avatars", "#avatar-list li"),
        ("voices", "#voice-list li"),
        ("history", "#history-list li, #history-empty:not([hidden])"),
        ("keys", "#key-list li"),
    ):
        b.go(view)
        b.wait(lambda ready=ready: b.find_all(ready), what=f"{view} content")
        shots = b.screenshots(view)
        assert all(p.stat().st_size > 5000 for p in shots)
        b.viewport(375, 812)
        assert not b.overflows_horizontally(), f"{view} scrolls sideways at 375 px"
        b.viewport(1280, 900)
        assert b.axe_violations() == [], view
    b.go("create")
    b.screenshots("create", dark=True)
    b.viewport(1280, 900, dark=True)
    assert b.axe_violations() == [], "create, dark"
    b.viewport(1280, 900)
    # The key stays in the tab's storage: never in the URL or a cookie.
    key = b.js("return sessionStorage.getItem('facecast.key')")
    assert key and key not in b.driver.current_url
    assert b.driver.get_cookies() == []
    assert b.console_errors() == []


def test_voices_filter_and_listen(signed_in: Browser) -> None:
    b = signed_in
    b.go("voices")
    b.wait(lambda: b.find_all("#voice-list li"), what="voices")
    every = len(b.find_all("#voice-list li"))
    b.find("#voice-gender").send_keys("Female")
    b.wait(lambda: len(b.find_all("#voice-list li")) < every, what="the gender filter")
    b.find("#voice-gender").send_keys("Any")
    b.js(
        "document.getElementById('voice-gender').value=''; document.getElementById('voice-gender').dispatchEvent(new Event('change'))"
    )
    b.find('#voice-list li[data-voice-id="flite-slt"] button').click()
    b.wait(
        lambda: b.js(
            "const a = document.getElementById('voice-audio'); return a.duration > 0 && a.currentTime > 0"
        ),
        what="the sample playing",
    )


def test_portrait_preview_shows_the_face_box_then_makes_an_avatar(signed_in: Browser, tmp_path: Path) -> None:
    b = signed_in
    b.go("avatars")
    path, (cx, cy) = mirrored_portrait(tmp_path)
    b.find("#avatar-file").send_keys(str(path))
    b.wait(lambda: b.visible("#face-box"), what="the face box")
    frame = b.find(".preview-frame").rect
    box = b.find("#face-box").rect
    centre = (
        (box["x"] + box["width"] / 2 - frame["x"]) / frame["width"],
        (box["y"] + box["height"] / 2 - frame["y"]) / frame["height"],
    )
    assert abs(centre[0] - cx) < 0.06 and abs(centre[1] - cy) < 0.08, (centre, (cx, cy))
    assert 0.08 < box["width"] / frame["width"] < 0.3
    assert "Face found" in b.text("#preview-note")
    b.screenshots("avatars-preview")
    assert b.axe_violations() == []
    b.find("#avatar-name").clear()
    b.find("#avatar-name").send_keys(MARKUP_NAME)
    b.find("#avatar-create").click()
    b.wait(
        lambda: any(MARKUP_NAME in li.text for li in b.find_all("#avatar-list li")),
        what="the new avatar, its name shown as typed",
    )
    item = next(li for li in b.find_all("#avatar-list li") if MARKUP_NAME in li.text)
    assert "Ready" in item.text
    assert b.js("return window.pwned === undefined && !document.querySelector('#avatar-list b')")
    b.wait(
        lambda: b.js(
            "const i = arguments[0].querySelector('img'); return i.complete && i.naturalWidth > 0", item
        ),
        what="its thumbnail",
    )


def test_a_picture_without_a_face_shows_why_next_to_the_upload(signed_in: Browser, tmp_path: Path) -> None:
    b = signed_in
    b.go("avatars")
    path = tmp_path / "wall.png"
    path.write_bytes(blank_png(320))
    b.find("#avatar-file").send_keys(str(path))
    message = b.wait(lambda: b.text("#avatar-error"), what="the refusal")
    assert "No face found" in message
    assert not b.visible("#face-box")
    assert b.find("#avatar-create").get_attribute("disabled") is not None
    # The message sits in the upload form, announced to screen readers.
    assert b.find("#avatar-form #avatar-error").get_attribute("role") == "alert"
    b.screenshots("avatars-no-face")
    text_file = tmp_path / "notes.png"
    text_file.write_bytes(b"not a picture at all")
    b.find("#avatar-file").send_keys(str(text_file))
    b.wait(lambda: "must be a PNG/JPEG/WebP image" in b.text("#avatar-error"), what="the type error")


def test_a_dropped_file_goes_through_the_same_check(signed_in: Browser) -> None:
    b = signed_in
    b.go("avatars")
    b.find("#avatar-name").clear()
    b.js(
        """const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 200;
        canvas.getContext('2d').fillRect(0, 0, 200, 200);
        canvas.toBlob((blob) => {
          const data = new DataTransfer();
          data.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
          document.getElementById('drop').dispatchEvent(
            new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
        }, 'image/png');"""
    )
    b.wait(lambda: b.find("#avatar-name").get_attribute("value") == "dropped", what="the dropped file chosen")
    b.wait(lambda: "No face found" in b.text("#avatar-error"), what="the check of the dropped file")


def test_camera_photo_goes_through_the_same_check(signed_in: Browser) -> None:
    """Chromium's fake camera shows a test pattern: the snapshot is previewed and refused (no face)."""
    b = signed_in
    b.go("avatars")
    assert b.visible("#camera-open")
    b.find("#camera-open").click()
    b.wait(lambda: b.js("return document.getElementById('camera-video').videoWidth > 0"), what="the camera")
    b.find("#camera-shoot").click()
    b.wait(lambda: b.visible("#preview-img"), what="the snapshot")
    b.wait(lambda: "No face found" in b.text("#avatar-error"), what="the check")
    assert not b.visible("#camera")
    assert b.js("return document.getElementById('preview-img').naturalWidth") > 0


@pytest.mark.slow  # ~10 s: the clip is made by the engine, then prepared by the worker
def test_video_avatar_from_a_clip_shows_its_preparation(signed_in: Browser, tmp_path: Path) -> None:
    b = signed_in
    b.go("avatars")
    clip = tmp_path / "talking.mp4"
    speaking_clip(clip, seconds=2.0, side=256)
    b.find("#avatar-file").send_keys(str(clip))
    b.wait(lambda: b.visible("#preview-video"), what="the clip preview")
    assert "checked when you create" in b.text("#preview-note")
    b.find("#avatar-name").clear()
    b.find("#avatar-name").send_keys("Talking clip")
    b.find("#avatar-create").click()

    def ready() -> bool:
        row = next((li for li in b.find_all("#avatar-list li") if "Talking clip" in li.text), None)
        return row is not None and "Ready" in row.text

    b.wait(ready, timeout=90, what="the clip avatar to be ready")
    row = next(li for li in b.find_all("#avatar-list li") if "Talking clip" in li.text)
    assert "Video" in row.text
    b.go("create")
    b.wait(lambda: "Talking clip (video)" in b.text("#create-avatar"), what="the clip avatar in the picker")


def test_make_a_video_from_a_sentence_play_and_download(signed_in: Browser, server: Server) -> None:
    b = signed_in
    b.go("create")
    b.wait(lambda: b.find_all("#create-avatar option"), what="avatars")
    b.find("#create-text").send_keys(SENTENCE)
    assert b.text("#create-count").startswith(f"{len(SENTENCE)} characters · about 4 s")
    b.find("#create-name").send_keys("Studio sentence")
    b.find("#create-submit").click()
    b.wait(lambda: b.visible("#job"), what="the job panel")
    b.wait(lambda: b.visible("#job-result"), timeout=120, what="the finished video")
    assert b.text("#job-status") == "Done"
    duration = b.wait(lambda: b.js("return document.getElementById('job-video').duration"), what="metadata")
    assert 3.0 < duration < 8.0
    b.js("const v = document.getElementById('job-video'); v.muted = true; v.play();")
    b.wait(lambda: b.js("return document.getElementById('job-video').currentTime > 0.2"), what="playback")
    b.screenshots("create-done")
    link = b.find("#job-link").get_attribute("value")
    assert link.startswith(server.url + "/media/") and "signature=" in link
    b.find("#job-download").click()
    files = b.wait(lambda: [p for p in b.downloads.glob("*.mp4")], what="the download")
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "json",
            str(files[0]),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"h264"' in probe.stdout and '"aac"' in probe.stdout
    # It is in the history, with its duration and a thumbnail.
    b.go("history")
    row = b.wait(
        lambda: next((li for li in b.find_all("#history-list li") if "Studio sentence" in li.text), None),
        what="the history row",
    )
    assert "Complete" in row.text and " s" in row.text
    b.screenshots("history")
    row.find_element("css selector", "button").click()  # Play
    b.wait(
        lambda: b.js("const v = document.querySelector('#history-list video'); return v && v.duration > 3"),
        what="the video in the history",
    )
    b.screenshots("history-playing")


@pytest.mark.slow  # ~12 s: a long script, cancelled once it renders
def test_cancel_a_running_job(signed_in: Browser) -> None:
    b = signed_in
    b.go("create")
    b.wait(lambda: b.find_all("#create-avatar option"), what="avatars")
    b.find("#create-text").clear()
    b.find("#create-text").send_keys(LONG_SCRIPT)
    b.find("#create-name").clear()
    b.find("#create-name").send_keys("To be cancelled")
    b.js("document.querySelector('input[name=framing][value=full]').click()")
    b.find("#create-submit").click()
    b.wait(lambda: b.text("#job-status").startswith("Rendering"), timeout=60, what="rendering")
    b.find("#job-cancel").click()
    b.wait(lambda: b.text("#job-status") == "Cancelled", timeout=60, what="the cancellation")
    assert "cancelled" in b.text("#job-error").lower()
    assert not b.visible("#job-result")
    b.js("document.querySelector('input[name=framing][value=crop]').click()")


def test_keys_create_and_revoke(signed_in: Browser) -> None:
    b = signed_in
    b.go("keys")
    before = len(b.wait(lambda: b.find_all("#key-list li"), what="keys"))
    b.find("#key-name").send_keys("laptop")
    b.find("#key-form button").click()
    b.wait(lambda: b.visible("#key-new"), what="the new key")
    assert b.find("#key-new-value").get_attribute("value").startswith("fc_")
    b.wait(lambda: len(b.find_all("#key-list li")) == before + 1, what="the listed key")
    row = next(li for li in b.find_all("#key-list li") if "laptop" in li.text)
    assert "fc_" in row.text and "…" in row.text  # the prefix only
    row.find_element("css selector", "button").click()
    b.driver.switch_to.alert.accept()
    b.wait(
        lambda: "revoked" in next(li for li in b.find_all("#key-list li") if "laptop" in li.text).text,
        what="the revoked key",
    )


def test_docs_and_redoc_render_offline(browser: Browser, server: Server) -> None:
    browser.requested_hosts()  # forget earlier pages' requests
    browser.open(server.url + "/docs")
    browser.wait(lambda: len(browser.find_all(".opblock")) > 20, what="Swagger UI's operations")
    assert browser.find_all(".opblock-tag")
    browser.screenshots("docs")
    browser.open(server.url + "/redoc")
    browser.wait(lambda: len(browser.find_all("[data-section-id]")) > 20, timeout=60, what="ReDoc's sections")
    browser.screenshots("redoc")
    hosts = browser.requested_hosts()
    assert hosts == {f"127.0.0.1:{server.port}"}, hosts
