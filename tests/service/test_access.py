"""Keys, account isolation, rate limits, upload limits and the OpenAPI document, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.harness import Server, run_cli, wait_miraflow, wait_mirage


def test_missing_or_wrong_keys_get_401_in_each_dialects_shape(server: Server, key: str) -> None:
    with server.client() as anonymous:
        for path in ("/api/avatars", "/api/video/x/status", "/api/videos"):
            response = anonymous.get(path)
            assert response.status_code == 401
            assert response.json()["result"] == "failure" and "API key" in response.json()["error"]
        response = anonymous.get("/v1/videos")
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        wrong = {"x-api-key": "fc_wrong"}
        assert anonymous.get("/api/voices", headers=wrong).json() == {
            "result": "failure",
            "error": "Invalid API key",
        }
        assert anonymous.get("/v1/videos", headers={"Authorization": "Bearer fc_wrong"}).status_code == 401
        assert anonymous.get("/v1/videos", headers={"Authorization": f"Basic {key}"}).status_code == 401
        assert anonymous.get("/api/avatars", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert anonymous.get("/v1/videos", headers={"x-api-key": key}).status_code == 200
        assert anonymous.get("/healthz").json()["status"] == "ok"


def test_a_request_body_is_read_only_for_a_valid_key(server: Server) -> None:
    """No key, or a wrong one, is a 401 before the body is looked at (let alone parsed or spooled)."""
    with server.client() as anonymous:
        for headers in ({}, {"x-api-key": "fc_wrong"}, {"Authorization": "Bearer fc_wrong"}):
            not_json = anonymous.post(
                "/api/video/create",
                content=b"{not json",
                headers={"content-type": "application/json", **headers},
            )
            assert not_json.status_code == 401 and not_json.json()["result"] == "failure", not_json.text
            assert not_json.headers["www-authenticate"] == "Bearer"
            empty = anonymous.post("/v1/videos", headers=headers)
            assert empty.status_code == 401 and empty.json()["error"]["code"] == "unauthorized", empty.text


def test_json_bodies_are_limited_to_what_a_json_request_needs(api: httpx.Client) -> None:
    """The session server accepts 6 MB uploads; a JSON request is refused past 1 MiB."""
    padding = "x" * (1024 * 1024)
    declared = api.post("/api/video/create", json={"avatarId": "nope", "text": "hi", "padding": padding})
    assert declared.status_code == 413 and declared.json()["result"] == "failure", declared.text[:200]
    chunked = api.post(
        "/api/speech/create",
        content=iter([b'{"voiceId": "nope", "text": "hi", "padding": "', padding.encode(), b'"}']),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413 and chunked.json()["result"] == "failure", chunked.text[:200]


def test_keys_command_create_list_revoke(server: Server) -> None:
    blank = run_cli(server.env, "keys", "create", "--account", "  ")
    assert blank.returncode == 2 and "account name" in blank.stderr and "Traceback" not in blank.stderr
    created = run_cli(server.env, "keys", "create", "--account", "temp", "--name", "ci")
    assert created.returncode == 0
    new_key = created.stdout.strip().splitlines()[-1]
    assert new_key.startswith("fc_") and " " not in new_key
    listing = run_cli(server.env, "keys", "list", "--account", "temp").stdout
    assert new_key[:10] in listing and new_key not in listing and "active" in listing
    with server.client(new_key) as api:
        assert api.get("/api/avatars").status_code == 200
        revoked = run_cli(server.env, "keys", "revoke", new_key)
        assert revoked.returncode == 0, revoked.stderr
        assert api.get("/api/avatars").status_code == 401
    assert "revoked" in run_cli(server.env, "keys", "list", "--account", "temp").stdout
    missing = run_cli(server.env, "keys", "revoke", "fc_nothing")
    assert missing.returncode == 2 and "no key" in missing.stderr


def test_accounts_see_only_their_own_things(
    server: Server, key: str, other_key: str, png: bytes, wav: bytes
) -> None:
    with server.client(key) as alice, server.client(other_key) as bob:
        avatar = alice.post("/api/avatar/create", files={"image": ("a.png", png)}).json()["avatarId"]
        speech = alice.post(
            "/api/speech/create", json={"voiceId": "piper-en_US-joe-medium", "text": "Mine."}
        ).json()["speechId"]
        job = alice.post("/api/video/create", json={"avatarId": avatar, "speechId": speech}).json()["jobId"]
        video = wait_miraflow(alice, job)["videoId"]
        mirage = alice.post(
            "/v1/videos", files={"image_reference": ("p.png", png), "audio_reference": ("a.wav", wav)}
        ).json()["id"]
        assert wait_mirage(alice, mirage)["status"] == "COMPLETE"

        for method, path in [
            ("GET", f"/api/avatar/{avatar}"),
            ("DELETE", f"/api/avatar/{avatar}"),
            ("GET", f"/api/speech/{speech}"),
            ("GET", f"/api/video/{job}/status"),
            ("POST", f"/api/video/{job}/cancel"),
            ("GET", f"/api/video/{video}"),
            ("GET", f"/api/video/{video}/download"),
            ("DELETE", f"/api/video/{video}"),
            ("GET", f"/v1/videos/{mirage}"),
            ("GET", f"/v1/videos/{mirage}/content"),
            ("POST", f"/v1/videos/{mirage}/cancel"),
        ]:
            response = bob.request(method, path)
            assert response.status_code == 404, (method, path, response.text)
            # exactly what an id that never existed gets: nothing tells them it is someone else's
            unknown = path.replace(avatar, "c" * 25).replace(speech, "c" * 25).replace(job, "c" * 25)
            unknown = unknown.replace(video, "video_" + "0" * 20).replace(mirage, "video_" + "0" * 20)
            expected = bob.request(method, unknown).text
            assert response.text == expected.replace("c" * 25, path.split("/")[3]).replace(
                "video_" + "0" * 20, path.split("/")[3]
            )
        assert bob.post("/api/video/create", json={"avatarId": avatar, "text": "hi"}).status_code == 404
        assert (
            bob.post("/api/video/create", json={"avatarId": "astronaut", "speechId": speech}).status_code
            == 404
        )
        assert avatar not in {a["id"] for a in bob.get("/api/avatars").json()["avatars"]}
        assert "astronaut" in {
            a["id"] for a in bob.get("/api/avatars").json()["avatars"]
        }  # stock: everyone's
        assert video not in {v["id"] for v in bob.get("/api/videos").json()["videos"]}
        assert mirage not in {v["id"] for v in bob.get("/v1/videos").json()}
        assert speech not in {s["id"] for s in bob.get("/api/speeches").json()["speeches"]}
        # and alice still has it all
        assert alice.get(f"/api/video/{video}").status_code == 200


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with tiny limits (no worker, no stock: it only answers requests)."""
    srv = Server(
        tmp_path_factory.mktemp("strict") / "data",
        no_worker=True,
        FACECAST_SEED_STOCK="false",
        FACECAST_RATE_LIMIT_PER_MINUTE="5",
        FACECAST_MAX_UPLOAD_BYTES="20000",
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_rate_limit_answers_429_with_retry_after(strict_server: Server) -> None:
    with (
        strict_server.client(strict_server.default_key) as api,
        strict_server.client(strict_server.key("b")) as other,
    ):
        statuses = [api.get("/api/voices").status_code for _ in range(5)]
        assert statuses == [200] * 5
        limited = api.get("/api/voices")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["result"] == "failure" and "Rate limit" in limited.json()["error"]
        mirage = api.get("/v1/videos")
        assert mirage.status_code == 429 and mirage.json()["error"]["code"] == "rate_limit_exceeded"
        assert other.get("/api/voices").status_code == 200  # per key


def test_uploads_over_the_limit_are_refused(strict_server: Server, png: bytes) -> None:
    with strict_server.client(strict_server.key("c")) as api:
        big = api.post(
            "/v1/videos", files={"image_reference": ("p.png", png), "audio_reference": ("a.wav", b"0" * 10)}
        )
        assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
        big = api.post("/api/avatar/create", files={"image": ("p.png", png)})
        assert big.status_code == 413 and big.json()["result"] == "failure"
        # no Content-Length (chunked): refused while streaming
        chunked = api.post(
            "/api/video/create",
            content=iter([b'{"text": "' + b"x" * 15000, b"y" * 15000 + b'"}']),
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 413 and "upload limit" in chunked.json()["error"]


def test_openapi_document_validates(server: Server, tmp_path: Path) -> None:
    document = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    try:
        from openapi_spec_validator import validate
    except ImportError:  # not a declared dependency: fall back to structural checks
        validate = None
    if validate is not None:
        validate(document)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in (
        "/api/avatars",
        "/api/voices",
        "/api/video/create",
        "/api/video/{jobId}/status",
        "/api/video/{videoId}/download",
        "/api/videos",
        "/api/video/{videoId}",
        "/v1/videos",
        "/v1/videos/{video_id}",
        "/v1/videos/{video_id}/content",
        "/v1/videos/{video_id}/cancel",
    ):
        assert path in paths, path
    schemes = document["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} >= {"apiKey", "http"}
    video = document["components"]["schemas"]["Video"]["properties"]
    assert {"id", "object", "status", "progress", "error", "video_id", "share_link_url"} <= set(video)
    for operations in paths.values():
        for operation in operations.values():
            assert operation.get("responses"), operation
