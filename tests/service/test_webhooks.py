"""Webhooks for real: a server with its outbox, a receiver listening on 127.0.0.1, signatures
checked with the Standard Webhooks reference library, retries, the delivery log, the CLI, and the
refusal of private addresses when they are not allowed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.service.harness import Server, run_cli, speech_wav, wait_for, wait_miraflow, wait_mirage


class Receiver:
    """An HTTP endpoint that records what it is sent; it answers ``fail_first`` requests with 500
    (or ``answer`` for every one), then 204."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = 0
        self.answer: int | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                owner.received.append(
                    {"headers": dict(self.headers.items()), "body": body, "path": self.path}
                )
                if owner.answer is not None:
                    status = owner.answer
                elif len(owner.received) <= owner.fail_first:
                    status = 500
                else:
                    status = 204
                self.send_response(status)
                if status == 302:
                    self.send_header("location", f"http://127.0.0.1:{owner.port}/elsewhere")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self, path: str = "/hooks") -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received if r["path"] == path]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("hooks") / "data",
        FACECAST_WEBHOOK_ALLOW_PRIVATE="1",
        FACECAST_WEBHOOK_RETRY_SCALE="0.02",
        FACECAST_CAPTION_PREVIEWS="false",
    )
    srv.env["FACECAST_PUBLIC_URL"] = srv.url  # share links in webhook payloads need it
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _verified(secret: str, request: dict[str, Any]) -> dict[str, Any]:
    """The payload, after the reference library checked its signature (raises otherwise)."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    result: dict[str, Any] = Webhook(secret).verify(request["body"], headers)
    return result


def test_miraflow_and_mirage_events_are_signed_and_carry_the_dialects_object(
    hooked: Server, receiver: Receiver, png: bytes
) -> None:
    with hooked.client(hooked.default_key) as api:
        made = api.post("/api/webhooks", json={"url": receiver.url, "events": ["video.completed"]})
        assert made.status_code == 200, made.text
        endpoint = made.json()
        assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == ["video.completed"]
        listed = api.get("/api/webhooks").json()
        assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
        mirage_url = receiver.url.replace("/hooks", "/mirage")
        mirage_hook = api.post("/v1/webhooks", json={"url": mirage_url}).json()

        job = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Call me back."}).json()[
            "jobId"
        ]
        files = {"image_reference": ("p.png", png), "audio_reference": ("a.wav", speech_wav(1.0))}
        video = api.post("/v1/videos", files=files).json()["id"]
        assert wait_miraflow(api, job)["status"] == "inference_complete"
        assert wait_mirage(api, video)["status"] == "COMPLETE"

        wait_for(
            lambda: any(e["data"].get("jobId") == job for e in receiver.events()), what="the Miraflow event"
        )
        request = next(r for r in receiver.received if json.loads(r["body"])["data"].get("jobId") == job)
        payload = _verified(endpoint["secret"], request)
        assert payload["type"] == "video.completed"
        assert payload["data"] == {"jobId": job, **api.get(f"/api/video/{job}/status").json()}
        assert request["headers"]["webhook-id"].startswith("msg_")
        with pytest.raises(Exception):  # noqa: B017 - the reference library's own error type
            _verified(mirage_hook["secret"], request)  # another endpoint's secret does not verify

        # the Mirage endpoint (all events) gets the Mirage Video object of its video
        wait_for(lambda: any(e["data"].get("id") == video for e in receiver.events("/mirage")), what="Mirage")
        mirage_request = next(
            r
            for r in receiver.received
            if r["path"] == "/mirage" and json.loads(r["body"])["data"].get("id") == video
        )
        got = _verified(mirage_hook["secret"], mirage_request)
        assert got["type"] == "video.completed"
        assert got["data"] == api.get(f"/v1/videos/{video}").json()

        log = api.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()
        # both videos of the account, each delivered once
        assert (
            sorted((d["event"], d["status"], d["attempts"]) for d in log)
            == [("video.completed", "delivered", 1)] * 2
        )
        assert {d["subject_id"] for d in log} == {job, _job_of(hooked, video)}
        assert api.delete(f"/v1/webhooks/{mirage_hook['id']}").status_code == 200
        assert api.delete(f"/api/webhooks/{endpoint['id']}").status_code == 200
        assert api.get("/api/webhooks").json() == []


def test_failed_attempts_are_retried_with_the_same_id(hooked: Server, receiver: Receiver) -> None:
    receiver.received.clear()
    receiver.fail_first = 2
    url = receiver.url.replace("/hooks", "/retry")
    with hooked.client(hooked.default_key) as api:
        endpoint = api.post("/api/webhooks", json={"url": url, "events": ["video.cancelled"]}).json()
        job = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Never mind " * 20}).json()
        api.post(f"/api/video/{job['jobId']}/cancel")
        wait_for(lambda: len(receiver.events("/retry")) >= 3, timeout=60, what="three attempts")
        ids = {r["headers"]["webhook-id"] for r in receiver.received if r["path"] == "/retry"}
        assert len(ids) == 1  # one message, delivered at least once
        for request in receiver.received:
            assert _verified(endpoint["secret"], request)["type"] == "video.cancelled"

        def delivered() -> Any:
            log = api.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()
            return log if log and log[0]["status"] == "delivered" else None

        log = wait_for(delivered, timeout=30, what="delivered")
        assert log[0]["attempts"] == 3 and log[0]["last_status_code"] == 204
        api.delete(f"/api/webhooks/{endpoint['id']}")
    receiver.fail_first = 0


def test_redirects_are_not_followed(hooked: Server, receiver: Receiver) -> None:
    receiver.received.clear()
    receiver.answer = 302
    try:
        url = receiver.url.replace("/hooks", "/moved")
        with hooked.client(hooked.default_key) as api:
            endpoint = api.post("/api/webhooks", json={"url": url, "events": ["video.cancelled"]}).json()
            job = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Moved " * 30}).json()
            api.post(f"/api/video/{job['jobId']}/cancel")

            def retried() -> Any:
                log = api.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()
                return log if log and log[0]["attempts"] >= 1 else None

            log = wait_for(retried, timeout=30, what="an attempt")
            assert log[0]["status"] != "delivered" and log[0]["last_status_code"] == 302
            assert not receiver.events("/elsewhere")
            api.delete(f"/api/webhooks/{endpoint['id']}")
    finally:
        receiver.answer = None


def test_a_restart_loses_no_event(hooked: Server, receiver: Receiver) -> None:
    """An event still undelivered when the server stops is sent after it starts again."""
    receiver.received.clear()
    receiver.answer = 503
    url = receiver.url.replace("/hooks", "/durable")
    with hooked.client(hooked.default_key) as api:
        endpoint = api.post("/api/webhooks", json={"url": url, "events": ["video.cancelled"]}).json()
        job = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Later " * 30}).json()
        api.post(f"/api/video/{job['jobId']}/cancel")
        wait_for(lambda: receiver.events("/durable"), timeout=30, what="a first attempt")
    hooked.stop()
    receiver.answer = None
    first = len(receiver.events("/durable"))
    hooked.log_path.write_text("")  # start() waits for a new "listening" line
    hooked.start()
    with hooked.client(hooked.default_key) as api:

        def delivered() -> Any:
            log = api.get(f"/api/webhooks/{endpoint['id']}/deliveries").json()
            return log if log and log[0]["status"] == "delivered" else None

        log = wait_for(delivered, timeout=60, what="delivered after the restart")
        assert log[0]["attempts"] > first >= 1
        assert log[0]["subject_id"] == job["jobId"]
        api.delete(f"/api/webhooks/{endpoint['id']}")


def test_cli_add_list_remove(hooked: Server, receiver: Receiver) -> None:
    added = run_cli(
        hooked.env,
        "webhooks",
        "add",
        "--account",
        "default",
        "--url",
        receiver.url,
        "--events",
        "avatar.ready",
    )
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    listed = run_cli(hooked.env, "webhooks", "list", "--account", "default")
    assert receiver.url in listed.stdout and secret not in listed.stdout
    endpoint_id = next(line.split()[0] for line in listed.stdout.splitlines() if "avatar.ready" in line)
    bad = run_cli(
        hooked.env, "webhooks", "add", "--account", "default", "--url", receiver.url, "--events", "video.done"
    )
    assert (
        bad.returncode != 0
        and bad.stderr.strip().startswith("facecast: error:")
        and "video.done" in bad.stderr
    )
    removed = run_cli(hooked.env, "webhooks", "remove", endpoint_id)
    assert removed.returncode == 0, removed.stderr
    assert endpoint_id not in run_cli(hooked.env, "webhooks", "list").stdout


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
    ],
)
def test_private_and_odd_urls_are_refused(server: Server, key: str, url: str) -> None:
    """The session server runs without FACECAST_WEBHOOK_ALLOW_PRIVATE."""
    with server.client(key) as api:
        miraflow = api.post("/api/webhooks", json={"url": url})
        assert miraflow.status_code == 400, miraflow.text
        assert miraflow.json()["result"] == "failure" and "url" in miraflow.json()["error"]
        mirage = api.post("/v1/webhooks", json={"url": url})
        assert mirage.status_code in (400, 422), mirage.text
        assert api.get("/v1/webhooks").json() == []


def test_unknown_events_are_named(server: Server, key: str) -> None:
    with server.client(key) as api:
        answer = api.post("/v1/webhooks", json={"url": "https://example.com/x", "events": ["video.done"]})
        assert answer.status_code in (400, 422) and "video.done" in answer.text


def _job_of(srv: Server, video_id: str) -> str:
    import sqlite3

    with sqlite3.connect(srv.data_dir / "facecast.db") as db:
        return str(db.execute("select id from jobs where video_id = ?", (video_id,)).fetchone()[0])
